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
# Snakemake's log and its `-n --verbose` plan: a stamp line, then a job's block ("rule x:",
# "localrule x:" or "checkpoint x:", and its indented "key: value" fields; "threads:" only above
# one), or "Finished jobid: n" (Snakemake 8+; before: "Finished job n.").
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]$")
JOB = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")
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


def job_blocks(text: str) -> list[dict]:
    """Every job block Snakemake printed (its log, or ``snakemake -n --verbose``): its rule, jobid,
    wildcards, threads, resources (as printed), priority, benchmark file, whether it writes
    outputs (target rules such as ``all`` only collect inputs), and the stamps above its block and
    above its "Finished" line (None where there are none: a plan, a job that did not finish)."""
    jobs: list[dict] = []
    by_id: dict[int, dict] = {}
    now = job = None
    for line in text.splitlines():
        if m := STAMP.match(line):
            now = stamp(m.group(1))
        elif m := FINISHED.match(line):
            if (done := by_id.get(int(m.group(1)))) is not None:
                done["end"] = now
        elif m := JOB.match(line):
            job = {"rule": m.group(1), "jobid": None, "wildcards": {}, "threads": 1,
                   "resources": {}, "priority": 0, "benchmark": None, "output": False,
                   "start": now, "end": None}
            jobs.append(job)
        elif job is not None and line.startswith("    ") and ": " in line:
            key, value = line.strip().split(": ", 1)
            if key in ("wildcards", "resources"):
                job[key] = dict(item.split("=", 1) for item in value.split(", "))
            elif key in ("jobid", "threads", "priority"):
                job[key] = int(value)
                if key == "jobid":
                    by_id[job["jobid"]] = job
            elif key == "benchmark":
                job["benchmark"] = value
            elif key == "output":
                job["output"] = True
    return jobs


def log_jobs(text: str) -> pd.DataFrame:
    """:func:`job_blocks` of one Snakemake log as a table: jobid, rule, benchmark, threads, start
    and end (NaT where the job did not finish)."""
    table = pd.DataFrame(job_blocks(text),
                         columns=["jobid", "rule", "benchmark", "threads", "start", "end"])
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
