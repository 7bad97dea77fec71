# Stage 1, data and splits: raw files (fetched and checksummed, or generated stand-ins in the same
# format; which files, formats and stand-ins: deepleak/registry.py), the canonical arrays every later
# stage reads, and each scenario's named, disjoint record sets (the splits artifact: which records are
# members, non-members, known to the attacker, ...).


# The real raw files: one job per data set the config reads (several entries may share one).
for _data in sorted({data_of(d) for d in USED_DATASETS if dataset_cfg(d)["source"] == "real"}):
    _paths = sorted({dataset_cfg(d)["path"] for d in USED_DATASETS
                     if data_of(d) == _data and dataset_cfg(d)["path"]})

    rule:
        name:
            f"fetch_{_data}"
        output:
            registry.raw_files(_data, f"data/raw/{_data}"),
        log:
            f"logs/{_data}/fetch.log",
        benchmark:
            f"benchmarks/{_data}/fetch.tsv",
        priority: PRIORITY["data"]
        threads: 1
        resources:
            **job_resources(f"fetch_{_data}"),
        params:
            data=_data,
            raw_dir=f"data/raw/{_data}",
            path=_paths[0] if _paths else None,
            digests=data_digests(data_reader(_data)),
        script:
            "../../scripts/download_dataset.py"


# The offline stand-ins: one job per data set some entry reads with source: synthetic, configured by
# the entry named after it.
for _dataset in sorted({data_of(d) for d in USED_DATASETS
                        if dataset_cfg(d)["source"] == "synthetic"}):

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
        priority: PRIORITY["data"]
        threads: 2
        resources:
            **job_resources(f"generate_standin_{_dataset}"),
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
    benchmark:
        "benchmarks/{dataset}/prepare_dataset.tsv",
    priority: PRIORITY["data"]
    threads: 1
    resources:
        **job_resources("prepare_dataset"),
    params:
        data=lambda wc: data_of(wc.dataset),
        raw_dir=lambda wc: raw_dir(wc.dataset),
        source=lambda wc: dataset_cfg(wc.dataset)["source"],
        # Image datasets: an optional seeded subset (quick profiles).
        subset=lambda wc: dataset_cfg(wc.dataset)["subset"],
        seed=lambda wc: artifact_seed(wc.dataset, "subset"),
        digests=lambda wc: data_digests(wc.dataset),
    script:
        "../../scripts/prepare_dataset.py"


# The stand-alone scenario (§IV-A, Table II): target, shadow and attack sets.
rule make_splits:
    input:
        dataset="results/{dataset}/dataset.npz",
    output:
        splits="results/{dataset}/standalone/{rep}/splits.npz",
    log:
        "logs/{dataset}/standalone/{rep}/make_splits.log",
    benchmark:
        "benchmarks/{dataset}/standalone/{rep}/make_splits.tsv",
    priority: PRIORITY["data"]
    threads: 1
    resources:
        **job_resources("make_splits"),
    params:
        sizes=lambda wc: dataset_cfg(wc.dataset)["standalone"]["sizes"],
        validation_fraction=STANDALONE["validation_fraction"],
        seed=lambda wc: artifact_seed(wc.dataset, "standalone", wc.rep, "splits"),
        # Image datasets: may the shadow model's records overlap the target's (splits.py)?
        shadow_overlap=lambda wc: dataset_cfg(wc.dataset)["standalone"]["shadow_overlap"],
    script:
        "../../scripts/make_splits.py"


# The fine-tuning scenario (Table IX): D, D_delta, the non-members D-bar, and the attacker's known and
# test records of each.
rule finetune_splits:
    input:
        dataset="results/{dataset}/dataset.npz",
    output:
        splits="results/{dataset}/finetune/{rep}/splits.npz",
    log:
        "logs/{dataset}/finetune/{rep}/splits.log",
    benchmark:
        "benchmarks/{dataset}/finetune/{rep}/splits.tsv",
    threads: 1
    resources:
        **job_resources("finetune_splits"),
    params:
        sizes=lambda wc: FINETUNE["sizes"][wc.dataset],
        d_fraction=FINETUNE["d_fraction"],
        validation_fraction=FINETUNE["validation_fraction"],
        seed=lambda wc: artifact_seed(wc.dataset, "finetune", wc.rep, "splits"),
    script:
        "../../scripts/make_finetune_splits.py"


# The federated scenario (Table XI): each party's data, the attacker's known and test records.
rule federated_split:
    input:
        dataset="results/{dataset}/dataset.npz",
    output:
        splits="results/{dataset}/federated/{rep}/splits.npz",
    log:
        "logs/{dataset}/federated/{rep}/split.log",
    benchmark:
        "benchmarks/{dataset}/federated/{rep}/split.tsv",
    threads: 1
    resources:
        **job_resources("federated_split"),
    params:
        sizes=lambda wc: federated_cfg(wc.dataset)["sizes"],
        parties=FEDERATED["parties"],
        party_sweep=lambda wc: federated_party_sweep(wc.dataset),
        validation_fraction=FEDERATED["validation_fraction"],
        overlapping=lambda wc: dl_runs.overlapping(FEDERATED, wc.dataset),
        seed=lambda wc: artifact_seed(wc.dataset, "federated", wc.rep, "splits"),
    script:
        "../../scripts/make_federated_splits.py"
