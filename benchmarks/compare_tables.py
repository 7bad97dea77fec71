"""Which numbers moved between two runs, and did each stay inside its own 95 % CI?

    python benchmarks/compare_tables.py BEFORE/results/tables AFTER/results/tables

For every table CSV both runs wrote, rows are matched on (table, dataset, row) and every metric with
a CI (accuracy, AUC, TPR at low FPR) is compared: a value that moved is listed with its change and
whether the new value lies inside the earlier run's CI. Exit status 1 if any moved value left its
CI. Used to check that a speed-up moves results only at floating-point level.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

# The columns that name a row: the paper's tables' and the calibrated table's, else Table DP's.
KEY_SETS = (["table", "dataset", "row"], ["dataset", "level", "row"])


def keys_of(table: pd.DataFrame) -> list[str] | None:
    return next((k for k in KEY_SETS if set(k) <= set(table.columns)), None)


def moved(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    metrics = [c[: -len("_ci_low")] for c in before.columns if c.endswith("_ci_low")]
    KEYS = keys_of(before)
    both = before.merge(after, on=KEYS, suffixes=("_before", "_after"), validate="one_to_one")
    rows = []
    for _, r in both.iterrows():
        for m in metrics:
            b, a = r[f"{m}_before"], r[f"{m}_after"]
            if pd.isna(b) and pd.isna(a) or b == a:
                continue
            low, high = r[f"{m}_ci_low_before"], r[f"{m}_ci_high_before"]
            rows.append({"table": r.get("table", "dp"), "dataset": r["dataset"],
                         "row": r["row"] if "level" not in r else f"{r['level']}: {r['row']}",
                         "metric": m, "before": b, "after": a,
                         "change": a - b, "inside_ci": bool(low <= a <= high)})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    args = ap.parse_args()
    changes, compared = [], 0
    for path in sorted(args.before.glob("table*.csv")):
        other = args.after / path.name
        if not other.exists():
            print(f"{path.name}: only in {args.before}")
            continue
        before = pd.read_csv(path)
        if keys_of(before) is None:
            print(f"{path.name}: not compared (no metric rows with CIs)")
            continue
        compared += 1
        changes.append(moved(before, pd.read_csv(other)))
    changes = pd.concat(changes) if changes else pd.DataFrame()
    print(f"{compared} tables compared; {len(changes)} values moved")
    if len(changes):
        with pd.option_context("display.width", 200, "display.max_rows", None):
            print(changes.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        outside = int((~changes["inside_ci"]).sum())
        print(f"{outside} moved values left their CI")
        sys.exit(1 if outside else 0)


if __name__ == "__main__":
    main()
