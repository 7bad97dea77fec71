"""Figures 2 and 6: per-class leakage on each dataset's attack test set (rules figure2_plot and
figure6_plot). Figure 2 uses the last-layer gradient norm, Figure 6 the normalised prediction
entropy (Eq. 5); both show the attack's ROC on the classes with a small, medium and large
member / non-member gap (deepleak/perclass.py says how they are chosen)."""

import numpy as np
from deepleak import artifacts, baselines, features, perclass, plots, variants


def panel(feats, meta, scores, figure, min_per_class):
    rows = features.rows_of(feats["records"], scores["records"])
    labels, member = feats["label"][rows], scores["member"].astype(bool)
    if figure == "figure2":
        values = feats[f"grad_norm/{meta['layer_names'][-1]}"][rows]
    else:
        values = baselines.normalised_entropy(feats["logits"][rows])
    stats = perclass.class_means(values.astype(np.float64), labels, member, meta["n_classes"])
    chosen = perclass.gap_classes(stats, min_per_class)
    rocs = {
        size: (
            cls,
            float(stats["gap"][cls]),
            perclass.class_roc(scores["score"], member, labels, cls),
        )
        for size, cls in chosen.items()
    }
    return {"stats": stats, "rocs": rocs}


def main(
    feature_paths,
    score_paths,
    provenance_paths,
    png,
    pdf,
    *,
    figure,
    datasets,
    attack,
    min_per_class,
):
    panels, titles = {}, {}
    for dataset, f_path, s_path, p_path in zip(
        datasets, feature_paths, score_paths, provenance_paths, strict=True
    ):
        p = panel(
            artifacts.load_npz(f_path),
            artifacts.load_npz_meta(f_path),
            artifacts.load_npz(s_path),
            figure,
            min_per_class,
        )
        panels[dataset] = {**p, "attack": variants.variant_of(attack)[0].description}
        source = "stand-in" if artifacts.load_json(p_path)["source"] == "synthetic" else "real"
        titles[dataset] = f"{dataset} ({source})"
    fig = plots.figure2(panels, titles) if figure == "figure2" else plots.figure6(panels, titles)
    plots.save(fig, png, pdf)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(
        snakemake.input.features,
        snakemake.input.scores,
        snakemake.input.provenance,
        snakemake.output.png,
        snakemake.output.pdf,
        **snakemake.params,
    )
