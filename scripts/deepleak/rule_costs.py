"""What each step of a run cost: Snakemake's ``benchmark:`` files, read into one table per rule.

Every rule writes its benchmark file beside its log, ``benchmarks/`` mirroring ``logs/``
(``logs/texas100/standalone/0/attack_gradients.log`` -> ``benchmarks/texas100/standalone/0/
attack_gradients.tsv``). A step is that path without the dataset and the replicate
(``standalone/attack_gradients``), so the table has one row per kind of job, whichever datasets
and replicates ran it, and two runs' tables line up row by row (:func:`compare`).

Imports neither torch nor Snakemake.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

# Benchmark-file columns used: wall seconds, peak resident memory (MB), CPU seconds.
COLUMNS = {"s": "seconds", "max_rss": "max_rss_mb", "cpu_time": "cpu_seconds"}
# First path parts that are stages, not datasets (jobs that read every dataset).
STAGES = ("tables", "figures")
REPLICATE = re.compile(r"r\d+")


def step_of(relative: Path) -> tuple[str, str]:
    """(step, dataset) of one benchmark file's path under ``benchmarks/``."""
    *dirs, stem = relative.with_suffix("").parts
    dataset = "" if not dirs or dirs[0] in STAGES else dirs[0]
    # Replicate folders are r0, r1, ... (common.smk): dropped, so replicates add up in one step.
    scenario = [d for d in dirs[1:] if not REPLICATE.fullmatch(d)] if dataset else dirs
    return "/".join([*scenario, stem]), dataset


def read(root: str | Path) -> pd.DataFrame:
    """One row per job: step, dataset, file, seconds, max_rss_mb, cpu_seconds."""
    root = Path(root)
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        step, dataset = step_of(path.relative_to(root))
        # One line per repeat (benchmark: repeat(...)); DeepLeak runs each job once.
        bench = pd.read_csv(path, sep="\t")
        if bench.empty:
            continue
        values = bench.iloc[0]
        rows.append({"step": step, "dataset": dataset, "file": str(path.relative_to(root)),
                     **{new: pd.to_numeric(values.get(old), errors="coerce")
                        for old, new in COLUMNS.items()}})
    if not rows:
        raise FileNotFoundError(f"no Snakemake benchmark files (*.tsv) under {root}; run the "
                                f"pipeline first (every rule writes one)")
    return pd.DataFrame(rows)


def per_step(jobs: pd.DataFrame) -> pd.DataFrame:
    """One row per step: jobs, total and largest job seconds, peak memory; dearest first."""
    table = jobs.groupby("step").agg(
        jobs=("file", "size"), seconds=("seconds", "sum"), max_job_seconds=("seconds", "max"),
        cpu_seconds=("cpu_seconds", "sum"), max_rss_mb=("max_rss_mb", "max"))
    table["share"] = table["seconds"] / table["seconds"].sum()
    return table.sort_values(["seconds", "jobs"], ascending=False).reset_index()


def compare(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Per step, the job seconds of two runs and their ratio (before / after: > 1 is faster).

    A step that exists in one run only (a rule added, split or merged) keeps a blank on the
    other side, so the totals still add up."""
    b = per_step(before).set_index("step")[["jobs", "seconds"]]
    a = per_step(after).set_index("step")[["jobs", "seconds"]]
    table = b.add_suffix("_before").join(a.add_suffix("_after"), how="outer")
    table["speedup"] = table["seconds_before"] / table["seconds_after"]
    total = pd.DataFrame({c: [table[c].sum()] for c in table.columns[:-1]}, index=["total"])
    total["speedup"] = total["seconds_before"] / total["seconds_after"]
    return pd.concat([table.sort_values("seconds_before", ascending=False), total]) \
        .rename_axis("step").reset_index()
