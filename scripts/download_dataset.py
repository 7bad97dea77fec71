"""Put a real dataset's raw files under data/raw/<data>/, checksummed (rules fetch_<data>): from the
config's path, a copy already there, a system package or a download, in the order the dataset's
format tries them (deepleak/registry.py). A failure says which sources were tried and how to get
the files."""
import logging

from deepleak import registry


def main(data, raw_dir, path, digests=None):
    origin = registry.fetch(data, raw_dir, local_path=path, digests=digests)
    logging.getLogger("fetch").info("%s raw files: %s", data, origin)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(**snakemake.params)
