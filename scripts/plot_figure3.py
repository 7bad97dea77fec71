"""Figure 3: last-layer gradient norm of members vs non-members over training epochs
(rule figure3_plot)."""
import pandas as pd
from deepleak import artifacts, plots


def main(history_paths, provenance_paths, png, pdf, *, datasets):
    histories = {d: pd.read_csv(p) for d, p in zip(datasets, history_paths, strict=True)}
    sources = {d: artifacts.load_json(p)["source"]
               for d, p in zip(datasets, provenance_paths, strict=True)}
    titles = {d: f"{d} ({'stand-in' if s == 'synthetic' else 'real'})" for d, s in sources.items()}
    plots.save(plots.figure3(histories, titles), png, pdf)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.history, snakemake.input.provenance, snakemake.output.png,
         snakemake.output.pdf, **snakemake.params)
