"""Draw the fine-tuning scenario's disjoint record sets: D, D_delta, non-members and the attacker's
known, validation and test records of each (rule finetune_splits; Table IX)."""
from deepleak import artifacts, finetune


def main(dataset_path, splits_out, *, sizes, d_fraction, validation_fraction, seed):
    n = len(artifacts.load_npz(dataset_path)["y"])
    sets = finetune.finetune_splits(n, sizes, d_fraction, validation_fraction, seed)
    artifacts.save_npz(splits_out, sets, meta={"sizes": sizes, "d_fraction": d_fraction,
                                               "validation_fraction": validation_fraction,
                                               "seed": seed, "n_records": n})


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.dataset, snakemake.output.splits, **snakemake.params)
