"""Where a run's time went, per rule, from Snakemake's benchmark files (`make benchmarks`).

Not a rule script: it reads the ``benchmarks/`` tree every job leaves (``benchmark:`` beside each
``log:``) and writes ``results/benchmarks.{csv,md}``: per step, the number of jobs, their summed and
largest wall seconds, CPU seconds and peak resident memory. With ``--before DIR`` (the benchmarks
of an earlier run) it adds the before / after seconds and their ratio per step. From the run's
Snakemake log (``logs/make.log``, which `make` writes) it adds how full the cores were
(``results/occupancy.json``): the seconds in which fewer jobs ran than there were cores, and the
core-seconds that stood idle.

    python scripts/benchmark_table.py [--benchmarks benchmarks] [--before OLD/benchmarks]
                                      [--log logs/make.log] [--cores N]
"""
from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

import pandas as pd
from deepleak import rule_costs

ROOT = Path(__file__).resolve().parents[1]


def _cell(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float) and digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}" if isinstance(value, float) else str(value)


def markdown(df: pd.DataFrame, digits: dict[str, int]) -> list[str]:
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(_cell(r[c], digits.get(c, 1)) for c in df.columns) + " |")
    return lines


def occupancy_lines(log: Path, cores: int | None, out: Path) -> list[str]:
    """How full the cores were over the run in ``log``, written to ``out`` (JSON) and returned as
    Markdown; nothing when the log holds no finished job (a `make` that had nothing to do)."""
    jobs = rule_costs.log_jobs(log.read_text()) if log.exists() else None
    if jobs is None or jobs["end"].isna().all():
        return []
    if cores is None:  # the Makefile's record of the run sits beside ``out``
        timed = out.with_name("make_time.json")
        cores = json.loads(timed.read_text())["cores"] if timed.exists() else os.cpu_count()
    occ = rule_costs.occupancy(jobs, cores)
    out.write_text(json.dumps(occ, indent=1) + "\n")
    return ["## How full the cores were", "",
            f"From `{log.name}`: {occ['jobs']} jobs over {occ['wall_seconds']:.0f} s on "
            f"{cores} cores; for {occ['seconds_under_full']:.0f} s fewer jobs ran than there were "
            f"cores, {occ['idle_core_seconds']:.0f} core-seconds idle.", ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--benchmarks", default=str(ROOT / "benchmarks"))
    ap.add_argument("--before", help="the benchmarks folder of an earlier run, to compare with")
    ap.add_argument("--out", default=str(ROOT / "results" / "benchmarks"),
                    help="output stem: writes OUT.csv and OUT.md")
    ap.add_argument("--log", default=str(ROOT / "logs" / "make.log"),
                    help="the run's Snakemake log, for how full the cores were (skipped if absent)")
    ap.add_argument("--cores", type=int, default=None,
                    help="cores the run had (default: make_time.json's beside OUT, else this "
                         "machine's)")
    args = ap.parse_args()
    jobs = rule_costs.read(args.benchmarks)
    table = rule_costs.per_step(jobs)
    lines = ["# Time and memory per step of the run", "",
             f"From the Snakemake benchmark files under `{Path(args.benchmarks).name}/` "
             f"({len(jobs)} jobs, {jobs['seconds'].sum() / 60:.1f} job-minutes; jobs that ran "
             "side by side overlap in wall time). A step is a rule's log path without its dataset "
             "and replicate; share is its part of the summed job seconds.", "",
             *markdown(table, {"jobs": 0, "seconds": 0, "max_job_seconds": 1, "cpu_seconds": 0,
                               "max_rss_mb": 0, "share": 3}), ""]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.round(3).to_csv(out.with_suffix(".csv"), index=False)
    if args.before:
        both = rule_costs.compare(rule_costs.read(args.before), jobs)
        both.round(3).to_csv(out.with_name(out.name + "_compare.csv"), index=False)
        lines += ["## Before and after", "", f"Before: `{args.before}`; speed-up = before / after.",
                  "", *markdown(both, {"jobs_before": 0, "jobs_after": 0, "seconds_before": 0,
                                       "seconds_after": 0, "speedup": 2}), ""]
    lines += occupancy_lines(Path(args.log), args.cores, out.with_name("occupancy.json"))
    out.with_suffix(".md").write_text("\n".join(lines))
    print(f"wrote {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
