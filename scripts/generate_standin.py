"""Generate an offline stand-in in the dataset's real on-disk format (rule generate_standin)."""
from deepleak import artifacts, registry


def main(summary_out, dataset, raw_dir, standin, seed):
    summary = registry.generate_standin(dataset, raw_dir, n_records=standin["n_records"],
                                        seed=seed, **standin["params"])
    artifacts.save_json(summary_out, summary)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.output.summary, **snakemake.params)
