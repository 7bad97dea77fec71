"""How long does Snakemake take to plan the DAG? Median wall time of `snakemake -n` on a profile,
beside an empty Snakefile (Snakemake's own start-up), measured alternately in one run.

    python benchmarks/plan_time.py [--configfile config/config.yaml] [--runs 5] [--json out.json]

Planning imports no torch (tests/test_planning.py), so the difference to the empty Snakefile is the
cost of parsing the rule files, validating the config and building the DAG.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd, cwd) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--configfile", default="config/config.yaml")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args()
    snakemake = [sys.executable, "-m", "snakemake", "-n", "--cores", "2"]
    with tempfile.TemporaryDirectory() as empty:
        (Path(empty) / "Snakefile").write_text("rule all:\n    input: []\n")
        dag, base = [], []
        for _ in range(args.runs):  # alternate, so both see the same machine load
            dag.append(timed([*snakemake, "--configfile", args.configfile], ROOT))
            base.append(timed(snakemake, empty))
    result = {"configfile": args.configfile, "runs": args.runs,
              "plan_median_s": round(statistics.median(dag), 2),
              "empty_snakefile_median_s": round(statistics.median(base), 2)}
    result["ratio"] = round(result["plan_median_s"] / result["empty_snakefile_median_s"], 2)
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
