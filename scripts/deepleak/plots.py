"""The paper's figures and the ROC curves every attack gets (linear and log-log axes).

Figures are saved as PNG and PDF with fixed metadata, so the same data give the same files.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402

sns.set_theme(style="whitegrid", context="paper")
MEMBER, NONMEMBER = "#1f77b4", "#d62728"


def save(fig, png_path, pdf_path=None) -> None:
    from deepleak.artifacts import atomic_path

    with atomic_path(png_path, ".png") as tmp:
        fig.savefig(tmp, dpi=150, bbox_inches="tight", format="png", metadata={"Software": None})
    if pdf_path:
        with atomic_path(pdf_path, ".pdf") as tmp:
            fig.savefig(tmp, bbox_inches="tight", format="pdf",
                        metadata={"CreationDate": None, "ModDate": None, "Producer": None})
    plt.close(fig)


def _panels(n: int, width: float = 4.2, height: float = 3.2):
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False)
    return fig, axes[0]


def figure3(histories: dict[str, "pd.DataFrame"], titles: dict[str, str]):
    """Figure 3: mean last-layer gradient norm of members and non-members over training epochs."""
    fig, axes = _panels(len(histories))
    for ax, (dataset, h) in zip(axes, histories.items(), strict=True):
        ax.plot(h["epoch"], h["member_grad_norm"], color=MEMBER, marker="o", ms=3, label="Members")
        ax.plot(h["epoch"], h["nonmember_grad_norm"], color=NONMEMBER, marker="s", ms=3,
                label="Non-members")
        ax.set(xlabel="Training epoch", ylabel="Mean last-layer gradient norm",
               title=titles[dataset])
        ax.legend()
    return fig


def figure4(norms: dict[str, tuple[np.ndarray, np.ndarray]], titles: dict[str, str],
            bins: int = 20):
    """Figure 4: histograms (fraction of records) of last-layer gradient norms."""
    fig, axes = _panels(len(norms))
    for ax, (dataset, (members, nonmembers)) in zip(axes, norms.items(), strict=True):
        edges = np.linspace(0.0, float(np.percentile(np.r_[members, nonmembers], 99.5)) or 1.0,
                            bins + 1)
        for values, color, label in ((members, MEMBER, "Members"),
                                     (nonmembers, NONMEMBER, "Non-members")):
            weights = np.full(len(values), 1.0 / len(values))
            ax.hist(np.clip(values, edges[0], edges[-1]), bins=edges, weights=weights, color=color,
                    alpha=0.55, label=label)
        ax.set(xlabel="Last-layer gradient norm", ylabel="Fraction of records",
               title=titles[dataset])
        ax.legend()
    return fig


def roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray, float]], title: str,
               highlight: str | None = None, styles: dict[str, dict] | None = None):
    """ROC curves on linear axes and on log-log axes (low-FPR regime, Carlini et al. 2022). Curve
    labels and ``title`` are the caller's, in the paper's words (an attack's description);
    ``styles``: matplotlib line settings of some curves, by label."""
    fig, (lin, log) = _panels(2)
    for label, (fpr, tpr, auc) in curves.items():
        style = {"lw": 2.2} if label == highlight else {"lw": 1.0, "alpha": 0.8}
        style.update((styles or {}).get(label, {}))
        for ax in (lin, log):
            ax.plot(fpr, tpr, label=f"{label} (AUC {auc:.3f})", **style)
    grid = np.logspace(-5, 0, 100)
    lin.plot([0, 1], [0, 1], "k--", lw=0.8, label="Random guess")
    log.plot(grid, grid, "k--", lw=0.8)
    lin.set(xlabel="False positive rate", ylabel="True positive rate", title="Linear axes")
    log.set(xscale="log", yscale="log", xlim=(1e-4, 1), ylim=(1e-4, 1),
            xlabel="False positive rate", ylabel="True positive rate",
            title="Log-log axes (low false positive rates)")
    fig.tight_layout()
    # Below both panels: curve labels are attack descriptions, too long for a legend inside a panel.
    fig.legend(*lin.get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.0),
               fontsize=7, frameon=False)
    fig.suptitle(textwrap.fill(title, 90), fontsize=9, y=1.0, va="bottom")
    return fig


def ensure_dir(path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)


def _class_rocs(ax, rocs: dict, gap_label: str) -> None:
    for size, (cls, gap, (fpr, tpr, auc)) in rocs.items():
        label = f"{size} {gap_label} ({gap:.3g}): class {cls}, AUC {auc:.3f}"
        ax.plot(fpr, tpr, lw=1.6, label=label)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="Random guess")
    ax.set(xlabel="False positive rate", ylabel="True positive rate")
    ax.legend(fontsize=6, loc="lower right")


def figure2(panels: dict[str, dict], titles: dict[str, str]):
    """Figure 2: (a) mean last-layer gradient norm per class, members vs non-members, classes sorted
    by the non-member mean; (b) the attack's ROC on the classes with a small, medium and large gap.
    ``panels[d]["attack"]`` names the attack in the paper's words."""
    fig, axes = plt.subplots(len(panels), 2, figsize=(8.4, 3.2 * len(panels)), squeeze=False)
    for (ax_a, ax_b), (dataset, p) in zip(axes, panels.items(), strict=True):
        stats = p["stats"]
        order = np.argsort(np.nan_to_num(stats["nonmember_mean"], nan=-np.inf), kind="stable")
        x = np.arange(len(order))
        ax_a.plot(x, stats["member_mean"][order], color=MEMBER, marker="o", ms=2, lw=0.8,
                  label="Members")
        ax_a.plot(x, stats["nonmember_mean"][order], color=NONMEMBER, marker="s", ms=2, lw=0.8,
                  label="Non-members")
        if len(order) <= 20:  # few classes: name them
            ax_a.set_xticks(x, [str(c) for c in order])
        ax_a.set(xlabel="Class (sorted by the non-member mean)",
                 ylabel="Mean last-layer gradient norm", title=f"(a) {titles[dataset]}")
        ax_a.legend(fontsize=7)
        _class_rocs(ax_b, p["rocs"], "gradient-norm gap")
        ax_b.set_title(f"(b) {titles[dataset]}: {p['attack']}", fontsize=8)
    fig.tight_layout()
    return fig


def figure6(panels: dict[str, dict], titles: dict[str, str]):
    """Figure 6: the attack's ROC on the classes with a small, medium and large gap in prediction
    uncertainty (mean normalised entropy of non-members minus members)."""
    fig, axes = _panels(len(panels))
    for ax, (dataset, p) in zip(axes, panels.items(), strict=True):
        _class_rocs(ax, p["rocs"], "uncertainty gap")
        ax.set_title(f"{titles[dataset]}: {p['attack']}", fontsize=8)
    return fig


def figure5(codes: dict[str, tuple[np.ndarray, np.ndarray, float]], titles: dict[str, str],
            bins: int = 40):
    """Figure 5: histograms (fraction of records) of the unsupervised encoder's output, the "encoded
    value", for members and non-members; the dashed line is the threshold the clustering found."""
    fig, axes = _panels(len(codes))
    for ax, (dataset, (members, nonmembers, threshold)) in zip(axes, codes.items(), strict=True):
        both = np.r_[members, nonmembers]
        lo, hi = np.percentile(both, [0.5, 99.5])
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
        for values, color, label in ((members, MEMBER, "Members"),
                                     (nonmembers, NONMEMBER, "Non-members")):
            weights = np.full(len(values), 1.0 / len(values))
            ax.hist(np.clip(values, edges[0], edges[-1]), bins=edges, weights=weights, color=color,
                    alpha=0.55, label=label)
        ax.axvline(threshold, color="k", ls="--", lw=0.8, label="Cluster threshold")
        ax.set(xlabel="Encoded value", ylabel="Fraction of records", title=titles[dataset])
        ax.legend()
    return fig


# --------------------------------------------------------------------------------------------------
# Figure DP (beyond the paper): attack success against the privacy level (table_dp's rows)
# --------------------------------------------------------------------------------------------------
def figure_dp(table: "pd.DataFrame", tpr_column: str):
    """Per dataset two panels: each attack's AUC, then its TPR at 1 % FPR (%), against the privacy
    level (the epsilons in increasing order, then clip-only and non-private), with 95 % CIs as
    error bars; the targets' test accuracy on the second axis of each panel (grey)."""
    datasets = list(dict.fromkeys(table["dataset"]))
    fig, axes = plt.subplots(len(datasets), 2, figsize=(9.5, 3.4 * len(datasets)), squeeze=False)
    for row, dataset in zip(axes, datasets, strict=True):
        rows = table[table["dataset"] == dataset]
        levels = list(dict.fromkeys(rows["privacy"]))
        x = np.arange(len(levels))
        accuracy = rows.drop_duplicates("privacy").set_index("privacy")["test_acc"]
        for ax, (column, label) in zip(row, (("auc", "attack AUC"),
                                             (tpr_column, "TPR at 1 % FPR (%)")), strict=True):
            for attack, group in rows.groupby("row", sort=False):
                g = group.set_index("privacy").loc[levels]
                err = np.vstack([g[column] - g[f"{column}_ci_low"],
                                 g[f"{column}_ci_high"] - g[column]])
                ax.errorbar(x, g[column], yerr=np.nan_to_num(err), marker="o", capsize=3,
                            label=textwrap.shorten(attack, 40))
            if column == "auc":
                ax.axhline(0.5, color="black", lw=0.8, ls=":")
            twin = ax.twinx()
            twin.plot(x, accuracy.loc[levels], color="grey", ls="--", marker="s",
                      label="test accuracy")
            twin.set_ylabel("target test accuracy (%)", color="grey")
            twin.grid(False)
            ax.set_xticks(x, levels, rotation=20)
            ax.set_ylabel(label)
            ax.set_title(dataset)
        row[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig
