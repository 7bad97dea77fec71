# Stage 1: raw files (fetched and checksummed, or generated stand-ins in the same format) and the
# canonical arrays every later stage reads. Which files, formats and stand-ins: deepleak/registry.py.


# The real raw files: one job per data set the config reads (several entries may share one).
for _data in sorted({data_of(d) for d in config["datasets"] if dataset_cfg(d)["source"] == "real"}):
    _paths = sorted({dataset_cfg(d)["path"] for d in config["datasets"]
                     if data_of(d) == _data and dataset_cfg(d).get("path")})
    if len(_paths) > 1:
        raise ValueError(f"config: the datasets reading {_data} name different paths {_paths}; give one")

    rule:
        name:
            f"fetch_{_data}"
        output:
            registry.raw_files(_data, f"data/raw/{_data}"),
        log:
            f"logs/{_data}/fetch.log",
        params:
            data=_data,
            raw_dir=f"data/raw/{_data}",
            path=_paths[0] if _paths else None,
        script:
            "../../scripts/download_dataset.py"


# The offline stand-ins: one job per entry with source: synthetic (named after its data).
for _dataset in sorted(d for d in config["datasets"] if dataset_cfg(d)["source"] == "synthetic"):

    rule:
        name:
            f"generate_standin_{_dataset}"
        output:
            files=raw_files(_dataset),
            summary=f"{raw_dir(_dataset)}/standin.json",
        log:
            f"logs/{_dataset}/generate_standin.log",
        benchmark:
            f"benchmarks/{_dataset}/generate_standin.tsv"
        threads: 2
        params:
            dataset=_dataset,
            raw_dir=raw_dir(_dataset),
            standin=dataset_cfg(_dataset)["standin"],
            seed=artifact_seed(_dataset, "standin"),
        script:
            "../../scripts/generate_standin.py"


rule prepare_dataset:
    input:
        lambda wc: raw_files(wc.dataset),
    output:
        dataset="results/{dataset}/dataset.npz",
        provenance="results/{dataset}/provenance.json",
    log:
        "logs/{dataset}/prepare_dataset.log",
    params:
        data=lambda wc: data_of(wc.dataset),
        raw_dir=lambda wc: raw_dir(wc.dataset),
        source=lambda wc: dataset_cfg(wc.dataset)["source"],
        # Image datasets: an optional seeded subset (quick profiles).
        subset=lambda wc: dataset_cfg(wc.dataset).get("subset"),
        seed=lambda wc: artifact_seed(wc.dataset, "subset"),
    script:
        "../../scripts/prepare_dataset.py"


rule make_splits:
    input:
        dataset="results/{dataset}/dataset.npz",
    output:
        splits="results/{dataset}/standalone/{rep}/splits.npz",
    log:
        "logs/{dataset}/standalone/{rep}/make_splits.log",
    params:
        sizes=lambda wc: dataset_cfg(wc.dataset)["standalone"]["sizes"],
        validation_fraction=STANDALONE["validation_fraction"],
        seed=lambda wc: artifact_seed(wc.dataset, "standalone", wc.rep, "splits"),
        # Image datasets: may the shadow model's records overlap the target's (splits.py)?
        shadow_overlap=lambda wc: dataset_cfg(wc.dataset)["standalone"].get("shadow_overlap", False),
    script:
        "../../scripts/make_splits.py"
