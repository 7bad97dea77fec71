"""The paper's tables, reproduced: our value beside the paper's, with CIs, AUC and low-FPR TPR.

Every table is one tidy CSV (one row per dataset and table row) and one Markdown page grouped by dataset.
Accuracies are in %, AUC in [0, 1], TPRs in %. With one replicate the CI is the bootstrap CI of the
attack test set; with several it is a t-interval over replicates (independent splits, target models and
attack models), and the value is their mean.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

METRICS = [("accuracy", 100.0), ("auc", 1.0), ("tpr_at_0.01_fpr", 100.0),
           ("tpr_at_0.001_fpr", 100.0)]


def aggregate(results: list[dict], confidence: float = 0.95) -> dict:
    """Mean and CI of each metric over replicates (bootstrap CI when there is one replicate)."""
    row = {"replicates": len(results), "n_test": results[0]["n_members"] + results[0]["n_nonmembers"]}
    for name, scale in METRICS:
        values = np.array([r[name] for r in results], dtype=np.float64) * scale
        row[name] = float(values.mean())
        if len(values) > 1:
            half = stats.t.ppf((1 + confidence) / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(
                len(values))
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = row[name] - half, row[name] + half
        elif f"{name}_ci" in results[0]:
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = (v * scale for v in results[0][f"{name}_ci"])
        else:
            row[f"{name}_ci_low"] = row[f"{name}_ci_high"] = float("nan")
    return row


def attack_rows(table: str, dataset: str, source: str, rows: list[tuple[str, str, float | None]],
                attacks: dict[str, list[dict]], baselines: dict[str, list[dict]],
                confidence: float = 0.95) -> list[dict]:
    """One record per table row (label, attack name, paper accuracy), then the threshold baselines."""
    out = []
    for label, attack, paper in rows:
        row = {"table": table, "dataset": dataset, "source": source, "row": label, "attack": attack,
               **aggregate(attacks[attack], confidence), "paper_accuracy": paper}
        row["delta_pp"] = row["accuracy"] - paper if paper is not None else float("nan")
        out.append(row)
    for name, results in baselines.items():
        out.append({"table": table, "dataset": dataset, "source": source,
                    "row": f"Baseline: {name.replace('_', ' ')} threshold", "attack": f"baseline_{name}",
                    **aggregate(results, confidence), "paper_accuracy": None,
                    "delta_pp": float("nan")})
    return out


def _fmt(value, digits=1, pct=False):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}{' %' if pct else ''}"


def _with_ci(row, name, digits):
    lo, hi = row.get(f"{name}_ci_low"), row.get(f"{name}_ci_high")
    if lo is None or math.isnan(lo):
        return _fmt(row[name], digits)
    return f"{row[name]:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def to_markdown(df: pd.DataFrame, title: str, paper_label: str, notes: list[str],
                dataset_headers: dict[str, str]) -> str:
    """A Markdown page: one section per dataset, the paper's value beside ours."""
    lines = [f"# {title}", ""]
    lines += [f"- {n}" for n in notes]
    for dataset, group in df.groupby("dataset", sort=False):
        lines += ["", f"## {dataset_headers.get(dataset, dataset)}", "",
                  f"| Row | Accuracy % (95% CI) | {paper_label} | Δ pp | AUC (95% CI) | TPR @ 1% FPR | "
                  f"TPR @ 0.1% FPR |",
                  "|---|---|---|---|---|---|---|"]
        for _, r in group.iterrows():
            lines.append(
                f"| {r['row']} | {_with_ci(r, 'accuracy', 1)} | {_fmt(r['paper_accuracy'], 2)} | "
                f"{_fmt(r['delta_pp'], 1)} | {_with_ci(r, 'auc', 3)} | "
                f"{_fmt(r['tpr_at_0.01_fpr'], 2, True)} | {_fmt(r['tpr_at_0.001_fpr'], 2, True)} |")
    return "\n".join(lines) + "\n"


def write(df: pd.DataFrame, csv_path, md_path, markdown: str) -> None:
    from deepleak.artifacts import atomic_path

    with atomic_path(csv_path, ".csv") as tmp:
        df.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(md_path, ".md") as tmp:
        tmp.write_text(markdown)
