"""Figure 4: histograms of last-layer gradient norms of members and non-members (rule figure4_plot),
on the attack test set of each dataset's target model."""
from deepleak import artifacts, features, plots, splits


def main(feature_paths, split_paths, provenance_paths, png, pdf, *, datasets):
    norms, titles = {}, {}
    for dataset, f_path, s_path, p_path in zip(datasets, feature_paths, split_paths,
                                               provenance_paths, strict=True):
        feats, meta = artifacts.load_npz(f_path), artifacts.load_npz_meta(f_path)
        sets = splits.load(s_path)
        key = f"grad_norm/{meta['layer_names'][-1]}"
        norms[dataset] = tuple(
            feats[key][features.rows_of(feats["records"], sets[name])]
            for name in ("attack_test_members", "attack_test_nonmembers"))
        source = "stand-in" if artifacts.load_json(p_path)["source"] == "synthetic" else "real"
        titles[dataset] = f"{dataset} ({source})"
    plots.save(plots.figure4(norms, titles), png, pdf)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.features, snakemake.input.splits, snakemake.input.provenance,
         snakemake.output.png, snakemake.output.pdf, **snakemake.params)
