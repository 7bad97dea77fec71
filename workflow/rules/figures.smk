# Stage 6: the paper's figures (Figure 2: per-class gradient norms and ROC; Figure 3: gradient norms over
# training; Figure 4: gradient-norm histograms; Figure 6: ROC by uncertainty gap) and a linear plus
# log-log ROC figure for every attack.

FIGURE_REP = REPLICATES[0]  # figures show the first replicate; tables aggregate all of them


rule figure3_plot:
    input:
        history=expand("results/{dataset}/standalone/{rep}/models/target/history.csv",
                       dataset=STANDALONE_DATASETS, rep=FIGURE_REP),
        provenance=expand("results/{dataset}/provenance.json", dataset=STANDALONE_DATASETS),
    output:
        png=report("figures/figure3.png", caption="../report/figure3.rst", category="Figures"),
        pdf="figures/figure3.pdf",
    log:
        "logs/figures/figure3.log",
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
        provenance=expand("results/{dataset}/provenance.json", dataset=STANDALONE_DATASETS),
    output:
        png=report("figures/figure4.png", caption="../report/figure4.rst", category="Figures"),
        pdf="figures/figure4.pdf",
    log:
        "logs/figures/figure4.log",
    params:
        datasets=STANDALONE_DATASETS,
    script:
        "../../scripts/plot_figure4.py"


# Figures 2 and 6: per-class leakage (gradient-norm gap; prediction-uncertainty gap, SPEC.md 6) and the
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
            provenance=expand("results/{dataset}/provenance.json", dataset=STANDALONE_DATASETS),
        output:
            png=report(f"figures/{_figure}.png", caption=f"../report/{_figure}.rst", category="Figures"),
            pdf=f"figures/{_figure}.pdf",
        log:
            f"logs/figures/{_figure}.log",
        params:
            figure=_figure,
            datasets=STANDALONE_DATASETS,
            attack=paper.WHITE_BOX,
            min_per_class=STANDALONE.get("per_class_min_records", 10),
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
    params:
        attacks=STANDALONE_ATTACKS,
    script:
        "../../scripts/plot_roc.py"


rule figures:
    input:
        "figures/figure3.png",
        "figures/figure4.png",
        "figures/figure2.png",
        "figures/figure6.png",
        expand("figures/roc/{dataset}/{rep}/{attack}.png", dataset=STANDALONE_DATASETS,
               rep=FIGURE_REP, attack=STANDALONE_ATTACKS),


rule figure3:
    input:
        "figures/figure3.png",


rule figure4:
    input:
        "figures/figure4.png",


rule figure2:
    input:
        "figures/figure2.png",


rule figure6:
    input:
        "figures/figure6.png",
