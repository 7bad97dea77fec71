# Stage 4, attacks, every scenario's: the stand-alone attack variants and threshold baselines, the
# shadow-model and unsupervised attacks (Table VII), the fine-tuning tasks (Table IX) and the federated
# attackers (Tables X, XII, XIII). Each supervised attack is trained on the attacker's known members
# and non-members, selected on its validation split and scored on the attack test set
# (attack.run_supervised); the threshold baselines run beside them.


# One job per group of variants (each variant's `group` in deepleak/variants.py), named
# attack_<group>: `-R attack_gradients` reruns the gradient attacks of every dataset of the paper's
# tables. The groups are checked against every attack the tables need (deepleak/paper.py): an
# attack that no rule makes stops the parse with its name. shadow_model and unsupervised have a rule
# each (below). With standalone.attack_jobs: per_attack, every variant is a rule of its own
# (attack_<variant>).
_PER_ATTACK = STANDALONE["attack_jobs"] == "per_attack"
ATTACK_GROUPS = paper.check_standalone_rules(len(STANDALONE["knowledge_fractions"]),
                                             single_attacks=["shadow_model", "unsupervised"],
                                             per_attack=_PER_ATTACK)
# Grouped, the groups serve the datasets of the paper's tables (standalone.datasets). A dataset
# only the stages beyond the paper use (calibrated:, dp:, as the default profile's
# purchase100_small) is asked for one or two attacks: it gets a job per attack, since a grouped
# job would train every variant of its group (there, four gradient attack models, 125
# job-seconds, for the one Table calibrated compares). Same seeds either way, same scores.
_ATTACK_RULES = [(group, attacks, sorted(config["datasets"]) if _PER_ATTACK
                  else STANDALONE["datasets"]) for group, attacks in ATTACK_GROUPS.items()]
_OTHER_DATASETS = sorted(set(USED_DATASETS) - set(STANDALONE["datasets"]))
if not _PER_ATTACK and _OTHER_DATASETS:
    _ATTACK_RULES += [(attack, attacks, _OTHER_DATASETS) for attack, attacks in
                      paper.attack_groups(len(STANDALONE["knowledge_fractions"]),
                                          per_attack=True).items()]

for _group, _attacks, _datasets in _ATTACK_RULES:

    rule:
        name:
            f"attack_{_group}"
        wildcard_constraints:
            dataset="|".join(map(re.escape, _datasets)),
        input:
            features="results/{dataset}/standalone/{rep}/features/target.npz",
            splits="results/{dataset}/standalone/{rep}/splits.npz",
        output:
            scores=[f"results/{{dataset}}/standalone/{{rep}}/attacks/{a}/scores.npz" for a in _attacks],
            metrics=[f"results/{{dataset}}/standalone/{{rep}}/attacks/{a}/metrics.json"
                     for a in _attacks],
        log:
            f"logs/{{dataset}}/standalone/{{rep}}/attack_{_group}.log",
        benchmark:
            f"benchmarks/{{dataset}}/standalone/{{rep}}/attack_{_group}.tsv"
        priority: PRIORITY["attack"]
        # Small attack models train best on one thread (as federated_simulate); the paper's
        # 1,000-kernel gradient components get the config's threads (deepleak/resources.py).
        threads: job_threads(f"attack_{_group}")
        resources:
            **job_resources(f"attack_{_group}"),
        params:
            attacks=_attacks,
            hp=config["attack_model"],
            knowledge_fractions=STANDALONE["knowledge_fractions"],
            metrics_cfg=config["metrics"],
            seeds=lambda wc, attacks=_attacks: [
                artifact_seed(wc.dataset, "standalone", wc.rep, "attack", a) for a in attacks],
        script:
            "../../scripts/run_attack.py"


rule baselines:
    input:
        target="results/{dataset}/standalone/{rep}/features/target.npz",
        shadow="results/{dataset}/standalone/{rep}/features/shadow.npz",
        splits="results/{dataset}/standalone/{rep}/splits.npz",
    output:
        scores="results/{dataset}/standalone/{rep}/attacks/baselines/scores.npz",
        metrics="results/{dataset}/standalone/{rep}/attacks/baselines/metrics.json",
    log:
        "logs/{dataset}/standalone/{rep}/baselines.log",
    benchmark:
        "benchmarks/{dataset}/standalone/{rep}/baselines.tsv",
    threads: 1
    resources:
        **job_resources("baselines"),
    params:
        metrics_cfg=config["metrics"],
        seed=lambda wc: artifact_seed(wc.dataset, "standalone", wc.rep, "baselines"),
    script:
        "../../scripts/run_baselines.py"


