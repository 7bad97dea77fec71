# Stage 5, tables: every paper table of every scenario, each a CSV and a Markdown page with the paper's
# value beside ours, and one named target per table (`snakemake --cores all table8`); then the claims
# table (`snakemake --cores all claims`). One small script per table family over the shared table
# layer (deepleak/tables.py), so editing one reruns only its own.

STANDALONE_TABLES = list(paper.STANDALONE_TABLES)
FEDERATED_TABLES = list(paper.FEDERATED_TABLES)
TABLES = [*STANDALONE_TABLES, "table7", *(["table9"] if FINETUNE_DATASETS else []),
          *FEDERATED_TABLES]


def standalone_table_keys(table):
    """(dataset, replicate, attack) of each metrics.json a table reads: the attacks its rows need
    (deepleak/paper.py), then the baselines."""
    attacks = paper.standalone_table(table, len(STANDALONE["knowledge_fractions"])).attacks
    return [(d, r, a) for d in STANDALONE_DATASETS for r in REPLICATES
            for a in [*attacks, "baselines"]]


def standalone_table_inputs(wc):
    return {
        "metrics": [f"results/{d}/standalone/{r}/attacks/{a}/metrics.json"
                    for d, r, a in standalone_table_keys(wc.table)],
        "target": standalone_paths("results/{dataset}/standalone/{rep}/models/target/meta.json"),
        "provenance": provenance(STANDALONE_DATASETS),
    }


rule make_standalone_table:
    input:
        unpack(standalone_table_inputs),
    output:
        csv=report("results/tables/{table}.csv", caption="../report/standalone_table.rst",
                   category="Tables", subcategory="Stand-alone", labels={"table": "{table}"}),
        md="results/tables/{table}.md",
    wildcard_constraints:
        table="|".join(STANDALONE_TABLES),
    log:
        "logs/tables/{table}.log",
    benchmark:
        "benchmarks/tables/{table}.tsv",
    threads: 1
    resources:
        **job_resources("make_standalone_table"),
    params:
        entries=lambda wc: [d for d, _, _ in standalone_table_keys(wc.table)],
        datasets=STANDALONE_DATASETS,
        replicates=REPLICATES,
        n_knowledge=len(STANDALONE["knowledge_fractions"]),
        # What each dataset ran, which decides whether the paper's values compare (paper.py SETTINGS).
        settings={d: paper.run_setting(config, "standalone", d) for d in STANDALONE_DATASETS},
        confidence=config["metrics"]["confidence"],
    script:
        "../../scripts/make_standalone_table.py"


TABLE7_KEYS = [(d, r, a) for d in STANDALONE_DATASETS for r in REPLICATES
               for a in [*paper.TABLE7.attacks, "baselines"]]


rule make_table7:
    input:
        metrics=[f"results/{d}/standalone/{r}/attacks/{a}/metrics.json" for d, r, a in TABLE7_KEYS],
        target=standalone_paths("results/{dataset}/standalone/{rep}/models/target/meta.json"),
        provenance=provenance(STANDALONE_DATASETS),
    output:
        csv=report("results/tables/table7.csv", caption="../report/table7.rst", category="Tables",
                   subcategory="Stand-alone", labels={"table": "table7"}),
        md="results/tables/table7.md",
    log:
        "logs/tables/table7.log",
    benchmark:
        "benchmarks/tables/table7.tsv",
    threads: 1
    resources:
        **job_resources("make_table7"),
    params:
        entries=[d for d, _, _ in TABLE7_KEYS],
        datasets=STANDALONE_DATASETS,
        replicates=REPLICATES,
        data={d: data_of(d) for d in STANDALONE_DATASETS},
        settings={d: paper.run_setting(config, "standalone", d) for d in STANDALONE_DATASETS},
        confidence=config["metrics"]["confidence"],
    script:
        "../../scripts/make_table7.py"


