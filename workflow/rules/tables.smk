# Stage 5: the paper's tables (Tables III, IV, V, VI and VIII for the stand-alone scenario), each a CSV
# and a Markdown page with the paper's value beside ours.

STANDALONE_TABLES = ["table3", "table4", "table5", "table6", "table8"]


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
        "provenance": expand("results/{dataset}/provenance.json", dataset=STANDALONE_DATASETS),
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


rule tables:
    input:
        expand("results/tables/{table}.{ext}", table=STANDALONE_TABLES, ext=["csv", "md"]),


# One named target per paper table: `snakemake --cores all table8`.
for _table in STANDALONE_TABLES:

    rule:
        name:
            _table
        input:
            f"results/tables/{_table}.csv",
            f"results/tables/{_table}.md",
