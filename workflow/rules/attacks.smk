# Stage 4: membership attacks on the target model. Each neural attack variant (deepleak/variants.py) is
# trained on the attacker's known members and non-members, selected on the validation split and
# scored on the attack test set; the threshold baselines run beside them.


# One job per group of variants (each variant's `group` in deepleak/variants.py), named attack_<group>:
# `-R attack_gradients` reruns the gradient attacks of every dataset. The groups are checked against
# every attack the tables need (deepleak/paper.py): an attack that no rule makes stops the parse with
# its name. shadow_model and unsupervised have a rule each (unsupervised.smk).
ATTACK_GROUPS = paper.check_standalone_rules(len(STANDALONE["knowledge_fractions"]),
                                             single_attacks=["shadow_model", "unsupervised"])

for _group, _attacks in ATTACK_GROUPS.items():

    rule:
        name:
            f"attack_{_group}"
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
        threads: 1
        params:
            attacks=_attacks,
            hp=attack_hparams(),
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
    params:
        metrics_cfg=config["metrics"],
        seed=lambda wc: artifact_seed(wc.dataset, "standalone", wc.rep, "baselines"),
    script:
        "../../scripts/run_baselines.py"
