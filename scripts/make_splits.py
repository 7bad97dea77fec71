"""Draw the stand-alone scenario's named, disjoint record sets (rule make_splits, Table II)."""
from deepleak import artifacts, splits

SIZES_KEY = "datasets.<dataset>.standalone.sizes"  # the config key error messages name


def main(dataset_path, splits_out, sizes, validation_fraction, seed, shadow_overlap=False):
    data = artifacts.load_npz(dataset_path)
    n = len(data["y"])
    if "official_train" in data:
        # Image datasets: members from the official training images, non-members from the test
        # images, as the paper's CIFAR-100 (§III-C).
        sets, disjoint = splits.official_standalone_splits(
            data["official_train"], sizes, validation_fraction, seed, key=SIZES_KEY,
            shadow_overlap=shadow_overlap)
    else:
        sets = splits.standalone_splits(n, sizes, validation_fraction, seed, key=SIZES_KEY)
        disjoint = splits.STANDALONE_DISJOINT
    splits.check_disjoint(sets, disjoint)
    splits.save(splits_out, sets, meta={"sizes": sizes, "validation_fraction": validation_fraction,
                                        "seed": seed, "n_records": n,
                                        "official_split": "official_train" in data,
                                        "disjoint_groups": disjoint})


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.dataset, snakemake.output.splits, snakemake.params.sizes,
         snakemake.params.validation_fraction, snakemake.params.seed,
         shadow_overlap=snakemake.params.shadow_overlap)
