# Stage 3, features: what the attacker observes of a model on the records its attacks use (Fig. 1):
# logits, loss, label, every layer's output, and the per-example gradients of the last layers, stored
# as factors for linear layers (dL/dW = delta h_in^T, so n_in + n_out numbers instead of n_in x n_out).


rule extract_features:
    input:
        dataset="results/{dataset}/dataset.npz",
        splits="results/{dataset}/standalone/{rep}/splits.npz",
        model="results/{dataset}/standalone/{rep}/models/{model}/model.pt",
        meta="results/{dataset}/standalone/{rep}/models/{model}/meta.json",
    output:
        features="results/{dataset}/standalone/{rep}/features/{model}.npz",
    log:
        "logs/{dataset}/standalone/{rep}/features_{model}.log",
    benchmark:
        "benchmarks/{dataset}/standalone/{rep}/features_{model}.tsv"
    priority: PRIORITY["features"]
    threads: config["threads"]
    resources:
        **job_resources("extract_features"),
    params:
        gradient_layers=STANDALONE["gradient_layers"],
        # Image models (deepleak/cnn.py): how a conv layer's gradient is stored (the paper defines its
        # gradient component for dense layers only, Table XIV), the size above which a layer output is
        # stored as per-channel means, and batch sizes that bound memory (per dataset: a DenseNet-190
        # needs far smaller ones than AlexNet).
        conv_gradient=STANDALONE["conv_gradient"],
        max_output_features=STANDALONE["max_output_features"],
        batching=lambda wc: dataset_cfg(wc.dataset)["features"],
        device=config["device"],
    script:
        "../../scripts/extract_features.py"


# The fine-tuning scenario: the features of both snapshots, stacked (T = 2 observations).
rule finetune_features:
    input:
        dataset="results/{dataset}/dataset.npz",
        splits="results/{dataset}/finetune/{rep}/splits.npz",
        models=expand("results/{{dataset}}/finetune/{{rep}}/models/{snapshot}/model.pt",
                      snapshot=dl_finetune.SNAPSHOTS),
        metas=expand("results/{{dataset}}/finetune/{{rep}}/models/{snapshot}/meta.json",
                     snapshot=dl_finetune.SNAPSHOTS),
    output:
        features="results/{dataset}/finetune/{rep}/features/snapshots.npz",
    log:
        "logs/{dataset}/finetune/{rep}/features.log",
    benchmark:
        "benchmarks/{dataset}/finetune/{rep}/features.tsv"
    threads: config["threads"]
    resources:
        **job_resources("finetune_features"),
    params:
        gradient_layers=FINETUNE["gradient_layers"],
        device=config["device"],
    script:
        "../../scripts/extract_finetune_features.py"


# ---- Calibrated attacks (LiRA, RMIA): the target's statistics ------------------------------------
# The target's logit-scaled confidence, loss and per-layer gradient norms on the records the
# reference models are summarised on (deepleak/calibration.py model_statistics).
rule target_statistics:
    input:
        dataset="results/{dataset}/dataset.npz",
        mask="results/{dataset}/standalone/{rep}/calibration/mask.npz",
        model="results/{dataset}/standalone/{rep}/models/target/model.pt",
        meta="results/{dataset}/standalone/{rep}/models/target/meta.json",
    output:
        statistics="results/{dataset}/standalone/{rep}/calibration/target.npz",
    log:
        "logs/{dataset}/standalone/{rep}/target_statistics.log",
    benchmark:
        "benchmarks/{dataset}/standalone/{rep}/target_statistics.tsv"
    threads: config["threads"]
    resources:
        **job_resources("target_statistics"),
    params:
        batching=lambda wc: dataset_cfg(wc.dataset)["features"],
        device=config["device"],
    script:
        "../../scripts/target_statistics.py"
# ---- end of the calibrated attacks' block ---------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# DP-SGD targets (beyond the paper): the same features of each DP target, on the same records
# (scripts/extract_features.py, as for the stand-alone target).
# --------------------------------------------------------------------------------------------------
rule dp_features:
    input:
        dataset="results/{dataset}/dataset.npz",
        splits="results/{dataset}/standalone/{rep}/splits.npz",
        model="results/{dataset}/dp/{rep}/models/{level}/model.pt",
        meta="results/{dataset}/dp/{rep}/models/{level}/meta.json",
    output:
        features="results/{dataset}/dp/{rep}/features/{level}.npz",
    wildcard_constraints:
        level="|".join(map(re.escape, DP_LEVELS)),
    log:
        "logs/{dataset}/dp/{rep}/features_{level}.log",
    benchmark:
        "benchmarks/{dataset}/dp/{rep}/features_{level}.tsv"
    threads: config["threads"]
    resources:
        **job_resources("dp_features"),
    params:
        gradient_layers=STANDALONE["gradient_layers"],
        conv_gradient=STANDALONE["conv_gradient"],
        max_output_features=STANDALONE["max_output_features"],
        batching=lambda wc: dataset_cfg(wc.dataset)["features"],
        device=config["device"],
    script:
        "../../scripts/extract_dp_features.py"


# LiRA on the DP targets: each DP target's statistics on the records its reference models were
# summarised on (scripts/target_statistics.py, as for the stand-alone target).
rule dp_target_statistics:
    input:
        dataset="results/{dataset}/dataset.npz",
        mask="results/{dataset}/dp/{rep}/calibration/mask.npz",
        model="results/{dataset}/dp/{rep}/models/{level}/model.pt",
        meta="results/{dataset}/dp/{rep}/models/{level}/meta.json",
    output:
        statistics="results/{dataset}/dp/{rep}/calibration/{level}/target.npz",
    wildcard_constraints:
        level="|".join(map(re.escape, DP_LEVELS)),
    log:
        "logs/{dataset}/dp/{rep}/target_statistics_{level}.log",
    benchmark:
        "benchmarks/{dataset}/dp/{rep}/target_statistics_{level}.tsv"
    threads: config["threads"]
    resources:
        **job_resources("dp_target_statistics"),
    params:
        batching=lambda wc: dataset_cfg(wc.dataset)["features"],
        device=config["device"],
    script:
        "../../scripts/target_statistics.py"
