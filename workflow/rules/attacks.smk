# Stage 4: membership attacks on the target model. Each neural attack variant (deepleak/paper.py) is one
# job, trained on the attacker's known members and non-members, selected on the validation split and
# scored on the attack test set; the threshold baselines run beside them.


rule attack:
    input:
        features="results/{dataset}/standalone/{rep}/features/target.npz",
        splits="results/{dataset}/standalone/{rep}/splits.npz",
    output:
        scores="results/{dataset}/standalone/{rep}/attacks/{attack}/scores.npz",
        metrics="results/{dataset}/standalone/{rep}/attacks/{attack}/metrics.json",
    log:
        "logs/{dataset}/standalone/{rep}/attack_{attack}.log",
    benchmark:
        "benchmarks/{dataset}/standalone/{rep}/attack_{attack}.tsv"
    threads: config["threads"]
    params:
        hp=attack_hparams(),
        knowledge_fractions=STANDALONE["knowledge_fractions"],
        metrics_cfg=config["metrics"],
        seed=lambda wc: artifact_seed(wc.dataset, "standalone", wc.rep, "attack", wc.attack),
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
    params:
        metrics_cfg=config["metrics"],
        seed=lambda wc: artifact_seed(wc.dataset, "standalone", wc.rep, "baselines"),
    script:
        "../../scripts/run_baselines.py"
