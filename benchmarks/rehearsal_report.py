"""Gather a paper-size rehearsal's results into ``docs/rehearsal/`` for the README ("Paper-size
rehearsal": the paper profile's stand-alone scenario at the paper's sizes on a CPU).

Not a rule script: it reads a finished (or partly finished) run of

    snakemake --cores 2 --configfile config/paper.yaml config/rehearsal.yaml -- table8

in the checkout ``--run`` and writes

- ``table8.csv``: Table VIII as the run printed it (when the run got that far);
- ``attacks.csv``: every attack that has finished, with its metrics and CIs as the tables compute
  them (deepleak/tables.py ``aggregate``), and ``targets.csv``: the target and shadow models'
  train and test accuracy, so a run still going shows what it has;
- ``progress.csv``: each attack model still training, its epochs done and the time per epoch so
  far, and its projected time for all of them;
- ``jobs.csv``: every finished job's wall and CPU seconds and peak resident memory, from
  Snakemake's benchmark files (deepleak/rule_costs.py), the threads it ran with (Snakemake's log;
  ``--set-threads`` may raise them for a job resumed alone), and for an attack model the epochs
  those seconds cover (a job resumed from its checkpoint was timed from the resume on);
- ``extrapolated.csv``: the stand-alone attacks the rehearsal did not run (Tables III-VI's
  variants), each dataset's time on one core extrapolated from the measured last-layer gradient
  attack by the resource model's ratio of their work (deepleak/resources.py, which counts each
  attack model's multiply-adds per epoch), and the memory the model expects;
- ``run.json``: the run's commit, start and end (Snakemake's own log) and cores.

``scripts/readme_results.py`` renders them into the README.

    python benchmarks/rehearsal_report.py --run ../rehearsal [--out docs/rehearsal]
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from deepleak import artifacts, resources, rule_costs, tables, variants  # noqa: E402

CONFIGFILES = ["config/paper.yaml", "config/rehearsal.yaml"]
MEASURED = "gradients_1"  # the attack whose measured time the others are scaled from
# deepleak/progress.py's line: "attack epoch 7/100: ...; 0:41:10 elapsed, about ... left"
# The clock restarts when a job resumes from its checkpoint (deepleak/checkpoint.py's "resuming
# after epoch 37 of 100"): the epochs it timed are the ones after that.
EPOCH = re.compile(r"attack epoch (\d+)/(\d+): .*; (\d+):(\d\d):(\d\d) elapsed")
# Runs from before deepleak/checkpoint.py resume() logged "resuming the attack model after ...".
RESUMED = re.compile(r"resuming (?:the attack model )?after epoch (\d+) of")


def finished_attacks(run: Path, datasets: list[str]) -> pd.DataFrame:
    rows = []
    for d in datasets:
        for path in sorted((run / f"results/{d}/standalone").glob("r*/attacks/*/metrics.json")):
            for name, record in artifacts.load_json(path)["attacks"].items():
                rows.append({"dataset": d, "attack": name, "description": record["description"],
                             **tables.aggregate([record["metrics"]["test"]])})
    return pd.DataFrame(rows)


def trained_models(run: Path, datasets: list[str]) -> pd.DataFrame:
    rows = []
    for d in datasets:
        for path in sorted((run / f"results/{d}/standalone").glob("r*/models/*/meta.json")):
            meta = artifacts.load_json(path)
            rows.append({"dataset": d, "model": meta["model"], "n_train": meta["n_train"],
                         "epochs": meta["epochs_trained"], "train_acc": 100 * meta["train_acc"],
                         "test_acc": 100 * meta["test_acc"]})
    return pd.DataFrame(rows)


def in_progress(run: Path, datasets: list[str]) -> pd.DataFrame:
    """Attack models whose job has not finished: the last epoch their log reports."""
    rows = []
    for d in datasets:
        for log in sorted((run / f"logs/{d}/standalone").glob("r*/attack_*.log")):
            attack = log.stem[len("attack_"):]
            rep = log.parent.name
            if (run / f"results/{d}/standalone/{rep}/attacks/{attack}/metrics.json").exists():
                continue
            last, resumed = None, 0
            for line in log.read_text().splitlines():
                if m := RESUMED.search(line):
                    last, resumed = None, int(m.group(1))
                elif m := EPOCH.search(line):
                    last = tuple(map(int, m.groups()))
            if last is None or last[0] <= resumed:
                continue
            done, total, h, mi, sec = last
            per_epoch = (3600 * h + 60 * mi + sec) / (done - resumed)
            rows.append({"dataset": d, "attack": attack,
                         "description": variants.variant_of(attack)[0].description,
                         "epochs_done": done, "epochs": total,
                         "seconds_per_epoch": per_epoch,
                         "projected_hours": per_epoch * total / 3600})
    return pd.DataFrame(rows)


def epochs_timed(run: Path, jobs: pd.DataFrame) -> pd.DataFrame:
    """``jobs`` with each attack job's epochs and the first of them its benchmark file timed.

    Snakemake times a job's last attempt only: an attack model resumed from its checkpoint after
    epoch r of T was timed over epochs r+1 to T, which its log (rewritten by every attempt) says.
    """
    first, total = [], []
    for file in jobs["file"]:
        log = run / "logs" / Path(file).with_suffix(".log")
        resumed, epochs = 0, None
        if Path(file).stem.startswith("attack_") and log.exists():
            for line in log.read_text().splitlines():
                if m := RESUMED.search(line):
                    resumed = int(m.group(1))
                elif m := EPOCH.search(line):
                    epochs = int(m.group(2))
        first.append(resumed + 1 if epochs else None)
        total.append(epochs)
    return jobs.assign(first_epoch_timed=pd.array(first, dtype="Int64"),
                       epochs=pd.array(total, dtype="Int64"))


def job_threads(run: Path, jobs: pd.DataFrame) -> pd.DataFrame:
    """``jobs`` with the threads each job's last attempt ran with, from Snakemake's own logs (a
    job's block names its benchmark file; ``threads:`` is printed only above one)."""
    threads = {}
    for log in sorted((run / ".snakemake/log").glob("*.snakemake.log")):  # oldest first
        logged = rule_costs.log_jobs(log.read_text()).dropna(subset=["benchmark"])
        for bench, n in zip(logged["benchmark"], logged["threads"], strict=True):
            threads[bench.removeprefix("benchmarks/")] = int(n)
    return jobs.assign(threads=[threads.get(f, 1) for f in jobs["file"]])


def extrapolate(config: dict, jobs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and stand-alone attack not measured: hours on one core, scaled from the
    measured MEASURED attack by the resource model's work ratio, and the model's memory."""
    groups = variants.attack_groups(len(config["standalone"]["knowledge_fractions"]),
                                    per_attack=True)
    rows = []
    for dataset in config["standalone"]["datasets"]:
        done = jobs[(jobs["dataset"] == dataset)
                    & (jobs["step"] == f"standalone/attack_{MEASURED}")]
        if done.empty:
            continue
        base = resources.estimate(config, f"attack_{MEASURED}", {"dataset": dataset})
        measured = done.iloc[0]
        cpu = float(measured["cpu_seconds"])
        if pd.notna(measured["epochs"]):  # a resumed job was timed from its resume on: scale up
            epochs, first = int(measured["epochs"]), int(measured["first_epoch_timed"])
            cpu *= epochs / (epochs - first + 1)
        scale = cpu / base.cpu_core_s
        ran = set(jobs.loc[jobs["dataset"] == dataset, "step"])
        for rule, (attack,) in groups.items():
            if f"standalone/attack_{rule}" in ran:
                continue
            est = resources.estimate(config, f"attack_{rule}", {"dataset": dataset})
            rows.append({"dataset": dataset, "attack": attack,
                         "description": variants.variant_of(attack)[0].description,
                         "work_vs_measured": est.cpu_core_s / base.cpu_core_s,
                         "core_hours": est.cpu_core_s * scale / 3600,
                         "mem_mb": est.mem_mb})
    return pd.DataFrame(rows)


def run_times(run: Path, finished: bool) -> dict:
    """Start and end of the run from Snakemake's logs (several when it was resumed); a run still
    going ends now, when it is gathered."""
    stamps = []
    for log in sorted((run / ".snakemake/log").glob("*.snakemake.log")):
        for line in log.read_text().splitlines():
            if m := rule_costs.STAMP.match(line):
                stamps.append(rule_costs.stamp(m.group(1)))
    if not stamps:
        return {}
    end = max(stamps) if finished else datetime.now().replace(microsecond=0)
    return {"start": min(stamps).isoformat(), "end": end.isoformat(),
            "wall_hours": (end - min(stamps)).total_seconds() / 3600}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--run", required=True, help="the checkout the rehearsal ran in")
    ap.add_argument("--out", default=str(ROOT / "docs" / "rehearsal"))
    ap.add_argument("--cores", type=int, default=2, help="the --cores the run had")
    ap.add_argument("--note", default="", help="what a reader must know of the run beyond its "
                                               "command (a job rerun at a later commit)")
    args = ap.parse_args()
    run, out = Path(args.run), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = run / "results/tables/table8.csv"
    if table.exists():
        shutil.copyfile(table, out / "table8.csv")
    jobs = job_threads(run, epochs_timed(run, rule_costs.read(run / "benchmarks")))
    jobs.sort_values(["dataset", "step"]).round(1).to_csv(out / "jobs.csv", index=False)
    config = resources.profile_config(run, CONFIGFILES)
    datasets = config["standalone"]["datasets"]
    finished_attacks(run, datasets).round(4).to_csv(out / "attacks.csv", index=False)
    trained_models(run, datasets).round(2).to_csv(out / "targets.csv", index=False)
    in_progress(run, datasets).round(1).to_csv(out / "progress.csv", index=False)
    extrapolate(config, jobs).round(3).to_csv(out / "extrapolated.csv", index=False)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=run, text=True,
                            capture_output=True).stdout.strip()
    info = {"commit": commit, "cores": args.cores, "finished": table.exists(),
            "command": "snakemake --cores 2 --configfile " + " ".join(CONFIGFILES) + " -- table8",
            **run_times(run, table.exists()), **({"note": args.note} if args.note else {})}
    (out / "run.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"wrote {out}: {len(jobs)} jobs, table8 {'found' if table.exists() else 'not yet'}")


if __name__ == "__main__":
    main()
