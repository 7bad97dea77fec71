# Stage 2, training: the stand-alone target model (trained on the members) and shadow model (the
# attacker's own model of the same architecture on disjoint data, Shokri et al. 2017), and the
# fine-tuning scenario's two snapshots, each with its per-epoch history. The federated simulations train
# and observe in one job (federated.smk).


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
    priority: PRIORITY["train"]
    threads: config["threads"]
    resources:
        **job_resources("train_model"),
    params:
        model_cfg=lambda wc: dataset_cfg(wc.dataset)["model"],
        train=lambda wc: dataset_cfg(wc.dataset)["train"],
        track_records=STANDALONE["track_records"],
        evaluate_every=config["evaluate_every"],
        device=config["device"],
        seed=lambda wc: artifact_seed(wc.dataset, "standalone", wc.rep, wc.model),
    script:
        "../../scripts/train_model.py"


# The fine-tuning scenario (§IV-B, Table IX): a model trained on D (a share of the target training set)
# is fine-tuned on D_delta (the rest); one job makes both snapshots.
rule train_finetune:
    input:
        dataset="results/{dataset}/dataset.npz",
        splits="results/{dataset}/finetune/{rep}/splits.npz",
    output:
        trained_model="results/{dataset}/finetune/{rep}/models/trained/model.pt",
        trained_meta="results/{dataset}/finetune/{rep}/models/trained/meta.json",
        trained_history="results/{dataset}/finetune/{rep}/models/trained/history.csv",
        finetuned_model="results/{dataset}/finetune/{rep}/models/finetuned/model.pt",
        finetuned_meta="results/{dataset}/finetune/{rep}/models/finetuned/meta.json",
        finetuned_history="results/{dataset}/finetune/{rep}/models/finetuned/history.csv",
    log:
        "logs/{dataset}/finetune/{rep}/train.log",
    benchmark:
        "benchmarks/{dataset}/finetune/{rep}/train.tsv"
    priority: PRIORITY["train"]
    threads: config["threads"]
    resources:
        **job_resources("train_finetune"),
    params:
        model_cfg=lambda wc: dataset_cfg(wc.dataset)["model"],
        # D is trained on exactly as the stand-alone target is; the fine-tuning phase has its own
        # hyper-parameters (the paper gives none: finetune.train in the config).
        train=lambda wc: dataset_cfg(wc.dataset)["train"],
        finetune_train=FINETUNE["train"],
        evaluate_every=config["evaluate_every"],
        device=config["device"],
        seed=lambda wc: artifact_seed(wc.dataset, "finetune", wc.rep, "trained"),
        finetune_seed=lambda wc: artifact_seed(wc.dataset, "finetune", wc.rep, "finetuned"),
    script:
        "../../scripts/train_finetune.py"


# ---- Calibrated attacks (LiRA, RMIA): the reference models ---------------------------------------
# The reference pool (the attack-test records and records the target never saw) and the IN/OUT mask
# of the reference models, its own artifact (deepleak/calibration.py reference_pool, reference_mask).
rule reference_mask:
    input:
        dataset="results/{dataset}/dataset.npz",
        splits="results/{dataset}/standalone/{rep}/splits.npz",
    output:
        mask="results/{dataset}/standalone/{rep}/calibration/mask.npz",
    log:
        "logs/{dataset}/standalone/{rep}/reference_mask.log",
    benchmark:
        "benchmarks/{dataset}/standalone/{rep}/reference_mask.tsv"
    threads: 1
    resources:
        **job_resources("reference_mask"),
    params:
        references=CALIBRATED["references"],
        population=CALIBRATED["population"],
        train_size=lambda wc: dataset_cfg(wc.dataset)["standalone"]["sizes"]["target_train"],
        seed=lambda wc: artifact_seed(wc.dataset, "standalone", wc.rep, "references"),
    script:
        "../../scripts/make_reference_mask.py"


# N reference models with the target's architecture and recipe (batched for FC and small CNNs,
# deepleak/references.py); only their per-record statistics are kept, not the models.
rule train_references:
    input:
        dataset="results/{dataset}/dataset.npz",
        mask="results/{dataset}/standalone/{rep}/calibration/mask.npz",
        target_meta="results/{dataset}/standalone/{rep}/models/target/meta.json",
    output:
        statistics="results/{dataset}/standalone/{rep}/calibration/references.npz",
        summary="results/{dataset}/standalone/{rep}/calibration/references.json",
    log:
        "logs/{dataset}/standalone/{rep}/train_references.log",
    benchmark:
        "benchmarks/{dataset}/standalone/{rep}/train_references.tsv"
    priority: PRIORITY["train"]
    threads: config["threads"]
    resources:
        **job_resources("train_references"),
    params:
        model_cfg=lambda wc: dataset_cfg(wc.dataset)["model"],
        train=lambda wc: dataset_cfg(wc.dataset)["train"],
        batched=CALIBRATED["batched"],
        per_batch=CALIBRATED["per_batch"],
        batching=lambda wc: dataset_cfg(wc.dataset)["features"],
        device=config["device"],
        seeds=lambda wc: [artifact_seed(wc.dataset, "standalone", wc.rep, "reference", k)
                          for k in range(CALIBRATED["references"])],
    script:
        "../../scripts/train_references.py"
