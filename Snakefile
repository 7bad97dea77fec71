# DeepLeak: Nasr, Shokri & Houmansadr, "Comprehensive Privacy Analysis of Deep Learning" (S&P 2019),
# every table and figure as a Snakemake DAG. Read this file as the table of contents: README.md says how
# to run it, workflow/rules/*.smk hold one pipeline stage each (for every scenario: stand-alone,
# fine-tuning, federated), scripts/ one thin script per rule, scripts/deepleak/ the science.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


# Checks types and ranges and fills in every default the schema declares (the one place for them).
validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/federated.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/attacks.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/audit.smk"


rule all:
    default_target: True
    input:
        rules.tables.input,
        rules.figures.input,
        # Beyond the paper: DP-SGD targets (dp.datasets; none: no DP stage).
        rules.table_dp.input if DP_DATASETS else [],
        rules.figure_dp.input if DP_DATASETS else [],
