"""Draw the stand-alone scenario's named, disjoint record sets (rule make_splits, Table II)."""
from deepleak import artifacts, splits


def main(dataset_path, splits_out, sizes, validation_fraction, seed):
    n = len(artifacts.load_npz(dataset_path)["y"])
    sets = splits.standalone_splits(n, sizes, validation_fraction, seed, key="standalone.sizes")
    splits.check_disjoint(sets, splits.STANDALONE_DISJOINT)
    splits.save(splits_out, sets, meta={"sizes": sizes, "validation_fraction": validation_fraction,
                                        "seed": seed, "n_records": n})


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.dataset, snakemake.output.splits, snakemake.params.sizes,
         snakemake.params.validation_fraction, snakemake.params.seed)
