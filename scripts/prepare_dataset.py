"""Read a dataset's raw files into the canonical arrays and record where they came from
(rule prepare_dataset). The registry (deepleak/registry.py) says which format reads them."""
from pathlib import Path

from deepleak import artifacts, registry


def main(dataset_out, provenance_out, dataset, data, raw_dir, source, subset, seed, digests=None):
    arrays, provenance = registry.prepare(data, raw_dir, subset=subset, seed=seed, digests=digests)
    standin = Path(raw_dir) / "standin.json"
    if source == "synthetic":
        provenance["standin"] = artifacts.load_json(standin)
    artifacts.save_npz(dataset_out, arrays)
    artifacts.save_json(provenance_out, {"dataset": dataset, "source": source, "subset_seed": seed,
                                         **provenance})


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.output.dataset, snakemake.output.provenance, snakemake.wildcards.dataset,
         **snakemake.params)
