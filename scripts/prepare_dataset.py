"""Read a raw archive into the canonical arrays X, y and record where they came from
(rule prepare_dataset)."""
from pathlib import Path

from deepleak import datasets, artifacts


def main(archive, dataset_out, provenance_out, dataset, source):
    X, y, provenance = datasets.prepare(dataset, archive)
    standin = Path(f"{archive}.standin.json")
    if source == "synthetic" and standin.exists():
        provenance["standin"] = artifacts.load_json(standin)
    artifacts.save_npz(dataset_out, {"X": X, "y": y})
    artifacts.save_json(provenance_out, {"dataset": dataset, "source": source, **provenance})


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.archive, snakemake.output.dataset, snakemake.output.provenance,
         snakemake.wildcards.dataset, snakemake.params.source)
