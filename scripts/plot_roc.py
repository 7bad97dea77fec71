"""ROC curves, linear and log-log, of every attack on one dataset, each beside the loss and modified
entropy threshold baselines (rule roc_plots)."""
from deepleak import artifacts, metrics, plots, variants
from sklearn.metrics import auc as area

BASELINES_SHOWN = ("loss", "modified_entropy")


def curve(scores, member):
    fpr, tpr = metrics.roc(scores, member)
    return fpr, tpr, area(fpr, tpr)


def main(score_paths, baseline_path, provenance_path, pngs, *, dataset, attacks):
    base = artifacts.load_npz(baseline_path)
    source = "stand-in" if artifacts.load_json(provenance_path)["source"] == "synthetic" else "real"
    reference = {f"baseline: {b.replace('_', ' ')}": curve(base[b], base["member"])
                 for b in BASELINES_SHOWN}
    for attack, path, png in zip(attacks, score_paths, pngs):
        s = artifacts.load_npz(path)
        label = variants.variant_of(attack)[0].description.split(":")[0] + f" [{attack}]"
        curves = {label: curve(s["score"], s["member"]), **reference}
        plots.save(plots.roc_figure(curves, f"{dataset} ({source}): {attack}", highlight=label), png)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.scores, snakemake.input.baselines, snakemake.input.provenance,
         snakemake.output.png, dataset=snakemake.wildcards.dataset, **snakemake.params)
