"""Read a raw archive into the canonical arrays X, y and record where they came from
(rule prepare_dataset). Image datasets (deepleak/images.py) also store ``official_train``, which
records are the dataset's official training images."""
from pathlib import Path

from deepleak import artifacts, datasets, images


def main(archive, dataset_out, provenance_out, dataset, source):
    X, y, provenance = datasets.prepare(dataset, archive)
    standin = Path(f"{archive}.standin.json")
    if source == "synthetic" and standin.exists():
        provenance["standin"] = artifacts.load_json(standin)
    artifacts.save_npz(dataset_out, {"X": X, "y": y})
    artifacts.save_json(provenance_out, {"dataset": dataset, "source": source, **provenance})


def main_images(raw_files, dataset_out, provenance_out, dataset, source, data, subset, seed):
    raw_dir = Path(raw_files[0]).parents[len(Path(images.raw_files(data)[0]).parts) - 1]
    arrays, provenance = images.prepare(data, raw_dir, subset_sizes=subset, seed=seed)
    artifacts.save_npz(dataset_out, arrays)
    artifacts.save_json(provenance_out, {"dataset": dataset, "source": source, "subset_seed": seed,
                                         **provenance})


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    p = snakemake.params
    if images.is_image(p.data):
        main_images(list(snakemake.input.archive), snakemake.output.dataset,
                    snakemake.output.provenance, snakemake.wildcards.dataset, p.source, p.data,
                    p.subset, p.seed)
    else:
        main(snakemake.input.archive, snakemake.output.dataset, snakemake.output.provenance,
             snakemake.wildcards.dataset, p.source)
