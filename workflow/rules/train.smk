# Stage 2: the target model (trained on the members) and the shadow model (the attacker's own model of
# the same architecture on disjoint data, Shokri et al. 2017), with per-epoch history.


rule train_model:
    input:
        dataset="results/{dataset}/dataset.npz",
        splits="results/{dataset}/standalone/{rep}/splits.npz",
    output:
        model="results/{dataset}/standalone/{rep}/models/{model}/model.pt",
        meta="results/{dataset}/standalone/{rep}/models/{model}/meta.json",
        history="results/{dataset}/standalone/{rep}/models/{model}/history.csv",
    log:
        "logs/{dataset}/standalone/{rep}/train_{model}.log",
    benchmark:
        "benchmarks/{dataset}/standalone/{rep}/train_{model}.tsv"
    threads: config["threads"]
    resources:
        gpu=lambda wc: uses_gpu(wc.dataset),
    params:
        model_cfg=lambda wc: dataset_cfg(wc.dataset)["model"],
        train=lambda wc: dataset_cfg(wc.dataset)["train"],
        track_records=STANDALONE["track_records"],
        device=config["device"],
        seed=lambda wc: artifact_seed(wc.dataset, "standalone", wc.rep, wc.model),
    script:
        "../../scripts/train_model.py"
