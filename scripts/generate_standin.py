"""Generate an offline stand-in archive in the real on-disk format (rule generate_standin)."""
from deepleak import datasets, artifacts


def main(dest, summary_out, dataset, standin, seed):
    summary = datasets.generate_standin(dataset, dest, n_records=standin["n_records"], seed=seed,
                                        **standin.get("params", {}))
    artifacts.save_json(summary_out, {"dataset": dataset, "seed": seed, **summary})


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.output.archive, snakemake.output.summary, snakemake.wildcards.dataset,
         snakemake.params.standin, snakemake.params.seed)