# Table VII: the shadow-model attack (Shokri et al. 2017: the attack model trained on the stand-alone
# shadow model's members and non-members, applied to the target) and the unsupervised attack (an
# encoder-decoder on the attacker's unlabelled records, then spectral clustering of the codes).
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
    threads: job_threads("shadow_model_attack")
    resources:
        **job_resources("shadow_model_attack"),
    params:
        variant=SHADOW_ATTACK["attack"],
        hp=config["attack_model"],
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
    # As every attack-model job: one thread unless the resource model finds it long. With two
    # threads on a busy 2-core machine its epochs took 20x longer than alone (OpenMP threads
    # spinning against the other job's).
    threads: job_threads("unsupervised_attack")
    resources:
        **job_resources("unsupervised_attack"),
    params:
        variant=UNSUPERVISED["attack"],
        hp=config["attack_model"],
        unsup={k: v for k, v in UNSUPERVISED.items() if k != "attack"},
        metrics_cfg=config["metrics"],
        seed=lambda wc: artifact_seed(wc.dataset, "standalone", wc.rep, "attack", "unsupervised"),
    script:
        "../../scripts/run_unsupervised_attack.py"


# Table IX: the three membership tasks of the fine-tuning scenario.
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
    threads: job_threads("finetune_attacks")
    resources:
        **job_resources("finetune_attacks"),
    params:
        tasks=FINETUNE_TASKS,
        variant=FINETUNE["attack"],
        hp=config["attack_model"],
        metrics_cfg=config["metrics"],
        seeds=lambda wc: [artifact_seed(wc.dataset, "finetune", wc.rep, "attack", t)
                          for t in FINETUNE_TASKS],
    script:
        "../../scripts/run_finetune_attack.py"


# Tables X, XII, XIII: every multi-observation attack model a federated run's observers need.
rule federated_attack:
    input:
        features="results/{dataset}/federated/{rep}/features/{run}.npz",
        splits="results/{dataset}/federated/{rep}/splits.npz",
        meta="results/{dataset}/federated/{rep}/models/{run}/meta.json",
    output:
        scores="results/{dataset}/federated/{rep}/attacks/{run}/scores.npz",
        metrics="results/{dataset}/federated/{rep}/attacks/{run}/metrics.json",
    wildcard_constraints:
        run="|".join(FEDERATED_RUN_NAMES),
    log:
        "logs/{dataset}/federated/{rep}/attack_{run}.log",
    benchmark:
        "benchmarks/{dataset}/federated/{rep}/attack_{run}.tsv"
    # Small attack models, one per party and epoch set: as federated_simulate.
    threads: job_threads("federated_attack")
    resources:
        **job_resources("federated_attack"),
    params:
        parties=FEDERATED["parties"],
        party_sweep=lambda wc: federated_party_sweep(wc.dataset),
        observed_epochs=lambda wc: federated_cfg(wc.dataset)["observed_epochs"],
        central_epochs=lambda wc: table12_epoch_sets(wc.dataset),
        features_cfg=FEDERATED["features"],
        hp=config["attack_model"],
        metrics_cfg=config["metrics"],
        seed=lambda wc: artifact_seed(wc.dataset, "federated", wc.rep, "attack", wc.run),
    script:
        "../../scripts/run_federated_attack.py"


# ---- Calibrated attacks (LiRA, RMIA, white-box LiRA; deepleak/calibration.py) ---------------------
# Every calibrated attack on the stand-alone attack-test records, in one metrics.json of the shape
# every attack writes (kind "calibrated").
rule calibrated_attacks:
    input:
        mask="results/{dataset}/standalone/{rep}/calibration/mask.npz",
        target="results/{dataset}/standalone/{rep}/calibration/target.npz",
        references="results/{dataset}/standalone/{rep}/calibration/references.npz",
        summary="results/{dataset}/standalone/{rep}/calibration/references.json",
    output:
        scores="results/{dataset}/standalone/{rep}/attacks/calibrated/scores.npz",
        metrics="results/{dataset}/standalone/{rep}/attacks/calibrated/metrics.json",
    log:
        "logs/{dataset}/standalone/{rep}/calibrated_attacks.log",
    benchmark:
        "benchmarks/{dataset}/standalone/{rep}/calibrated_attacks.tsv"
    threads: 1
    resources:
        **job_resources("calibrated_attacks"),
    params:
        global_variance=CALIBRATED["global_variance"],
        a=CALIBRATED["rmia"]["a"],
        gamma=CALIBRATED["rmia"]["gamma"],
        metrics_cfg=config["metrics"],
        seed=lambda wc: artifact_seed(wc.dataset, "standalone", wc.rep, "calibrated"),
    script:
        "../../scripts/run_calibrated_attacks.py"


# Per-record risk: every attack-test record's score and rank under each calibrated attack, the
# paper's black-box and white-box (gradients) attacks and the loss threshold, which of them expose
# it at 0.1 % FPR, and the report's page of the most exposed records.
CALIBRATED_PAPER_ATTACKS = ["black_box", paper.WHITE_BOX]


