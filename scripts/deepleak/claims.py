"""The claims table: each qualitative claim of the paper (declared in deepleak/paper.py ``CLAIMS``)
judged on what a profile produced, per dataset, as holds / fails / inconclusive from the confidence
interval of a difference between two table rows.

- "a > b" holds when the CI of (a - b) lies above 0, fails when it lies below 0, and is
  inconclusive when it contains 0;
- "a ~ b" holds when the CI lies within +/- ``paper.CLAIM_MARGIN_PP`` pp (AUC: that / 100), fails
  when it lies entirely outside, and is inconclusive otherwise.

The CI of a difference (:func:`difference`): with several replicates, the t-interval over
replicates of the per-replicate difference; with one, a paired bootstrap where both rows score the
same test records (deepleak.metrics.paired_difference), else independent bootstraps of each row
(deepleak.metrics.unpaired_difference), marked "single replicate". The verdict is on the paper's
metric, the attack accuracy; the AUC's difference and verdict are shown beside it.

Imports neither torch nor Snakemake: scripts/make_claims.py reads the files and calls this module.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from deepleak import metrics, paper, tables

VERDICTS = ("holds", "fails", "inconclusive")


@dataclass(frozen=True)
class Scored:
    """One row of a table in one replicate: its attack's per-record scores on the row's test set
    (scores.npz) and what deepleak.metrics.evaluate stored for them (metrics.json: threshold,
    accuracy, auc, ...)."""
    records: np.ndarray
    member: np.ndarray
    score: np.ndarray
    metrics: dict


@dataclass(frozen=True)
class Side:
    """A table row as a claim compares it: its name, its label (the paper's words), and its scores
    in every replicate."""
    name: str
    label: str
    replicates: list[Scored]


def comparisons(claim: paper.Claim, rows: list[str]) -> list[tuple[str, str, str]]:
    """The (row, relation, row) comparisons of a claim on one dataset: its pairs, or for a chain
    each consecutive pair of ``rows`` (the table's rows as the profile ran them, in order) ordered
    so that the row the claim says leaks more comes first."""
    if claim.pairs:
        return list(claim.pairs)
    return [(b, ">", a) if claim.chain == "increasing" else (a, ">", b)
            for a, b in pairwise(rows)]


def verdict(relation: str, ci, margin: float) -> str:
    """holds / fails / inconclusive for "a > b" or "a ~ b" from the CI of (a - b)."""
    lo, hi = ci
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return "inconclusive"
    if relation == ">":
        return "holds" if lo > 0 else "fails" if hi < 0 else "inconclusive"
    if relation == "~":
        if -margin <= lo and hi <= margin:
            return "holds"
        return "fails" if lo > margin or hi < -margin else "inconclusive"
    raise ValueError(f"unknown relation {relation!r}; known: {paper.RELATIONS}")


def difference(left: list[Scored], right: list[Scored], *, n_bootstrap: int, seed: int,
               confidence: float) -> dict:
    """Accuracy (pp) and AUC of ``left`` minus ``right``, each a row's replicates, with the CI the
    module docstring describes, the method that gave it, and both rows' mean accuracy (%)."""
    if len(left) != len(right) or not left:
        raise ValueError(f"both rows need the same replicates ({len(left)} vs {len(right)})")
    aligned = [metrics.align(a.records, b.records) for a, b in zip(left, right, strict=True)]
    out = {"replicates": len(left),
           "left_accuracy": 100 * float(np.mean([a.metrics["accuracy"] for a in left])),
           "right_accuracy": 100 * float(np.mean([b.metrics["accuracy"] for b in right]))}
    if len(left) > 1:
        for name, scale in (("accuracy", 100.0), ("auc", 1.0)):
            d = metrics.replicate_difference([scale * a.metrics[name] for a in left],
                                             [scale * b.metrics[name] for b in right], confidence)
            out[name], out[f"{name}_ci"] = d["difference"], d["ci"]
        out["method"] = d["method"]
        return out
    (a,), (b,), (idx,) = left, right, aligned
    thresholds = dict(threshold_a=a.metrics["threshold"], threshold_b=b.metrics["threshold"])
    settings = dict(n_bootstrap=n_bootstrap, seed=seed, confidence=confidence)
    if idx is not None:
        ia, ib = idx
        if not np.array_equal(a.member[ia], b.member[ib]):
            raise ValueError("two rows score the same records with different membership labels")
        d = metrics.paired_difference(a.score[ia], b.score[ib], a.member[ia], **thresholds,
                                      **settings)
    else:
        d = metrics.unpaired_difference((a.score, a.member, thresholds["threshold_a"]),
                                        (b.score, b.member, thresholds["threshold_b"]), **settings)
        d["method"] += ", single replicate"
    for name in metrics.DIFFERENCE_METRICS:  # the scores must reproduce the stored metrics
        stored = a.metrics[name] - b.metrics[name]
        if abs(d[name] - stored) > 1e-6:
            raise ValueError(f"the scores give a {name} difference of {d[name]:.6f}, the stored "
                             f"metrics {stored:.6f}: scores.npz and metrics.json disagree")
    out["method"] = d["method"]
    out["accuracy"] = 100 * d["accuracy"]
    out["accuracy_ci"] = [100 * v for v in d.get("accuracy_ci", [math.nan] * 2)]
    out["auc"], out["auc_ci"] = d["auc"], d.get("auc_ci", [math.nan] * 2)
    return out


def judge(claim: paper.Claim, dataset: str, source: str, sides: dict[str, Side],
          rows: list[str], **settings) -> list[dict]:
    """One record per comparison of ``claim`` on ``dataset`` (:func:`comparisons`; ``sides`` by
    row name, ``rows`` the table's rows as run, for chains). ``settings``: n_bootstrap, seed and
    confidence of :func:`difference`."""
    out = []
    for left, relation, right in comparisons(claim, rows):
        d = difference(sides[left].replicates, sides[right].replicates, **settings)
        out.append({
            "claim": claim.key, "statement": claim.statement, "table": claim.table,
            "dataset": dataset, "source": source, "left": left, "relation": relation,
            "right": right, "comparison": f"{sides[left].label} {relation} {sides[right].label}",
            "left_accuracy": d["left_accuracy"], "right_accuracy": d["right_accuracy"],
            "diff_accuracy_pp": d["accuracy"], "diff_accuracy_ci_low": d["accuracy_ci"][0],
            "diff_accuracy_ci_high": d["accuracy_ci"][1],
            "verdict": verdict(relation, d["accuracy_ci"], paper.CLAIM_MARGIN_PP),
            "diff_auc": d["auc"], "diff_auc_ci_low": d["auc_ci"][0],
            "diff_auc_ci_high": d["auc_ci"][1],
            "verdict_auc": verdict(relation, d["auc_ci"], paper.CLAIM_MARGIN_PP / 100),
            "method": d["method"], "replicates": d["replicates"]})
    return out


def overall(verdicts: list[str]) -> str:
    """A claim on one dataset: it holds when every comparison holds, fails when one fails."""
    if not verdicts:
        return "not run"
    if "fails" in verdicts:
        return "fails"
    return "holds" if all(v == "holds" for v in verdicts) else "inconclusive"


# --------------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------------
NOTES = (
    "Each claim is judged per dataset from the CI of the difference of two rows of its table "
    "(first row minus second). 'a > b' holds when the CI lies above 0, fails when it lies below "
    "0, and is inconclusive when it contains 0. 'a ~ b' holds when the CI lies within +/- "
    "{margin:g} pp (AUC: +/- {margin_auc:g}), fails when it lies entirely outside, and is "
    "inconclusive otherwise. A claim holds on a dataset when every comparison holds and fails "
    "when one fails.",
    "The verdict is on the attack accuracy, the paper's metric; the AUC's difference and verdict "
    "are shown beside it.",
    "CIs ({confidence:g} %): with several replicates, the t-interval over replicates of the "
    "difference; with one, a paired bootstrap where both rows score the same test records (the "
    "same resampled members and non-members for both), else independent bootstraps of each row, "
    "marked 'single replicate'; {n_bootstrap} resamples.",
    "A verdict on a stand-in or at sizes below the paper's tests the claim on those data, not the "
    "paper's.",
)


def _ci(value, lo, hi, digits):
    if math.isnan(lo):
        return f"{value:+.{digits}f}"
    return f"{value:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def to_markdown(df: pd.DataFrame, claims: tuple[paper.Claim, ...], headers: dict[str, str],
                notes: list[str]) -> str:
    """A summary (claim x dataset), then every comparison, one section per claim."""
    datasets = list(headers)
    lines = ["# The paper's claims, tested on this profile's runs", ""]
    lines += [f"- {n}" for n in notes]
    lines += ["", "## Summary", "", "| Claim | " + " | ".join(headers[d] for d in datasets) + " |",
              "|---|" + "---|" * len(datasets)]
    for claim in claims:
        rows = df[df["claim"] == claim.key] if len(df) else df
        cells = [overall(list(rows[rows["dataset"] == d]["verdict"])) if len(rows) else "not run"
                 for d in datasets]
        lines.append(f"| {claim.statement} | " + " | ".join(cells) + " |")
    for claim in claims:
        rows = df[df["claim"] == claim.key]
        if not len(rows):
            continue
        lines += ["", f"## {claim.statement}", "",
                  "| Dataset | Comparison | Accuracy % (first, second) | Δ accuracy pp (CI) | "
                  "Verdict | Δ AUC (CI) | Verdict (AUC) | CI |", "|" + "---|" * 8]
        for _, r in rows.iterrows():
            acc = _ci(*r[["diff_accuracy_pp", "diff_accuracy_ci_low", "diff_accuracy_ci_high"]], 1)
            auc = _ci(*r[["diff_auc", "diff_auc_ci_low", "diff_auc_ci_high"]], 3)
            lines.append(f"| {headers[r['dataset']]} | {r['comparison']} | "
                         f"{r['left_accuracy']:.1f}, {r['right_accuracy']:.1f} | {acc} | "
                         f"**{r['verdict']}** | {auc} | {r['verdict_auc']} | {r['method']} |")
    return "\n".join(lines) + "\n"


def render(records: list[dict], headers: dict[str, str], csv_out, md_out, *, n_bootstrap: int,
           confidence: float) -> None:
    """Write the claims table as CSV (one row per comparison) and Markdown."""
    columns = ["claim", "statement", "table", "dataset", "source", "left", "relation", "right",
               "comparison", "left_accuracy", "right_accuracy", "diff_accuracy_pp",
               "diff_accuracy_ci_low", "diff_accuracy_ci_high", "verdict", "diff_auc",
               "diff_auc_ci_low", "diff_auc_ci_high", "verdict_auc", "method", "replicates"]
    df = pd.DataFrame.from_records(records, columns=columns)
    notes = [n.format(margin=paper.CLAIM_MARGIN_PP, margin_auc=paper.CLAIM_MARGIN_PP / 100,
                      confidence=100 * confidence, n_bootstrap=n_bootstrap) for n in NOTES]
    tables.write(df, csv_out, md_out, to_markdown(df, paper.CLAIMS, headers, notes))
