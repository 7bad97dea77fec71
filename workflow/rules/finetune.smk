# Fine-tuning scenario (SPEC.md 1.2, Table IX): a model trained on D (60 % of the target training set)
# is fine-tuned on D_delta (the other 40 %); the attacker holds both snapshots and attacks three
# membership tasks with the paper's attack model on T = 2 observations (SPEC.md 2.4).
# Jobs per dataset and replicate: the split, one training job (both snapshots), one feature job (both
# snapshots stacked) and one job for the three tasks' attacks; then one Table IX job.
from deepleak import finetune as dl_finetune  # noqa: E402

FINETUNE = config["finetune"]
FINETUNE_DATASETS = sorted(FINETUNE["datasets"])
FINETUNE_TASKS = list(dl_finetune.TASKS)

for _d in FINETUNE_DATASETS:
    if _d not in config["datasets"]:
        raise ValueError(f"config: finetune.datasets names {_d!r}, which has no entry under datasets; "
                         f"add one or remove it from finetune.datasets")
    if _d not in FINETUNE["sizes"]:
        raise ValueError(f"config: finetune.sizes has no entry for {_d!r}; give its target_train, "
                         f"nonmembers, attack_known and attack_test")
if FINETUNE_DATASETS and FINETUNE["attack"] not in variants.VARIANTS:
    raise ValueError(f"config: finetune.attack is {FINETUNE['attack']!r}; choose one of "
                     f"{sorted(variants.VARIANTS)} (deepleak/variants.py)")


def finetune_paths(pattern, **extra):
    return expand(pattern, dataset=FINETUNE_DATASETS, rep=REPLICATES, **extra)


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
    threads: config["threads"]
    resources:
        gpu=lambda wc: uses_gpu(wc.dataset),
    params:
        model_cfg=lambda wc: dataset_cfg(wc.dataset)["model"],
        # D is trained on exactly as the stand-alone target is; the fine-tuning phase has its own
        # hyper-parameters (the paper gives none: finetune.train in the config).
        train=lambda wc: dataset_cfg(wc.dataset)["train"],
        finetune_train=FINETUNE["train"],
        device=config["device"],
        seed=lambda wc: artifact_seed(wc.dataset, "finetune", wc.rep, "trained"),
        finetune_seed=lambda wc: artifact_seed(wc.dataset, "finetune", wc.rep, "finetuned"),
    script:
        "../../scripts/train_finetune.py"


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
        gpu=lambda wc: uses_gpu(wc.dataset),
    params:
        gradient_layers=FINETUNE["gradient_layers"],
        device=config["device"],
    script:
        "../../scripts/extract_finetune_features.py"


rule finetune_attacks:
    # The three tasks in one job: they share the feature file, and each attack trains in seconds, so
    # three jobs would mostly pay three Python + torch start-ups.
    input:
        features="results/{dataset}/finetune/{rep}/features/snapshots.npz",
        splits="results/{dataset}/finetune/{rep}/splits.npz",
    output:
        scores=expand("results/{{dataset}}/finetune/{{rep}}/attacks/{task}/scores.npz",
                      task=FINETUNE_TASKS),
        metrics=expand("results/{{dataset}}/finetune/{{rep}}/attacks/{task}/metrics.json",
                       task=FINETUNE_TASKS),
    log:
        "logs/{dataset}/finetune/{rep}/attacks.log",
    benchmark:
        "benchmarks/{dataset}/finetune/{rep}/attacks.tsv"
    threads: config["threads"]
    params:
        tasks=FINETUNE_TASKS,
        variant=FINETUNE["attack"],
        hp=attack_hparams(),
        metrics_cfg=config["metrics"],
        seeds=lambda wc: [artifact_seed(wc.dataset, "finetune", wc.rep, "attack", t)
                          for t in FINETUNE_TASKS],
    script:
        "../../scripts/run_finetune_attack.py"


rule make_table9:
    input:
        metrics=[f"results/{d}/finetune/{r}/attacks/{t}/metrics.json"
                 for d in FINETUNE_DATASETS for r in REPLICATES for t in FINETUNE_TASKS],
        finetuned=finetune_paths("results/{dataset}/finetune/{rep}/models/finetuned/meta.json"),
        provenance=expand("results/{dataset}/provenance.json", dataset=FINETUNE_DATASETS),
    output:
        csv=report("results/tables/table9.csv", caption="../report/table9.rst", category="Tables",
                   subcategory="Fine-tuning", labels={"table": "table9"}),
        md="results/tables/table9.md",
    log:
        "logs/tables/table9.log",
    params:
        datasets=FINETUNE_DATASETS,
        replicates=REPLICATES,
        data={d: data_of(d) for d in FINETUNE_DATASETS},
        tasks=FINETUNE_TASKS,
        confidence=config["metrics"]["confidence"],
    script:
        "../../scripts/make_table9.py"


rule table9:
    input:
        "results/tables/table9.csv",
        "results/tables/table9.md",
