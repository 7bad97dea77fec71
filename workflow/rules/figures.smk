# Stage 6, figures: the paper's figures (Figure 2: per-class gradient norms and ROC; Figure 3: gradient
# norms over training; Figure 4: gradient-norm histograms; Figure 5: the unsupervised attack's codes;
# Figure 6: ROC by uncertainty gap; Figure 7: gradient norms over federated rounds under gradient
# ascent) and a linear plus log-log ROC figure for every stand-alone attack. One named target per figure.

FIGURES = [f"figure{i}" for i in range(2, 8)]


rule figure3_plot:
    input:
        history=expand("results/{dataset}/standalone/{rep}/models/target/history.csv",
                       dataset=STANDALONE_DATASETS, rep=FIGURE_REP),
        provenance=provenance(STANDALONE_DATASETS),
    output:
        png=report("figures/figure3.png", caption="../report/figure3.rst", category="Figures"),
        pdf="figures/figure3.pdf",
    log:
        "logs/figures/figure3.log",
    benchmark:
        "benchmarks/figures/figure3.tsv",
    threads: 1
    resources:
        **job_resources("figure3_plot"),
    params:
        datasets=STANDALONE_DATASETS,
    script:
        "../../scripts/plot_figure3.py"


rule figure4_plot:
    input:
        features=expand("results/{dataset}/standalone/{rep}/features/target.npz",
                        dataset=STANDALONE_DATASETS, rep=FIGURE_REP),
        splits=expand("results/{dataset}/standalone/{rep}/splits.npz",
                      dataset=STANDALONE_DATASETS, rep=FIGURE_REP),
        provenance=provenance(STANDALONE_DATASETS),
    output:
        png=report("figures/figure4.png", caption="../report/figure4.rst", category="Figures"),
        pdf="figures/figure4.pdf",
    log:
        "logs/figures/figure4.log",
    benchmark:
        "benchmarks/figures/figure4.tsv",
    threads: 1
    resources:
        **job_resources("figure4_plot"),
    params:
        datasets=STANDALONE_DATASETS,
    script:
        "../../scripts/plot_figure4.py"


# Figures 2 and 6: per-class leakage (gradient-norm gap; prediction-uncertainty gap, Eq. 5) and the
# ROC of the last-layer gradient attack (Table VIII's white-box column) on a small / medium / large gap class.
for _figure in ("figure2", "figure6"):

    rule:
        name:
            f"{_figure}_plot"
        input:
            features=expand("results/{dataset}/standalone/{rep}/features/target.npz",
                            dataset=STANDALONE_DATASETS, rep=FIGURE_REP),
            scores=expand("results/{dataset}/standalone/{rep}/attacks/{attack}/scores.npz",
                          dataset=STANDALONE_DATASETS, rep=FIGURE_REP,
                          attack=paper.WHITE_BOX),
            provenance=provenance(STANDALONE_DATASETS),
        output:
            png=report(f"figures/{_figure}.png", caption=f"../report/{_figure}.rst", category="Figures"),
            pdf=f"figures/{_figure}.pdf",
        log:
            f"logs/figures/{_figure}.log",
        benchmark:
            f"benchmarks/figures/{_figure}.tsv",
        threads: 1
        resources:
            **job_resources(f"{_figure}_plot"),
        params:
            figure=_figure,
            datasets=STANDALONE_DATASETS,
            attack=paper.WHITE_BOX,
            min_per_class=STANDALONE["per_class_min_records"],
        script:
            "../../scripts/plot_per_class.py"


rule roc_plots:
    input:
        scores=expand("results/{{dataset}}/standalone/{{rep}}/attacks/{attack}/scores.npz",
                      attack=STANDALONE_ATTACKS),
        baselines="results/{dataset}/standalone/{rep}/attacks/baselines/scores.npz",
        provenance="results/{dataset}/provenance.json",
    output:
        png=[report(f"figures/roc/{{dataset}}/{{rep}}/{a}.png", caption="../report/roc.rst",
                    category="ROC curves", subcategory="{dataset}", labels={"attack": a})
             for a in STANDALONE_ATTACKS],
    log:
        "logs/figures/roc_{dataset}_{rep}.log",
    benchmark:
        "benchmarks/figures/roc_{dataset}_{rep}.tsv",
    threads: 1
    resources:
        **job_resources("roc_plots"),
    params:
        attacks=STANDALONE_ATTACKS,
        knowledge_fractions=STANDALONE["knowledge_fractions"],
    script:
        "../../scripts/plot_roc.py"


