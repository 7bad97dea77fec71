# Stages 2 and 3 of the federated scenario (§IV-C, §IV-D; Tables X, XII, XIII; Figure 7), one job per
# run because training and observation are one: FedAvg among the parties, with or without an active
# attack, recording the attack features of what each attacker (the server, one party) observes. The
# runs are named in deepleak/federated_runs.py: passive, central_ascent, isolating, isolating_ascent,
# local_ascent and parties<n> (Table XIII's other party counts). Their splits are made in data.smk,
# their attacks in attacks.smk, their tables and Figure 7 in tables.smk and figures.smk.


rule federated_simulate:
    input:
        dataset="results/{dataset}/dataset.npz",
        splits="results/{dataset}/federated/{rep}/splits.npz",
    output:
        features="results/{dataset}/federated/{rep}/features/{run}.npz",
        model="results/{dataset}/federated/{rep}/models/{run}/global.pt",
        meta="results/{dataset}/federated/{rep}/models/{run}/meta.json",
        history="results/{dataset}/federated/{rep}/models/{run}/history.csv",
    wildcard_constraints:
        run="|".join(FEDERATED_RUN_NAMES),
    log:
        "logs/{dataset}/federated/{rep}/simulate_{run}.log",
    benchmark:
        "benchmarks/{dataset}/federated/{rep}/simulate_{run}.tsv"
    # One thread: a party's epoch is a loop of small minibatches that a second thread barely speeds up,
    # while two single-thread jobs use both cores of a small machine fully (and do not spin against
    # each other as two-thread jobs do); the config's threads for a simulation the resource model
    # finds long.
    threads: job_threads("federated_simulate")
    resources:
        **job_resources("federated_simulate"),
    params:
        model_cfg=lambda wc: dataset_cfg(wc.dataset)["model"],
        fed=lambda wc: {k: federated_cfg(wc.dataset)[k] for k in ("rounds", "observed_epochs", "train")},
        parties=FEDERATED["parties"],
        party_sweep=lambda wc: federated_party_sweep(wc.dataset),
        gamma=FEDERATED["gamma"],
        features_cfg=FEDERATED["features"],
        central_epochs=lambda wc: table12_epoch_sets(wc.dataset),
        track_records=FEDERATED["track_records"],
        batched=FEDERATED["batched"],
        # One seed for every run of a (dataset, replicate): the runs share the initialisation and the
        # parties' batch orders, so passive and active runs differ by the attack alone.
        seed=lambda wc: artifact_seed(wc.dataset, "federated", wc.rep, "simulate"),
    script:
        "../../scripts/simulate_federated.py"
