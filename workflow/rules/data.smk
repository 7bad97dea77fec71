# Stage 1: raw archives (downloaded and checksummed, or generated stand-ins in the same format) and the
# canonical arrays every later stage reads.


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
        archive=r"[^/]+",
    log:
        "logs/{dataset}/download_{archive}.log",
    params:
        path=lambda wc: dataset_cfg(wc.dataset).get("path"),
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
    script:
        "../../scripts/make_splits.py"
