"""Figure 5: histograms of the unsupervised encoder's output for members and non-members, one panel
per dataset (rule figure5_plot), on the attack test set of each dataset's target model."""
from deepleak import artifacts, plots


def main(score_paths, provenance_paths, png, pdf, *, datasets):
    codes, titles = {}, {}
    for dataset, s_path, p_path in zip(datasets, score_paths, provenance_paths,
                                       strict=True):
        s = artifacts.load_npz(s_path)
        member = s["member"].astype(bool)
        codes[dataset] = (s["code"][member], s["code"][~member], float(s["threshold"]))
        source = "stand-in" if artifacts.load_json(p_path)["source"] == "synthetic" else "real"
        titles[dataset] = f"{dataset} ({source})"
    plots.save(plots.figure5(codes, titles), png, pdf)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.scores, snakemake.input.provenance, snakemake.output.png,
         snakemake.output.pdf, **snakemake.params)
