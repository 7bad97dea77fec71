# Stage 1, data and splits: raw archives (downloaded and checksummed, or generated stand-ins in the same
# format), the canonical arrays every later stage reads, and each scenario's named, disjoint record sets
# (the splits artifact: which records are members, non-members, known to the attacker, ...).


rule generate_standin:
    output:
        archive="data/raw/{dataset}/synthetic/{archive}",
        summary="data/raw/{dataset}/synthetic/{archive}.standin.json",
    log:
        "logs/{dataset}/generate_standin_{archive}.log",
    benchmark:
        "benchmarks/{dataset}/generate_standin_{archive}.tsv"
    threads: 2
    params:
        standin=lambda wc: dataset_cfg(wc.dataset)["standin"],
        seed=lambda wc: artifact_seed(wc.dataset, "standin"),
    script:
        "../../scripts/generate_standin.py"


rule download_dataset:
    output:
        "data/raw/{dataset}/{archive}",
    wildcard_constraints:
        archive="|".join(re.escape(s.archive) for s in dl_datasets.SOURCES.values()),
    log:
        "logs/{dataset}/download_{archive}.log",
    params:
        path=lambda wc: dataset_cfg(wc.dataset)["path"],
    script:
        "../../scripts/download_dataset.py"


# The image datasets' raw files (deepleak/images.py): one job per data set a config uses, since each has
# several files (Fashion-MNIST's four IDX files, CIFAR-100's train/test/meta) under data/raw/<data>/.
for _data in sorted({data_of(d) for d in config["datasets"] if is_image(d)}):
    _paths = sorted({dataset_cfg(d)["path"] for d in config["datasets"]
                     if data_of(d) == _data and dataset_cfg(d)["path"]})

    rule:
        name:
            f"fetch_{_data}"
        output:
            [f"data/raw/{_data}/{f}" for f in dl_images.raw_files(_data)],
        log:
            f"logs/{_data}/fetch.log",
        params:
            data=_data,
            path=_paths[0] if _paths else None,
        script:
            "../../scripts/download_dataset.py"


rule prepare_dataset:
    input:
        archive=lambda wc: raw_archive(wc.dataset),
    output:
        dataset="results/{dataset}/dataset.npz",
        provenance="results/{dataset}/provenance.json",
    log:
        "logs/{dataset}/prepare_dataset.log",
    params:
        source=lambda wc: dataset_cfg(wc.dataset)["source"],
        # Image datasets: which data, and an optional seeded subset of it (quick profiles).
        data=lambda wc: data_of(wc.dataset),
        subset=lambda wc: dataset_cfg(wc.dataset)["subset"],
        seed=lambda wc: artifact_seed(wc.dataset, "subset"),
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
    params:
        sizes=lambda wc: federated_cfg(wc.dataset)["sizes"],
        parties=FEDERATED["parties"],
        party_sweep=lambda wc: federated_party_sweep(wc.dataset),
        validation_fraction=FEDERATED["validation_fraction"],
        overlapping=FEDERATED["overlapping"],
        seed=lambda wc: artifact_seed(wc.dataset, "federated", wc.rep, "splits"),
    script:
        "../../scripts/make_federated_splits.py"