rule make_table9:
    input:
        metrics=[f"results/{d}/finetune/{r}/attacks/{t}/metrics.json"
                 for d in FINETUNE_DATASETS for r in REPLICATES for t in FINETUNE_TASKS],
        finetuned=finetune_paths("results/{dataset}/finetune/{rep}/models/finetuned/meta.json"),
        provenance=provenance(FINETUNE_DATASETS),
    output:
        csv=report("results/tables/table9.csv", caption="../report/table9.rst", category="Tables",
                   subcategory="Fine-tuning", labels={"table": "table9"}),
        md="results/tables/table9.md",
    log:
        "logs/tables/table9.log",
    benchmark:
        "benchmarks/tables/table9.tsv",
    threads: 1
    resources:
        **job_resources("make_table9"),
    params:
        datasets=FINETUNE_DATASETS,
        replicates=REPLICATES,
        data={d: data_of(d) for d in FINETUNE_DATASETS},
        tasks=FINETUNE_TASKS,
        settings={d: paper.run_setting(config, "finetune", d) for d in FINETUNE_DATASETS},
        confidence=config["metrics"]["confidence"],
    script:
        "../../scripts/make_table9.py"


def federated_table_inputs(wc):
    runs = {"table10": ["passive", "central_ascent", "isolating", "isolating_ascent", "local_ascent"],
            "table12": ["passive"], "table13": None}[wc.table]
    datasets = FEDERATED_DATASETS if wc.table == "table10" else FEDERATED["sweep_datasets"]
    return {
        "metrics": federated_paths("results/{dataset}/federated/{rep}/attacks/{run}/metrics.json",
                                   datasets, runs),
        "provenance": provenance(datasets),
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
    benchmark:
        "benchmarks/tables/{table}.tsv",
    threads: 1
    resources:
        **job_resources("make_federated_table"),
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
        settings={d: paper.run_setting(config, "federated", d) for d in FEDERATED_DATASETS},
        confidence=config["metrics"]["confidence"],
    script:
        "../../scripts/make_federated_table.py"


# The claims table: each qualitative claim of the paper (deepleak/paper.py CLAIMS) judged per dataset
# from the per-record scores of the table rows it compares (deepleak/claims.py).
CLAIM_TABLES = sorted({claim.table for claim in paper.CLAIMS})
CLAIM_DATASETS = {
    t: {"table9": FINETUNE_DATASETS, "table10": FEDERATED_DATASETS,
        "table12": FEDERATED["sweep_datasets"], "table13": FEDERATED["sweep_datasets"],
        "table_calibrated": CALIBRATED_DATASETS}.get(t, STANDALONE_DATASETS)
    for t in CLAIM_TABLES
}


def claim_jobs():
    """(dataset, scenario, replicate, job) of every attack job whose scores the claims read: the
    stand-alone attacks of their tables and the baselines, every fine-tuning task, every federated
    run."""
    n_knowledge = len(STANDALONE["knowledge_fractions"])
    standalone = [a for t in CLAIM_TABLES if t in paper.STANDALONE_TABLES
                  for a in paper.standalone_table(t, n_knowledge).attacks]
    standalone = list(dict.fromkeys([*standalone, *paper.TABLE7.attacks, "baselines"]))
    return [*([d, "standalone", r, a] for d in STANDALONE_DATASETS for r in REPLICATES
              for a in standalone),
            *([d, "finetune", r, t] for d in FINETUNE_DATASETS for r in REPLICATES
              for t in FINETUNE_TASKS),
            *([d, "federated", r, run] for d in FEDERATED_DATASETS for r in REPLICATES
              for run in federated_runs(d)),
            # The calibrated attacks' claim (deepleak/paper.py CALIBRATED_CLAIMS).
            *([d, "standalone", r, "calibrated"] for d in CLAIM_DATASETS.get("table_calibrated", [])
              for r in REPLICATES)]


CLAIM_JOBS = claim_jobs()
CLAIM_PROVENANCE = sorted({d for datasets in CLAIM_DATASETS.values() for d in datasets})


rule make_claims:
    input:
        metrics=[f"results/{d}/{s}/{r}/attacks/{j}/metrics.json" for d, s, r, j in CLAIM_JOBS],
        scores=[f"results/{d}/{s}/{r}/attacks/{j}/scores.npz" for d, s, r, j in CLAIM_JOBS],
        provenance=provenance(CLAIM_PROVENANCE),
        # The claims' verdicts live in this library module: editing it reruns this table alone.
        library=str(Path(workflow.basedir) / "scripts/deepleak/claims.py"),
    output:
        csv=report("results/tables/claims.csv", caption="../report/claims.rst", category="Tables",
                   subcategory="Claims", labels={"table": "claims"}),
        md="results/tables/claims.md",
    log:
        "logs/tables/claims.log",
    benchmark:
        "benchmarks/tables/claims.tsv",
    threads: 1
    resources:
        **job_resources("make_claims"),
    params:
        jobs=CLAIM_JOBS,
        datasets=CLAIM_DATASETS,
        provenance_datasets=CLAIM_PROVENANCE,
        replicates=REPLICATES,
        n_knowledge=len(STANDALONE["knowledge_fractions"]),
        parties=FEDERATED["parties"],
        party_sweep=FEDERATED["party_sweep"],
        rounds={d: federated_cfg(d)["rounds"] for d in FEDERATED_DATASETS},
        observed_epochs={d: federated_cfg(d)["observed_epochs"] for d in FEDERATED_DATASETS},
        epoch_sets={d: table12_epoch_sets(d) for d in FEDERATED_DATASETS},
        n_bootstrap=config["metrics"]["n_bootstrap"],
        confidence=config["metrics"]["confidence"],
        seed=artifact_seed("claims"),
    script:
        "../../scripts/make_claims.py"


rule claims:
    input:
        "results/tables/claims.csv",
        "results/tables/claims.md",


# ---- Calibrated attacks (LiRA, RMIA): table_calibrated ---------------------------------------------
# Each calibrated attack beside the paper's black-box and white-box (gradients) attacks and the loss
# threshold (deepleak/paper.py calibrated_table), and the most exposed records (record_risk).
CALIBRATED_TABLES = ["table_calibrated"] if CALIBRATED_DATASETS else []
CALIBRATED_TABLE_KEYS = [(d, r, a) for d in CALIBRATED_DATASETS for r in REPLICATES
                         for a in ["calibrated", *CALIBRATED_PAPER_ATTACKS, "baselines"]]


rule make_table_calibrated:
    input:
        metrics=[f"results/{d}/standalone/{r}/attacks/{a}/metrics.json"
                 for d, r, a in CALIBRATED_TABLE_KEYS],
        target=expand("results/{dataset}/standalone/{rep}/models/target/meta.json",
                      dataset=CALIBRATED_DATASETS, rep=REPLICATES),
        provenance=provenance(CALIBRATED_DATASETS),
        risk=expand("results/{dataset}/standalone/{rep}/risk/summary.json",
                    dataset=CALIBRATED_DATASETS, rep=REPLICATES),
        scores=[f"results/{d}/standalone/{r}/attacks/{a}/scores.npz" for d in CALIBRATED_DATASETS
                for r in REPLICATES for a in ["calibrated", *CALIBRATED_PAPER_ATTACKS]],
    output:
        csv=report("results/tables/table_calibrated.csv", caption="../report/table_calibrated.rst",
                   category="Tables", subcategory="Beyond the paper",
                   labels={"table": "table_calibrated"}),
        md="results/tables/table_calibrated.md",
        whitebox="results/tables/table_calibrated_whitebox.csv",
    log:
        "logs/tables/table_calibrated.log",
    benchmark:
        "benchmarks/tables/table_calibrated.tsv",
    threads: 1
    resources:
        **job_resources("make_table_calibrated"),
    params:
        entries=[d for d, _, _ in CALIBRATED_TABLE_KEYS],
        datasets=CALIBRATED_DATASETS,
        replicates=REPLICATES,
        settings={d: paper.run_setting(config, "standalone", d) for d in CALIBRATED_DATASETS},
        references=CALIBRATED["references"],
        paper_attacks=CALIBRATED_PAPER_ATTACKS,
        n_bootstrap=config["metrics"]["n_bootstrap"],
        confidence=config["metrics"]["confidence"],
        seed=artifact_seed("table_calibrated"),
    script:
        "../../scripts/make_table_calibrated.py"


rule table_calibrated:
    input:
        "results/tables/table_calibrated.csv",
        "results/tables/table_calibrated.md",
# ---- end of the calibrated attacks' block ---------------------------------------------------------

rule tables:
    input:
        expand("results/tables/{table}.{ext}", table=[*TABLES, "claims", *CALIBRATED_TABLES],
               ext=["csv", "md"]),


for _table in TABLES:

    rule:
        name:
            _table
        input:
            f"results/tables/{_table}.csv",
            f"results/tables/{_table}.md",


# --------------------------------------------------------------------------------------------------
# Table DP (beyond the paper; deepleak/dp_table.py): every privacy level of dp.datasets' targets and
# the non-private target, each attack's AUC and TPR at 1 % FPR with CIs, and the audit's empirical
# epsilon beside the accountant's. `snakemake --cores all table_dp`.
# --------------------------------------------------------------------------------------------------
DP_TABLE_LEVELS = [*DP_LEVELS, dl_audit.NON_PRIVATE]
# The table's attacks: dp.attacks, the loss threshold, then the calibrated attacks of
# dp.calibrated_attacks (rule dp_calibrated_attacks on the DP targets, rule calibrated_attacks on the
# non-private one; one scores.npz and metrics.json holds them all, "calibrated").
DP_TABLE_ATTACKS = [*DP["attacks"], "baseline_loss", *DP["calibrated_attacks"]]
DP_TABLE_KEYS = [(d, lv, r, a) for d in DP_DATASETS for lv in DP_TABLE_LEVELS for r in REPLICATES
                 for a in DP_TABLE_ATTACKS]


def dp_attack_dir(dataset, level, rep, attack):
    """The folder of an attack's scores.npz and metrics.json on a DP target (or, for level
    non_private, on the stand-alone target)."""
    job = ("baselines" if attack.startswith("baseline_")
           else "calibrated" if attack in DP["calibrated_attacks"] else attack)
    if level == dl_audit.NON_PRIVATE:
        return f"results/{dataset}/standalone/{rep}/attacks/{job}"
    return f"results/{dataset}/dp/{rep}/attacks/{level}/{job}"


def dp_meta(dataset, level, rep):
    if level == dl_audit.NON_PRIVATE:
        return f"results/{dataset}/standalone/{rep}/models/target/meta.json"
    return f"results/{dataset}/dp/{rep}/models/{level}/meta.json"


rule make_dp_table:
    input:
        metrics=[f"{dp_attack_dir(*k)}/metrics.json" for k in DP_TABLE_KEYS],
        scores=[f"{dp_attack_dir(*k)}/scores.npz" for k in DP_TABLE_KEYS],
        meta=[dp_meta(d, lv, r) for d in DP_DATASETS for lv in DP_TABLE_LEVELS for r in REPLICATES],
        provenance=provenance(DP_DATASETS),
    output:
        csv=report("results/tables/table_dp.csv", caption="../report/table_dp.rst",
                   category="Tables", subcategory="Beyond the paper", labels={"table": "table_dp"}),
        md="results/tables/table_dp.md",
    log:
        "logs/tables/table_dp.log",
    benchmark:
        "benchmarks/tables/table_dp.tsv"
    threads: 1
    resources:
        **job_resources("make_dp_table"),
    params:
        entries=DP_TABLE_KEYS,
        datasets=DP_DATASETS,
        levels=DP_TABLE_LEVELS,
        replicates=REPLICATES,
        # The audit's seeded split of the attack-test records into selection / evaluation halves.
        audit_seeds={f"{d}/{lv}": artifact_seed(d, "dp", lv, "audit") for d in DP_DATASETS
                     for lv in DP_TABLE_LEVELS},
        delta=DP["delta"],
        accountant=DP["accountant"],
        max_grad_norm=DP["max_grad_norm"],
        confidence=DP["audit_confidence"],
        # The LiRA rows' reference models: dp.references per DP target, the calibrated stage's for
        # the non-private one (none without dp.calibrated_attacks).
        references={"dp": DP["references"], "non_private": CALIBRATED["references"]}
        if DP["calibrated_attacks"] else None,
    script:
        "../../scripts/make_dp_table.py"


rule table_dp:
    input:
        "results/tables/table_dp.csv",
        "results/tables/table_dp.md",