rule record_risk:
    input:
        calibrated="results/{dataset}/standalone/{rep}/attacks/calibrated/scores.npz",
        paper=expand("results/{{dataset}}/standalone/{{rep}}/attacks/{attack}/scores.npz",
                     attack=CALIBRATED_PAPER_ATTACKS),
        baselines="results/{dataset}/standalone/{rep}/attacks/baselines/scores.npz",
        target="results/{dataset}/standalone/{rep}/calibration/target.npz",
        dataset="results/{dataset}/dataset.npz",
    output:
        csv="results/{dataset}/standalone/{rep}/risk/records.csv",
        summary="results/{dataset}/standalone/{rep}/risk/summary.json",
        # The report's page of the ten most exposed records (the rows Table calibrated lists).
        page=report("results/{dataset}/standalone/{rep}/risk/most_exposed.html",
                    caption="../report/most_exposed.rst", category="Beyond the paper",
                    subcategory="{dataset}", labels={"page": "most exposed records {rep}"}),
    log:
        "logs/{dataset}/standalone/{rep}/record_risk.log",
    benchmark:
        "benchmarks/{dataset}/standalone/{rep}/record_risk.tsv"
    threads: 1
    resources:
        **job_resources("record_risk"),
    params:
        paper_attacks=CALIBRATED_PAPER_ATTACKS,
        top=10,
        heading=lambda wc: f"{wc.dataset}, {wc.rep}",
    script:
        "../../scripts/record_risk.py"
# ---- end of the calibrated attacks' block ---------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# DP-SGD targets (beyond the paper): the paper's attacks on each DP target (the stand-alone variants
# of dp.attacks, by attack.run_supervised on the attacker's known records of the stand-alone
# splits) and the threshold baselines (calibrated on the non-private shadow model: the attacker's
# own model; AUC, TPR at low FPR and the audit's empirical epsilon do not use that threshold).
#
# The calibrated attacks on the DP targets (rule dp_calibrated_attacks, below) write
# results/{dataset}/dp/{rep}/attacks/{level}/calibrated/{scores.npz,metrics.json}, as rule
# calibrated_attacks writes the non-private target's; the attacks named in dp.calibrated_attacks
# go into table_dp and figure_dp with their audit (scores.npz holds one array per attack).
# --------------------------------------------------------------------------------------------------
rule dp_attacks:
    input:
        features="results/{dataset}/dp/{rep}/features/{level}.npz",
        shadow="results/{dataset}/standalone/{rep}/features/shadow.npz",
        splits="results/{dataset}/standalone/{rep}/splits.npz",
    output:
        scores=dp_attack_outputs("results/{dataset}/dp/{rep}/attacks/{level}/{job}/scores.npz"),
        metrics=dp_attack_outputs("results/{dataset}/dp/{rep}/attacks/{level}/{job}/metrics.json"),
    wildcard_constraints:
        level="|".join(map(re.escape, DP_LEVELS)),
    log:
        "logs/{dataset}/dp/{rep}/attacks_{level}.log",
    benchmark:
        "benchmarks/{dataset}/dp/{rep}/attacks_{level}.tsv"
    threads: job_threads("dp_attacks")
    resources:
        **job_resources("dp_attacks"),
    params:
        attacks=DP["attacks"],
        hp=config["attack_model"],
        knowledge_fractions=STANDALONE["knowledge_fractions"],
        metrics_cfg=config["metrics"],
        # The stand-alone attacks' seeds: the same attack-model initialisation and batches as on the
        # non-private target, so that only the target differs.
        seeds=lambda wc: [artifact_seed(wc.dataset, "standalone", wc.rep, "attack", a)
                          for a in DP["attacks"]],
        baseline_seed=lambda wc: artifact_seed(wc.dataset, "standalone", wc.rep, "baselines"),
    script:
        "../../scripts/run_dp_attacks.py"



# LiRA (and every calibrated attack of deepleak/calibration.py run_attacks) on each DP target,
# against dp.references reference models trained by that target's DP-SGD recipe (rule
# train_dp_references): the stand-alone calibrated attacks' script on the DP paths.
rule dp_calibrated_attacks:
    input:
        mask="results/{dataset}/dp/{rep}/calibration/mask.npz",
        target="results/{dataset}/dp/{rep}/calibration/{level}/target.npz",
        references="results/{dataset}/dp/{rep}/calibration/{level}/references.npz",
        summary="results/{dataset}/dp/{rep}/calibration/{level}/references.json",
    output:
        scores="results/{dataset}/dp/{rep}/attacks/{level}/calibrated/scores.npz",
        metrics="results/{dataset}/dp/{rep}/attacks/{level}/calibrated/metrics.json",
    wildcard_constraints:
        level="|".join(map(re.escape, DP_LEVELS)),
    log:
        "logs/{dataset}/dp/{rep}/calibrated_attacks_{level}.log",
    benchmark:
        "benchmarks/{dataset}/dp/{rep}/calibrated_attacks_{level}.tsv"
    threads: 1
    resources:
        **job_resources("dp_calibrated_attacks"),
    params:
        global_variance=CALIBRATED["global_variance"],
        a=CALIBRATED["rmia"]["a"],
        gamma=CALIBRATED["rmia"]["gamma"],
        metrics_cfg=config["metrics"],
        seed=lambda wc: artifact_seed(wc.dataset, "dp", wc.rep, wc.level, "calibrated"),
    script:
        "../../scripts/run_calibrated_attacks.py"
