# Stand-alone attacks with other attacker knowledge (SPEC.md 1.5, Table VII, Figure 5): the shadow-model
# attack (Shokri et al. 2017: the white-box attack model trained on the stand-alone shadow model's
# members and non-members, applied to the target) and the unsupervised attack (an encoder-decoder on the
# attacker's unlabelled records, then spectral clustering of the test records' codes). Both reuse the
# stand-alone splits, models and features; one job per attack, dataset and replicate.

SHADOW_ATTACK = config["shadow_attack"]
UNSUPERVISED = config["unsupervised"]
TABLE7_DATASETS = STANDALONE_DATASETS  # Table VII covers every stand-alone dataset
FIGURE5_REP = REPLICATES[0]  # figures show the first replicate; tables aggregate all of them

for _key, _variant in (("shadow_attack.attack", SHADOW_ATTACK["attack"]),
                       ("unsupervised.attack", UNSUPERVISED["attack"])):
    if _variant not in variants.VARIANTS:
        raise ValueError(f"config: {_key} is {_variant!r}; choose one of "
                         f"{sorted(variants.VARIANTS)} (deepleak/variants.py)")


rule shadow_model_attack:
    input:
        target="results/{dataset}/standalone/{rep}/features/target.npz",
        shadow="results/{dataset}/standalone/{rep}/features/shadow.npz",
        splits="results/{dataset}/standalone/{rep}/splits.npz",
    output:
        scores="results/{dataset}/standalone/{rep}/attacks/shadow_model/scores.npz",
        metrics="results/{dataset}/standalone/{rep}/attacks/shadow_model/metrics.json",
    log:
        "logs/{dataset}/standalone/{rep}/attack_shadow_model.log",
    benchmark:
        "benchmarks/{dataset}/standalone/{rep}/attack_shadow_model.tsv"
    threads: config["threads"]
    params:
        variant=SHADOW_ATTACK["attack"],
        hp=attack_hparams(),
        validation_fraction=STANDALONE["validation_fraction"],
        metrics_cfg=config["metrics"],
        seed=lambda wc: artifact_seed(wc.dataset, "standalone", wc.rep, "attack", "shadow_model"),
    script:
        "../../scripts/run_shadow_attack.py"


rule unsupervised_attack:
    input:
        features="results/{dataset}/standalone/{rep}/features/target.npz",
        splits="results/{dataset}/standalone/{rep}/splits.npz",
    output:
        scores="results/{dataset}/standalone/{rep}/attacks/unsupervised/scores.npz",
        metrics="results/{dataset}/standalone/{rep}/attacks/unsupervised/metrics.json",
    log:
        "logs/{dataset}/standalone/{rep}/attack_unsupervised.log",
    benchmark:
        "benchmarks/{dataset}/standalone/{rep}/attack_unsupervised.tsv"
    threads: config["threads"]
    params:
        variant=UNSUPERVISED["attack"],
        hp=attack_hparams(),
        unsup={k: v for k, v in UNSUPERVISED.items() if k != "attack"},
        metrics_cfg=config["metrics"],
        seed=lambda wc: artifact_seed(wc.dataset, "standalone", wc.rep, "attack", "unsupervised"),
    script:
        "../../scripts/run_unsupervised_attack.py"


# Table VII's attacks (deepleak/paper.py), then the baselines, per dataset and replicate.
TABLE7_KEYS = [(d, r, a) for d in TABLE7_DATASETS for r in REPLICATES
               for a in [*paper.TABLE7.attacks, "baselines"]]


rule make_table7:
    input:
        metrics=[f"results/{d}/standalone/{r}/attacks/{a}/metrics.json" for d, r, a in TABLE7_KEYS],
        target=standalone_paths("results/{dataset}/standalone/{rep}/models/target/meta.json",
                                datasets=TABLE7_DATASETS),
        provenance=expand("results/{dataset}/provenance.json", dataset=TABLE7_DATASETS),
    output:
        csv=report("results/tables/table7.csv", caption="../report/table7.rst", category="Tables",
                   subcategory="Stand-alone", labels={"table": "table7"}),
        md="results/tables/table7.md",
    log:
        "logs/tables/table7.log",
    params:
        entries=[d for d, _, _ in TABLE7_KEYS],
        datasets=TABLE7_DATASETS,
        replicates=REPLICATES,
        data={d: data_of(d) for d in TABLE7_DATASETS},
        confidence=config["metrics"]["confidence"],
    script:
        "../../scripts/make_table7.py"


rule figure5_plot:
    input:
        scores=expand("results/{dataset}/standalone/{rep}/attacks/unsupervised/scores.npz",
                      dataset=TABLE7_DATASETS, rep=FIGURE5_REP),
        provenance=expand("results/{dataset}/provenance.json", dataset=TABLE7_DATASETS),
    output:
        png=report("figures/figure5.png", caption="../report/figure5.rst", category="Figures"),
        pdf="figures/figure5.pdf",
    log:
        "logs/figures/figure5.log",
    params:
        datasets=TABLE7_DATASETS,
    script:
        "../../scripts/plot_figure5.py"


rule table7:
    input:
        "results/tables/table7.csv",
        "results/tables/table7.md",


rule figure5:
    input:
        "figures/figure5.png",
        "figures/figure5.pdf",


# Everything of issue 5: Tables VII and IX and Figure 5.
rule finetune_and_unsupervised:
    input:
        rules.table7.input,
        rules.figure5.input,
        rules.table9.input if FINETUNE_DATASETS else [],
