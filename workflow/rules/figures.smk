# Stage 6: the paper's figures (Figure 3: gradient norms over training; Figure 4: gradient-norm
# histograms) and a linear plus log-log ROC figure for every attack.

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
        expand("figures/roc/{dataset}/{rep}/{attack}.png", dataset=STANDALONE_DATASETS,
               rep=FIGURE_REP, attack=STANDALONE_ATTACKS),


rule figure3:
    input:
        "figures/figure3.png",


rule figure4:
    input:
        "figures/figure4.png",
