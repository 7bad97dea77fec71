"""Download (or take from a local path) a real dataset archive and verify its checksums
(rule download_dataset). A failure says which URLs were tried and how to get the file."""
from deepleak import datasets


def main(dest, dataset, path):
    datasets.fetch_archive(dataset, dest, local_path=path)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.output[0], snakemake.wildcards.dataset, snakemake.params.path)
