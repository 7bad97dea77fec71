# The federated-learning scenario (SPEC.md 1.3, 1.4, 2.4; Tables X, XII, XIII; Figure 7), its own stage
# file because it is its own scenario: split -> simulate (one job per run: FedAvg, with or without an
# active attack, recording the attack features of what each attacker observes) -> attack (one job per
# run: every multi-observation attack model the run's observers need) -> tables and Figure 7.
# Runs are named in deepleak/federated.py: passive, central_ascent, isolating, isolating_ascent,
# local_ascent and parties<n> (Table XIII's other party counts).
from deepleak import federated as dl_federated  # noqa: E402

if "federated" not in config:
    raise ValueError("the config has no federated section, which workflow/rules/federated.smk needs; "
                     "copy it from config/config.yaml (or config/test.yaml) into your profile.")

FEDERATED = config["federated"]
FEDERATED_DATASETS = list(FEDERATED["datasets"])
FEDERATED_TABLES = ["table10", "table12", "table13"]


def _check_federated_config():
    """What the schema cannot say: the federated datasets exist and have their settings."""
    for d in FEDERATED_DATASETS:
        if d not in config["datasets"]:
            raise ValueError(f"config: federated.datasets names {d!r}, which has no entry under datasets "
                             f"({sorted(config['datasets'])})")
        if d not in FEDERATED["per_dataset"]:
            raise ValueError(f"config: federated.datasets names {d!r} but federated.per_dataset has no "
                             f"{d} entry (rounds, observed_epochs, train, sizes); add one")
        cfg = FEDERATED["per_dataset"][d]
        dl_federated.check_epochs(cfg["observed_epochs"], cfg["rounds"],
                                  f"config: federated.per_dataset.{d}.observed_epochs")
    stray = [d for d in FEDERATED["sweep_datasets"] if d not in FEDERATED_DATASETS]
    if stray:
        raise ValueError(f"config: federated.sweep_datasets names {stray}, which are not in "
                         f"federated.datasets ({FEDERATED_DATASETS})")
    if FEDERATED["parties"] not in FEDERATED["party_sweep"]:
        raise ValueError(f"config: federated.party_sweep {FEDERATED['party_sweep']} must include "
                         f"federated.parties ({FEDERATED['parties']}): Table XIII's row for it is Table "
                         f"X's passive run")


_check_federated_config()


def federated_cfg(dataset):
    return FEDERATED["per_dataset"][dataset]


def federated_sweeps(dataset):
    """Tables XII and XIII run on federated.sweep_datasets (the paper: CIFAR100-AlexNet only)."""
    return dataset in FEDERATED["sweep_datasets"]


def federated_party_sweep(dataset):
    return list(FEDERATED["party_sweep"]) if federated_sweeps(dataset) else []


def federated_runs(dataset):
    return list(dl_federated.runs(FEDERATED["parties"], federated_party_sweep(dataset)))


def table12_epoch_sets(dataset):
    """Table XII's epoch sets for this dataset: the paper's first three (CIFAR100, 300 rounds) scaled to
    the dataset's rounds, then Table X's observed epochs, which the paper's fourth set is (85.1 % in
    both tables)."""
    if not federated_sweeps(dataset):
        return []
    cfg = federated_cfg(dataset)
    scaled = [dl_federated.scale_epochs(epochs, paper.TABLE12_PAPER_ROUNDS, cfg["rounds"])
              for epochs in paper.TABLE12_EPOCHS[:-1]]
    return [*scaled, list(cfg["observed_epochs"])]


def federated_paths(pattern, datasets=None, runs=None):
    """Expand a federated path over datasets, replicates and each dataset's runs."""
    return [pattern.format(dataset=d, rep=r, run=run) for d in (datasets or FEDERATED_DATASETS)
            for r in REPLICATES for run in (runs or federated_runs(d)) if run in federated_runs(d)]


FEDERATED_RUN_NAMES = sorted({run for d in FEDERATED_DATASETS for run in federated_runs(d)})


