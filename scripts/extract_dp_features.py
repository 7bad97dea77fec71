"""Attack features of a DP-SGD target on the stand-alone target's attack records (rule
dp_features): scripts/extract_features.py's main, for a target."""
from extract_features import main

if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.dataset, snakemake.input.splits, snakemake.input.model,
         snakemake.input.meta, snakemake.output.features, model="target", **snakemake.params)
