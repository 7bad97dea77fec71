"""What each step of a run cost: Snakemake's ``benchmark:`` files, read into one table per rule,
and how full the cores were: every job's start and end from Snakemake's own log.

Every rule writes its benchmark file beside its log, ``benchmarks/`` mirroring ``logs/``
(``logs/texas100/standalone/0/attack_gradients.log`` -> ``benchmarks/texas100/standalone/0/
attack_gradients.tsv``). A step is that path without the dataset and the replicate
(``standalone/attack_gradients``), so the table has one row per kind of job, whichever datasets
and replicates ran it, and two runs' tables line up row by row (:func:`compare`).

Imports neither torch nor Snakemake.
"""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pandas as pd

# Benchmark-file columns used: wall seconds, peak resident memory (MB), CPU seconds.
COLUMNS = {"s": "seconds", "max_rss": "max_rss_mb", "cpu_time": "cpu_seconds"}
# First path parts that are stages, not datasets (jobs that read every dataset).
STAGES = ("tables", "figures")
REPLICATE = re.compile(r"r\d+")
# Snakemake's log: a stamp line, then a job's block ("rule x:" or "localrule x:" and its indented
# fields; "threads:" only above one), or "Finished jobid: n" (Snakemake 8+; before: "Finished job
# n.").
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]$")
JOB = re.compile(r"^(?:local)?rule (\w+):$")
FIELD = re.compile(r"^\s+(jobid|benchmark|threads): (\S+)$")
FINISHED = re.compile(r"^Finished job(?:id:)? (\d+)")


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


def stamp(text: str) -> datetime:
    """The time of one of Snakemake's "[Mon Dec  7 10:49:45 2026]" lines (seconds resolution)."""
    return datetime.strptime(text, "%a %b %d %H:%M:%S %Y")


def log_jobs(text: str) -> pd.DataFrame:
    """Every job of one Snakemake log: jobid, rule, benchmark file (or None), threads, start and end
    (the stamps above its block and above its "Finished" line; NaT where it did not finish)."""
    blocks: list[dict] = []
    by_id: dict[int, dict] = {}
    now = None
    for line in text.splitlines():
        if m := STAMP.match(line):
            now = stamp(m.group(1))
        elif m := JOB.match(line):
            blocks.append({"jobid": None, "rule": m.group(1), "benchmark": None, "threads": 1,
                           "start": now, "end": None})
        elif blocks and (m := FIELD.match(line)):
            key, value = m.groups()
            blocks[-1][key] = value if key == "benchmark" else int(value)
            if key == "jobid":
                by_id[int(value)] = blocks[-1]
        elif (m := FINISHED.match(line)) and int(m.group(1)) in by_id:
            by_id[int(m.group(1))]["end"] = now
    table = pd.DataFrame(blocks, columns=["jobid", "rule", "benchmark", "threads", "start", "end"])
    return table.astype({"start": "datetime64[ns]", "end": "datetime64[ns]"})


def occupancy(jobs: pd.DataFrame, cores: int) -> dict:
    """How full ``cores`` cores were over a run's finished ``jobs`` (:func:`log_jobs`): its wall
    seconds, the seconds in which the running jobs' threads filled fewer than ``cores``, and the
    core-seconds that stood idle (a job's threads count up to ``cores``)."""
    done = jobs.dropna(subset=["start", "end"])
    if done.empty:
        raise ValueError("no finished job in the log; occupancy needs a run's Snakemake log")
    t0 = done["start"].min()
    start = (done["start"] - t0).dt.total_seconds().to_numpy()
    end = (done["end"] - t0).dt.total_seconds().to_numpy()
    edges = sorted(set(start) | set(end))
    threads = done["threads"].to_numpy()
    under = idle = 0.0
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        busy = min(int(threads[(start <= a) & (end >= b)].sum()), cores)
        if busy < cores:
            under += b - a
            idle += (cores - busy) * (b - a)
    return {"wall_seconds": float(end.max()), "cores": cores, "jobs": len(done),
            "seconds_under_full": float(under), "idle_core_seconds": float(idle)}