rule federated_split:
    input:
        dataset="results/{dataset}/dataset.npz",
    output:
        splits="results/{dataset}/federated/{rep}/splits.npz",
    log:
        "logs/{dataset}/federated/{rep}/split.log",
    params:
        sizes=lambda wc: federated_cfg(wc.dataset)["sizes"],
        parties=FEDERATED["parties"],
        party_sweep=lambda wc: federated_party_sweep(wc.dataset),
        validation_fraction=FEDERATED["validation_fraction"],
        overlapping=FEDERATED["overlapping"],
        seed=lambda wc: artifact_seed(wc.dataset, "federated", wc.rep, "splits"),
    script:
        "../../scripts/make_federated_splits.py"


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
    # each other as two-thread jobs do, /work/shared/ENVIRONMENT.md).
    threads: 1
    params:
        model_cfg=lambda wc: dataset_cfg(wc.dataset)["model"],
        fed=lambda wc: {k: federated_cfg(wc.dataset)[k] for k in ("rounds", "observed_epochs", "train")},
        parties=FEDERATED["parties"],
        party_sweep=lambda wc: federated_party_sweep(wc.dataset),
        gamma=FEDERATED["gamma"],
        features_cfg=FEDERATED["features"],
        central_epochs=lambda wc: table12_epoch_sets(wc.dataset),
        track_records=FEDERATED["track_records"],
        # One seed for every run of a (dataset, replicate): the runs share the initialisation and the
        # parties' batch orders, so passive and active runs differ by the attack alone.
        seed=lambda wc: artifact_seed(wc.dataset, "federated", wc.rep, "simulate"),
    script:
        "../../scripts/simulate_federated.py"


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
    threads: 1  # small attack models, one per party and epoch set: as federated_simulate
    params:
        parties=FEDERATED["parties"],
        party_sweep=lambda wc: federated_party_sweep(wc.dataset),
        observed_epochs=lambda wc: federated_cfg(wc.dataset)["observed_epochs"],
        central_epochs=lambda wc: table12_epoch_sets(wc.dataset),
        features_cfg=FEDERATED["features"],
        hp=attack_hparams(),
        metrics_cfg=config["metrics"],
        seed=lambda wc: artifact_seed(wc.dataset, "federated", wc.rep, "attack", wc.run),
    script:
        "../../scripts/run_federated_attack.py"


def federated_table_inputs(wc):
    runs = {"table10": ["passive", "central_ascent", "isolating", "isolating_ascent", "local_ascent"],
            "table12": ["passive"], "table13": None}[wc.table]
    datasets = FEDERATED_DATASETS if wc.table == "table10" else FEDERATED["sweep_datasets"]
    return {
        "metrics": federated_paths("results/{dataset}/federated/{rep}/attacks/{run}/metrics.json",
                                   datasets, runs),
        "provenance": expand("results/{dataset}/provenance.json", dataset=datasets),
    }


rule make_federated_table:
    input:
        unpack(federated_table_inputs),
    output:
        csv=report("results/tables/{table}.csv", caption="../report/federated_table.rst",
                   category="Tables", subcategory="Federated", labels={"table": "{table}"}),
        md="results/tables/{table}.md",
    wildcard_constraints:
        table="|".join(FEDERATED_TABLES),
    log:
        "logs/tables/{table}.log",
    params:
        datasets=lambda wc: FEDERATED_DATASETS if wc.table == "table10" else FEDERATED["sweep_datasets"],
        replicates=REPLICATES,
        parties=FEDERATED["parties"],
        party_sweep=FEDERATED["party_sweep"],
        rounds={d: federated_cfg(d)["rounds"] for d in FEDERATED_DATASETS},
        observed_epochs={d: federated_cfg(d)["observed_epochs"] for d in FEDERATED_DATASETS},
        epoch_sets={d: table12_epoch_sets(d) for d in FEDERATED_DATASETS},
        # How Table X's paper values are looked up (deepleak/paper.py Table.values).
        references={d: [data_of(d), dataset_cfg(d)["model"]["arch"]] for d in FEDERATED_DATASETS},
        confidence=config["metrics"]["confidence"],
    script:
        "../../scripts/make_federated_table.py"


rule figure7_plot:
    input:
        active=expand("results/{dataset}/federated/{rep}/models/central_ascent/history.csv",
                      dataset=FEDERATED_DATASETS, rep=REPLICATES[0]),
        passive=expand("results/{dataset}/federated/{rep}/models/passive/history.csv",
                       dataset=FEDERATED_DATASETS, rep=REPLICATES[0]),
        provenance=expand("results/{dataset}/provenance.json", dataset=FEDERATED_DATASETS),
    output:
        png=report("figures/figure7.png", caption="../report/figure7.rst", category="Figures"),
        pdf="figures/figure7.pdf",
    log:
        "logs/figures/figure7.log",
    params:
        datasets=FEDERATED_DATASETS,
        gamma=FEDERATED["gamma"],
    script:
        "../../scripts/plot_figure7.py"


rule federated:
    input:
        expand("results/tables/{table}.{ext}", table=FEDERATED_TABLES, ext=["csv", "md"]),
        "figures/figure7.png",
        "figures/figure7.pdf",


for _table in FEDERATED_TABLES:

    rule:
        name:
            _table
        input:
            f"results/tables/{_table}.csv",
            f"results/tables/{_table}.md",


rule figure7:
    input:
        "figures/figure7.png",
        "figures/figure7.pdf",
