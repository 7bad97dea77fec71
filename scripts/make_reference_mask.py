"""The reference pool and the IN/OUT mask of the calibrated attacks' reference models (rule
reference_mask): its own artifact, as LiRA keeps its membership mask (deepleak/calibration.py)."""
import numpy as np
from deepleak import artifacts, calibration, splits


def main(dataset_path, splits_path, mask_out, *, references, population, train_size, seed):
    sets = splits.load(splits_path)
    n_records = len(artifacts.load_npz(dataset_path)["y"])
    drawn = calibration.reference_pool(sets, n_records, train_size, population, seed)
    mask = calibration.reference_mask(len(drawn["pool"]), references, seed + 1)
    member = np.isin(drawn["test"], sets["attack_test_members"])
    artifacts.save_npz(mask_out, {**drawn, "mask": mask, "test_member": member},
                       meta={"references": references, "train_size": train_size,
                             "population": int(len(drawn["population"])), "seed": seed})


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.dataset, snakemake.input.splits, snakemake.output.mask,
         **snakemake.params)