rule figure5_plot:
    input:
        scores=expand("results/{dataset}/standalone/{rep}/attacks/unsupervised/scores.npz",
                      dataset=STANDALONE_DATASETS, rep=FIGURE_REP),
        provenance=provenance(STANDALONE_DATASETS),
    output:
        png=report("figures/figure5.png", caption="../report/figure5.rst", category="Figures"),
        pdf="figures/figure5.pdf",
    log:
        "logs/figures/figure5.log",
    benchmark:
        "benchmarks/figures/figure5.tsv",
    threads: 1
    resources:
        **job_resources("figure5_plot"),
    params:
        datasets=STANDALONE_DATASETS,
    script:
        "../../scripts/plot_figure5.py"


rule figure7_plot:
    input:
        active=expand("results/{dataset}/federated/{rep}/models/central_ascent/history.csv",
                      dataset=FEDERATED_DATASETS, rep=FIGURE_REP),
        passive=expand("results/{dataset}/federated/{rep}/models/passive/history.csv",
                       dataset=FEDERATED_DATASETS, rep=FIGURE_REP),
        provenance=provenance(FEDERATED_DATASETS),
    output:
        png=report("figures/figure7.png", caption="../report/figure7.rst", category="Figures"),
        pdf="figures/figure7.pdf",
    log:
        "logs/figures/figure7.log",
    benchmark:
        "benchmarks/figures/figure7.tsv",
    threads: 1
    resources:
        **job_resources("figure7_plot"),
    params:
        datasets=FEDERATED_DATASETS,
        gamma=FEDERATED["gamma"],
    script:
        "../../scripts/plot_figure7.py"


# ---- Calibrated attacks (LiRA, RMIA): the ROC figure ---------------------------------------------
# Every calibrated attack beside the paper's black-box and white-box (gradients) attacks and the loss
# threshold, on linear and log-log axes (low FPR).
rule roc_calibrated:
    input:
        scores="results/{dataset}/standalone/{rep}/attacks/calibrated/scores.npz",
        metrics="results/{dataset}/standalone/{rep}/attacks/calibrated/metrics.json",
        paper=expand("results/{{dataset}}/standalone/{{rep}}/attacks/{attack}/scores.npz",
                     attack=CALIBRATED_PAPER_ATTACKS),
        baselines="results/{dataset}/standalone/{rep}/attacks/baselines/scores.npz",
        provenance="results/{dataset}/provenance.json",
    output:
        png=report("figures/calibrated_roc/{dataset}/{rep}.png",
                   caption="../report/calibrated_roc.rst", category="Beyond the paper",
                   subcategory="{dataset}", labels={"figure": "calibrated ROC"}),
        pdf="figures/calibrated_roc/{dataset}/{rep}.pdf",
    log:
        "logs/figures/roc_calibrated_{dataset}_{rep}.log",
    benchmark:
        "benchmarks/figures/roc_calibrated_{dataset}_{rep}.tsv",
    threads: 1
    resources:
        **job_resources("roc_calibrated"),
    params:
        paper_attacks=CALIBRATED_PAPER_ATTACKS,
    script:
        "../../scripts/plot_calibrated_roc.py"


rule figure_calibrated_roc:
    input:
        expand("figures/calibrated_roc/{dataset}/{rep}.{ext}", dataset=CALIBRATED_DATASETS,
               rep=FIGURE_REP, ext=["png", "pdf"]),
# ---- end of the calibrated attacks' block ---------------------------------------------------------

rule figures:
    input:
        expand("figures/{figure}.{ext}", figure=FIGURES, ext=["png", "pdf"]),
        expand("figures/calibrated_roc/{dataset}/{rep}.{ext}", dataset=CALIBRATED_DATASETS,
               rep=FIGURE_REP, ext=["png", "pdf"]),
        expand("figures/roc/{dataset}/{rep}/{attack}.png", dataset=STANDALONE_DATASETS,
               rep=FIGURE_REP, attack=STANDALONE_ATTACKS),


for _figure in FIGURES:

    rule:
        name:
            _figure
        input:
            f"figures/{_figure}.png",
            f"figures/{_figure}.pdf",


# --------------------------------------------------------------------------------------------------
# Figure DP (beyond the paper): each attack's AUC and TPR at 1 % FPR against the privacy level, the
# targets' test accuracy on a second axis (from table_dp's CSV). `snakemake --cores all figure_dp`.
# --------------------------------------------------------------------------------------------------
rule figure_dp_plot:
    input:
        table="results/tables/table_dp.csv",
    output:
        png=report("figures/figure_dp.png", caption="../report/figure_dp.rst", category="Figures",
                   subcategory="Beyond the paper"),
        pdf="figures/figure_dp.pdf",
    log:
        "logs/figures/figure_dp.log",
    benchmark:
        "benchmarks/figures/figure_dp.tsv"
    threads: 1
    resources:
        **job_resources("figure_dp_plot"),
    script:
        "../../scripts/plot_figure_dp.py"


rule figure_dp:
    input:
        "figures/figure_dp.png",
        "figures/figure_dp.pdf",
