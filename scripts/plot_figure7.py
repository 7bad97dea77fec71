"""Figure 7: the last-layer gradient norm over the rounds of the global (server's) gradient-ascent
attack, for the target members and non-members and for as many non-target ones (rule
figure7_plot)."""
import pandas as pd
from deepleak import artifacts, plots

# Panels as in the paper's Fig. 7: which tracked groups each one compares.
PANELS = [
    ("(a) target vs non-target members",
     [("target_members", "Target members", plots.MEMBER, "-"),
      ("nontarget_members", "Non-target members", "#17becf", "--")]),
    ("(b) target vs non-target non-members",
     [("target_nonmembers", "Target non-members", plots.NONMEMBER, "-"),
      ("nontarget_nonmembers", "Non-target non-members", "#ff7f0e", "--")]),
    ("(c) target members vs target non-members",
     [("target_members", "Target members", plots.MEMBER, "-"),
      ("target_nonmembers", "Target non-members", plots.NONMEMBER, "-")]),
]


def figure7(active: dict, passive: dict, titles: dict, gamma: float):
    """One row per dataset, panels (a)-(c); panel (c) also shows the passive run's target records
    (thin dotted lines): what the ascent changes."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(len(active), 3, figsize=(12.6, 3.2 * len(active)), squeeze=False)
    for row, dataset in zip(axes, active, strict=True):
        h, p = active[dataset], passive[dataset]
        for ax, (title, groups) in zip(row, PANELS, strict=True):
            for key, label, color, style in groups:
                ax.plot(h["round"], h[f"grad_norm_{key}"], style, color=color, marker="o", ms=2.5,
                        label=label)
            if title.startswith("(c)"):
                for key, label, color in (("target_members", "Target members", plots.MEMBER),
                                          ("target_nonmembers", "Target non-members",
                                           plots.NONMEMBER)):
                    ax.plot(p["round"], p[f"grad_norm_{key}"], ":", color=color, lw=1,
                            label=f"{label}, passive run")
            ax.set(xlabel="Round (epoch)", title=title,
                   ylabel=f"{titles[dataset]}\nmean last-layer gradient norm")
            ax.set_ylim(bottom=0)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(fontsize=7)
    fig.suptitle("Global active gradient-ascent attack (Eq. 2, adversarial update rate "
                 f"γ = {gamma}): the target party's uploads", y=1.0)
    fig.tight_layout()
    return fig


def main(active_paths, passive_paths, provenance_paths, png, pdf, *, datasets, gamma):
    active = {d: pd.read_csv(p) for d, p in zip(datasets, active_paths, strict=True)}
    passive = {d: pd.read_csv(p) for d, p in zip(datasets, passive_paths, strict=True)}
    sources = [artifacts.load_json(p)["source"] for p in provenance_paths]
    titles = {d: f"{d} ({'stand-in' if s == 'synthetic' else 'real'})"
              for d, s in zip(datasets, sources, strict=True)}
    plots.save(figure7(active, passive, titles, gamma), png, pdf)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.active, snakemake.input.passive, snakemake.input.provenance,
         snakemake.output.png, snakemake.output.pdf, **snakemake.params)
