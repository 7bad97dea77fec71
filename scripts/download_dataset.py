"""Download (or take from a local path) a real dataset archive and verify its checksums
(rule download_dataset), or fetch the raw files of an image dataset (rules fetch_<data>:
Fashion-MNIST from data/raw, the config's path, Debian's package or torchvision; CIFAR-100 from the
config's path or torchvision). A failure says which sources were tried and how to get the files."""
import logging
from pathlib import Path

from deepleak import datasets, images


def main(dest, dataset, path):
    datasets.fetch_archive(dataset, dest, local_path=path)


def main_images(outputs, data, path):
    raw_dir = Path(outputs[0]).parents[len(Path(images.raw_files(data)[0]).parts) - 1]
    origin = images.fetch(data, raw_dir, local_path=path)
    logging.getLogger("fetch").info("%s raw files: %s", data, origin)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    if "data" in snakemake.params.keys():
        main_images(list(snakemake.output), snakemake.params.data, snakemake.params.path)
    else:
        main(snakemake.output[0], snakemake.wildcards.dataset, snakemake.params.path)
