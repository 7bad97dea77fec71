"""Figure DP: the attacks' AUC and TPR at 1 % FPR against the privacy level, test accuracy on a
second axis (rule figure_dp_plot; deepleak/plots.py figure_dp)."""
import pandas as pd
from deepleak import dp_table, metrics, plots


def main(table_path, png, pdf):
    table = pd.read_csv(table_path)
    plots.save(plots.figure_dp(table, metrics.tpr_key(dp_table.TPR_FPR)), png, pdf)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.table, snakemake.output.png, snakemake.output.pdf)