# ---- end of the calibrated attacks' block ---------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# DP-SGD targets (beyond the paper; deepleak/dp.py): the stand-alone target's architecture, members,
# test records and initialisation, trained by DP-SGD with Opacus at each privacy level of the config
# (eps<e>: the noise for that epsilon at dp.delta; clip_only: per-example clipping, no noise). The
# non-private row of table_dp is the stand-alone target itself.
# --------------------------------------------------------------------------------------------------
rule train_dp:
    input:
        dataset="results/{dataset}/dataset.npz",
        splits="results/{dataset}/standalone/{rep}/splits.npz",
    output:
        model="results/{dataset}/dp/{rep}/models/{level}/model.pt",
        meta="results/{dataset}/dp/{rep}/models/{level}/meta.json",
        history="results/{dataset}/dp/{rep}/models/{level}/history.csv",
    wildcard_constraints:
        level="|".join(map(re.escape, DP_LEVELS)),
    log:
        "logs/{dataset}/dp/{rep}/train_{level}.log",
    benchmark:
        "benchmarks/{dataset}/dp/{rep}/train_{level}.tsv"
    threads: config["threads"]
    resources:
        **job_resources("train_dp"),
    params:
        model_cfg=lambda wc: dataset_cfg(wc.dataset)["model"],
        train=lambda wc: dp_train(wc.dataset),
        dp={k: DP[k] for k in ("delta", "max_grad_norm", "accountant", "grad_sample_mode")},
        device=config["device"],
        # The stand-alone target's seed: the same initial weights as the non-private target.
        init_seed=lambda wc: artifact_seed(wc.dataset, "standalone", wc.rep, "target"),
        seed=lambda wc: artifact_seed(wc.dataset, "dp", wc.rep, wc.level),
    script:
        "../../scripts/train_dp_model.py"


# ---- LiRA on the DP targets: reference models trained by the DP target's recipe -------------------
# The calibrated stage's machinery (scripts/make_reference_mask.py, scripts/train_references.py,
# deepleak/references.py statistics) with dp.references models. The mask draws with the calibrated
# stage's seed: the same pool, population and attack-test records, and its rows are the first
# dp.references rows of the calibrated stage's mask (deepleak/calibration.py reference_mask draws
# its complementary pairs in order). One mask for every level: each level's models differ only in
# their noise.
rule dp_reference_mask:
    input:
        dataset="results/{dataset}/dataset.npz",
        splits="results/{dataset}/standalone/{rep}/splits.npz",
    output:
        mask="results/{dataset}/dp/{rep}/calibration/mask.npz",
    log:
        "logs/{dataset}/dp/{rep}/reference_mask.log",
    benchmark:
        "benchmarks/{dataset}/dp/{rep}/reference_mask.tsv"
    threads: 1
    resources:
        **job_resources("dp_reference_mask"),
    params:
        references=DP["references"],
        population=CALIBRATED["population"],
        train_size=lambda wc: dataset_cfg(wc.dataset)["standalone"]["sizes"]["target_train"],
        seed=lambda wc: artifact_seed(wc.dataset, "standalone", wc.rep, "references"),
    script:
        "../../scripts/make_reference_mask.py"


# dp.references models per privacy level, each by deepleak/dp.py fit_private with the DP target's
# noise multiplier (read from its meta.json, not searched again), clipping norm, sample rate and
# epochs, one after the other; only their per-record statistics are kept, and each model's privacy
# record in the summary.
rule train_dp_references:
    input:
        dataset="results/{dataset}/dataset.npz",
        mask="results/{dataset}/dp/{rep}/calibration/mask.npz",
        target_meta="results/{dataset}/dp/{rep}/models/{level}/meta.json",
    output:
        statistics="results/{dataset}/dp/{rep}/calibration/{level}/references.npz",
        summary="results/{dataset}/dp/{rep}/calibration/{level}/references.json",
    wildcard_constraints:
        level="|".join(map(re.escape, DP_LEVELS)),
    log:
        "logs/{dataset}/dp/{rep}/train_references_{level}.log",
    benchmark:
        "benchmarks/{dataset}/dp/{rep}/train_references_{level}.tsv"
    threads: config["threads"]
    resources:
        **job_resources("train_dp_references"),
    params:
        model_cfg=lambda wc: dataset_cfg(wc.dataset)["model"],
        train=lambda wc: dp_train(wc.dataset),
        batched=False,
        per_batch=1,
        batching=lambda wc: dataset_cfg(wc.dataset)["features"],
        device=config["device"],
        seeds=lambda wc: [artifact_seed(wc.dataset, "dp", wc.rep, wc.level, "reference", k)
                          for k in range(DP["references"])],
        dp={k: DP[k] for k in ("delta", "max_grad_norm", "accountant", "grad_sample_mode")},
    script:
        "../../scripts/train_references.py"
# ---- end of LiRA on the DP targets' references ----------------------------------------------------
