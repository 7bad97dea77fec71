"""Read a dataset's raw files into the canonical arrays and record where they came from
(rule prepare_dataset). The registry (deepleak/registry.py) says which format reads them."""
from pathlib import Path

from deepleak import artifacts, files, registry


def check_standin(standin_json: Path) -> dict:
    """The stand-in's summary, once its archive is checked against the digest recorded when it was
    generated (a real archive is checked against its published digests by registry.prepare)."""
    summary = artifacts.load_json(standin_json)
    archive = Path(summary["path"])
    digest = files.sha256(archive)
    if "sha256" in summary and digest != summary["sha256"]:
        raise registry.ChecksumError(
            f"{archive} is not the stand-in that was generated (sha256 {digest}, {standin_json} "
            f"recorded {summary['sha256']}): it was truncated, damaged or replaced since. Delete "
            f"{standin_json.parent} and rerun: the rule generate_standin_<dataset> makes it again.")
    return summary


def main(dataset_out, provenance_out, dataset, data, raw_dir, source, subset, seed, digests=None):
    standin = check_standin(Path(raw_dir) / "standin.json") if source == "synthetic" else None
    arrays, provenance = registry.prepare(data, raw_dir, subset=subset, seed=seed, digests=digests)
    if standin is not None:
        provenance["standin"] = standin
    artifacts.save_npz(dataset_out, arrays)
    artifacts.save_json(provenance_out, {"dataset": dataset, "source": source, "subset_seed": seed,
                                         **provenance})


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.output.dataset, snakemake.output.provenance, snakemake.wildcards.dataset,
         **snakemake.params)
