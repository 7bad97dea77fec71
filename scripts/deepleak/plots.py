"""The paper's figures and the ROC curves every attack gets (linear and log-log axes).

Figures are saved as PNG and PDF with fixed metadata, so the same data give the same files.
"""
from __future__ import annotations

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
    for ax, (dataset, h) in zip(axes, histories.items()):
        ax.plot(h["epoch"], h["member_grad_norm"], color=MEMBER, marker="o", ms=3, label="Members")
        ax.plot(h["epoch"], h["nonmember_grad_norm"], color=NONMEMBER, marker="s", ms=3,
                label="Non-members")
        ax.set(xlabel="Training epoch", ylabel="Mean last-layer gradient norm", title=titles[dataset])
        ax.legend()
    return fig


def figure4(norms: dict[str, tuple[np.ndarray, np.ndarray]], titles: dict[str, str], bins: int = 20):
    """Figure 4: histograms (fraction of records) of last-layer gradient norms."""
    fig, axes = _panels(len(norms))
    for ax, (dataset, (members, nonmembers)) in zip(axes, norms.items()):
        edges = np.linspace(0.0, float(np.percentile(np.r_[members, nonmembers], 99.5)) or 1.0,
                            bins + 1)
        for values, color, label in ((members, MEMBER, "Members"),
                                     (nonmembers, NONMEMBER, "Non-members")):
            weights = np.full(len(values), 1.0 / len(values))
            ax.hist(np.clip(values, edges[0], edges[-1]), bins=edges, weights=weights, color=color,
                    alpha=0.55, label=label)
        ax.set(xlabel="Last-layer gradient norm", ylabel="Fraction of records", title=titles[dataset])
        ax.legend()
    return fig


def roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray, float]], title: str,
               highlight: str | None = None):
    """ROC curves on linear axes and on log-log axes (low-FPR regime, Carlini et al. 2022)."""
    fig, (lin, log) = _panels(2)
    for label, (fpr, tpr, auc) in curves.items():
        style = {"lw": 2.2} if label == highlight else {"lw": 1.0, "alpha": 0.8}
        for ax in (lin, log):
            ax.plot(fpr, tpr, label=f"{label} (AUC {auc:.3f})", **style)
    grid = np.logspace(-5, 0, 100)
    lin.plot([0, 1], [0, 1], "k--", lw=0.8, label="Random guess")
    log.plot(grid, grid, "k--", lw=0.8)
    lin.set(xlabel="False positive rate", ylabel="True positive rate", title=title)
    log.set(xscale="log", yscale="log", xlim=(1e-4, 1), ylim=(1e-4, 1), xlabel="False positive rate",
            ylabel="True positive rate", title=f"{title} (log-log)")
    lin.legend(fontsize=6, loc="lower right")
    return fig


def ensure_dir(path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
