# Stage 5, tables: every paper table of every scenario, each a CSV and a Markdown page with the paper's
# value beside ours, and one named target per table (`snakemake --cores all table8`). One small script
# per table family over the shared table layer (deepleak/tables.py), so editing one reruns only its own.

STANDALONE_TABLES = ["table3", "table4", "table5", "table6", "table8"]
FEDERATED_TABLES = ["table10", "table12", "table13"]
TABLES = [*STANDALONE_TABLES, "table7", *(["table9"] if FINETUNE_DATASETS else []),
          *FEDERATED_TABLES]


def standalone_table_attacks(table):
    if table == "table8":
        return [a for _, a in paper.TABLE8_COLUMNS]
    if table == "table6":
        return [paper.knowledge_attack(i) for i in range(len(STANDALONE["knowledge_fractions"]))]
    return [r.attack for r in paper.STANDALONE_TABLES[table]]


def standalone_table_keys(table):
    return [(d, r, a) for d in STANDALONE_DATASETS for r in REPLICATES
            for a in standalone_table_attacks(table)]


def standalone_table_inputs(wc):
    keys = standalone_table_keys(wc.table)
    base = "results/{}/standalone/{}"
    return {
        "metrics": [f"{base.format(d, r)}/attacks/{a}/metrics.json" for d, r, a in keys],
        "baselines": standalone_paths("results/{dataset}/standalone/{rep}/attacks/baselines/metrics.json"),
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
    params:
        entries=lambda wc: standalone_table_keys(wc.table),
        datasets=STANDALONE_DATASETS,
        replicates=REPLICATES,
        knowledge_fractions=STANDALONE["knowledge_fractions"],
        confidence=config["metrics"]["confidence"],
    script:
        "../../scripts/make_standalone_table.py"


def table7_paths(attack):
    return standalone_paths(f"results/{{dataset}}/standalone/{{rep}}/attacks/{attack}/metrics.json",
                            datasets=STANDALONE_DATASETS)


rule make_table7:
    input:
        unsupervised=table7_paths("unsupervised"),
        shadow_model=table7_paths("shadow_model"),
        supervised=table7_paths(paper.TABLE8_COLUMNS[-1][1]),
        baselines=table7_paths("baselines"),
        target=standalone_paths("results/{dataset}/standalone/{rep}/models/target/meta.json",
                                datasets=STANDALONE_DATASETS),
        provenance=provenance(STANDALONE_DATASETS),
    output:
        csv=report("results/tables/table7.csv", caption="../report/table7.rst", category="Tables",
                   subcategory="Stand-alone", labels={"table": "table7"}),
        md="results/tables/table7.md",
    log:
        "logs/tables/table7.log",
    params:
        datasets=STANDALONE_DATASETS,
        replicates=REPLICATES,
        data={d: data_of(d) for d in STANDALONE_DATASETS},
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
    params:
        datasets=FINETUNE_DATASETS,
        replicates=REPLICATES,
        data={d: data_of(d) for d in FINETUNE_DATASETS},
        tasks=FINETUNE_TASKS,
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
    params:
        datasets=lambda wc: FEDERATED_DATASETS if wc.table == "table10" else FEDERATED["sweep_datasets"],
        replicates=REPLICATES,
        parties=FEDERATED["parties"],
        party_sweep=FEDERATED["party_sweep"],
        rounds={d: federated_cfg(d)["rounds"] for d in FEDERATED_DATASETS},
        observed_epochs={d: federated_cfg(d)["observed_epochs"] for d in FEDERATED_DATASETS},
        epoch_sets={d: table12_epoch_sets(d) for d in FEDERATED_DATASETS},
        # How Table X's paper values are looked up (deepleak/paper.py paper_reference).
        references={d: [data_of(d), dataset_cfg(d)["model"]["arch"]] for d in FEDERATED_DATASETS},
        confidence=config["metrics"]["confidence"],
    script:
        "../../scripts/make_federated_table.py"


rule tables:
    input:
        expand("results/tables/{table}.{ext}", table=TABLES, ext=["csv", "md"]),


for _table in TABLES:

    rule:
        name:
            _table
        input:
            f"results/tables/{_table}.csv",
            f"results/tables/{_table}.md",
