"""What every job pays before it computes: the imports of its rule script, measured per script in a
fresh interpreter, weighted by the jobs a profile plans, beside another checkout's scripts.

    python benchmarks/job_startup.py [--configfile config/config.yaml] [--before OTHER_CHECKOUT]
                                     [--runs 3]

Each rule script is imported as a module (its top level: the library's imports; its ``main`` does
not run), ``runs`` times, alternating with the other checkout's same script where ``--before`` is
given, so both see the same machine load. The job counts per rule come from ``snakemake -n`` on the
profile; a rule's script from its rule file (``rule:`` blocks named by an f-string are matched by
the name's fixed prefix, as ``attack_{group}``). Snakemake's own per-job cost (scheduling, pickling
the job's ``snakemake`` object) comes on top and is not measured here.
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^\s*rule(?:\s+(\w+))?:\s*$(.*?)(?=^\s*rule\b|\Z)", re.M | re.S)
NAME = re.compile(r"name:\s*\n?\s*f?[\"']([^\"']+)[\"']")
SCRIPT = re.compile(r"script:\s*\n?\s*[\"']([^\"']+)[\"']")


def scripts_of_rules(root: Path) -> dict[re.Pattern, str]:
    """A pattern of rule names (a generated name's f-string, its fields as words) -> the script."""
    out = {}
    for smk in sorted((root / "workflow" / "rules").glob("*.smk")):
        for m in BLOCK.finditer(smk.read_text()):
            name = m.group(1) or (NAME.search(m.group(2)) or [None, None])[1]
            script = SCRIPT.search(m.group(2))
            if name and script:
                pattern = re.sub(r"\\\{[^}]*\\\}", r"\\w+", re.escape(name))
                out[re.compile(pattern)] = Path(script.group(1)).name
    return out


def planned_jobs(root: Path, configfile: str) -> dict[str, int]:
    done = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--cores",
                           "2", "--forceall", "--configfile", configfile], cwd=root, check=True,
                          capture_output=True, text=True)
    counts = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("total", "job"):
            counts[parts[0]] = int(parts[1])
    return counts


def import_seconds(root: Path, script: str) -> float:
    code = (f"import importlib.util, sys; sys.path.insert(0, {str(root / 'scripts')!r}); "
            f"spec = importlib.util.spec_from_file_location('job', "
            f"{str(root / 'scripts' / script)!r}); "
            "spec.loader.exec_module(importlib.util.module_from_spec(spec))")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--configfile", default="config/config.yaml")
    ap.add_argument("--before", help="another checkout of DeepLeak, whose scripts are timed alike")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    roots = {"after": ROOT, **({"before": Path(args.before).resolve()} if args.before else {})}
    rules = scripts_of_rules(ROOT)
    jobs: dict[str, int] = {}
    for rule, n in planned_jobs(ROOT, args.configfile).items():
        script = next((s for pattern, s in rules.items() if pattern.fullmatch(rule)), None)
        if script:
            jobs[script] = jobs.get(script, 0) + n
    seconds = {side: {} for side in roots}
    for script in sorted(jobs):
        times = {side: [] for side in roots}
        for _ in range(args.runs):
            for side, root in roots.items():
                if (root / "scripts" / script).exists():
                    times[side].append(import_seconds(root, script))
        for side in roots:
            if times[side]:
                seconds[side][script] = statistics.median(times[side])
    sides = list(roots)
    print(f"{'script':32} {'jobs':>4} " + " ".join(f"{s + ' s/job':>13}" for s in sides))
    for script, n in sorted(jobs.items(), key=lambda kv: -kv[1]):
        cells = " ".join(f"{seconds[s].get(script, float('nan')):13.2f}" for s in sides)
        print(f"{script:32} {n:4d} {cells}")
    totals = {s: sum(jobs[k] * v for k, v in seconds[s].items()) for s in sides}
    print(f"\n{sum(jobs.values())} jobs planned by {args.configfile}; imports summed over them "
          "(job-seconds): " + ", ".join(f"{s} {t:.0f}" for s, t in totals.items()))
    if "before" in totals:
        print(f"before / after: {totals['before'] / totals['after']:.2f}")


if __name__ == "__main__":
    main()
