# Stage 5: the paper's tables (Tables III, IV, V, VI and VIII for the stand-alone scenario), each a CSV
# and a Markdown page with the paper's value beside ours.

STANDALONE_TABLES = list(paper.STANDALONE_TABLES)


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
        entries=lambda wc: [d for d, _, _ in standalone_table_keys(wc.table)],
        datasets=STANDALONE_DATASETS,
        replicates=REPLICATES,
        n_knowledge=len(STANDALONE["knowledge_fractions"]),
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
