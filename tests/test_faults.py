"""Faults in a real run of the DAG (config/test.yaml's fine-tuning stage, Table IX, with longer
training so that a kill lands inside it): a second run of the same DAG at once, a SIGKILL of the
whole `snakemake` process, a SIGKILL of one training job, each followed by the README's recovery
command ("When a run is interrupted"); then a truncated features file, a corrupted model and a
configured dataset path that holds nothing. One faulted run is compared with one uninterrupted
run: the tables and models must be byte-identical.

What the user saw at each step is kept in the fixture's ``said`` (and in said.json in the faulted
run's folder) and checked by the tests."""
from __future__ import annotations

import filecmp
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml
from workdir import env, fresh_copy

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e

TARGET = "table9"
FINETUNE = Path("results/purchase100/finetune/r0")
MODELS = [FINETUNE / "models/trained/model.pt", FINETUNE / "models/finetuned/model.pt"]
# The checkpoints of train_finetune's two phases (deepleak/checkpoint.py: beside the first output).
PHASE_CKPT = {phase: Path(f"{MODELS[0]}.ckpt.{phase}") for phase in ("trained", "finetuned")}
JOB_LOG = Path("logs/purchase100/finetune/r0/train.log")
# Long enough (a few seconds per phase) for a poll every few milliseconds to land inside it; every
# epoch evaluated (evaluate_every), as when these lengths were measured: evaluating every fifth, a
# phase ended before the kill landed.
OVERRIDE = {"datasets": {"purchase100": {"train": {"epochs": 600}}},
            "finetune": {"train": {"epochs": 600}}, "evaluate_every": 1}
# README, "When a run is interrupted": these two commands, with the run's own targets and config.
UNLOCK = ["--unlock"]
RERUN = ["--cores", "2", "--rerun-incomplete"]


def _command(*args):
    return [sys.executable, "-m", "snakemake", *args, TARGET, "--configfile", "config/test.yaml",
            "faults.yaml"]


def snakemake(work, *args):
    out = subprocess.run(_command(*args), cwd=work, capture_output=True, text=True, env=env(work))
    return out.returncode, out.stdout + out.stderr


def start(work, *args, name):
    """A run in its own session (so that the whole of it can be killed at once)."""
    out = open(work / f"{name}.out", "w")
    proc = subprocess.Popen(_command(*args), cwd=work, stdout=out, stderr=subprocess.STDOUT,
                            env=env(work), start_new_session=True)
    proc.output = work / f"{name}.out"
    return proc


def wait_for(condition, proc, what, timeout=240.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL) if proc.poll() is None else None
            pytest.fail(f"{what} never happened; the run said:\n"
                        f"{proc.output.read_text()[-3000:]}")
        time.sleep(0.005)


def session_processes(sid):
    alive = []
    for p in psutil.process_iter():
        try:
            if os.getsid(p.pid) == sid and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except (ProcessLookupError, psutil.Error):
            pass
    return alive


def faults_copy(dest):
    fresh_copy(dest)
    (dest / "faults.yaml").write_text(yaml.safe_dump(OVERRIDE))
    return dest


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    work = faults_copy(tmp_path_factory.mktemp("faults") / "reference")
    rc, said = snakemake(work, "--cores", "2")
    assert rc == 0, said[-3000:]
    return work


@pytest.fixture(scope="module")
def faulted(tmp_path_factory):
    """The faulted run, step by step; returns (its folder, what each step said)."""
    work = faults_copy(tmp_path_factory.mktemp("faults") / "faulted")
    said = {}
    first = start(work, "--cores", "2", name="first")
    # 1. A second run of the same DAG while the first holds the lock: the README's recovery
    # command, what a user who thinks the first run died types. Without --rerun-incomplete, a
    # second run that plans after the first has started its training job stops earlier, at
    # Snakemake's incomplete-files check, whose advice is that flag; with it, the lock refuses.
    # It runs beside the steps below: its planning takes longer than a training phase here, and
    # it is refused whether it reaches the lock while the first run lives or after the kill below
    # (a killed run's lock stays until --unlock).
    wait_for(lambda: any((work / ".snakemake/locks").glob("*")), first, "the first run's lock")
    concurrent = start(work, *RERUN, name="concurrent")
    # 2. SIGKILL of the whole first run (snakemake and its job) inside the first phase.
    wait_for(lambda: (work / PHASE_CKPT["trained"]).exists(), first, "a checkpoint of phase 1")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    concurrent.wait(timeout=120)
    said["second_run"] = (concurrent.returncode, concurrent.output.read_text())
    deadline = time.monotonic() + 10
    while session_processes(first.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    said["left_running"] = [p.pid for p in session_processes(first.pid)]
    said["after_hard_kill"] = {"models": [(work / m).exists() for m in MODELS],
                               "checkpoint": (work / PHASE_CKPT["trained"]).exists()}
    # 3. What a user who just types the command again is told.
    said["plain_rerun"] = snakemake(work, "--cores", "2")
    # 4. The recovery command; its resumed job is killed (SIGKILL) in the second phase.
    said["unlock"] = snakemake(work, *UNLOCK)
    second = start(work, *RERUN, name="second")
    wait_for(lambda: (work / PHASE_CKPT["finetuned"]).exists(), second,
             "a checkpoint of phase 2")
    jobs = [p for p in psutil.Process(second.pid).children(recursive=True)
            if any("train_finetune" in part for part in p.cmdline())]
    for job in jobs:
        job.send_signal(signal.SIGKILL)
    second.wait(timeout=120)
    said["killed_jobs"] = len(jobs)
    said["job_killed"] = (second.returncode, second.output.read_text())
    said["log_after_job_kill"] = (work / JOB_LOG).read_text()
    # 5. The recovery command again: the run completes.
    said["unlock_again"] = snakemake(work, *UNLOCK)
    said["recovered"] = snakemake(work, *RERUN)
    said["log_after_recovery"] = (work / JOB_LOG).read_text()
    said["dry_run"] = snakemake(work, "-n")
    # kept beside the run for whoever reads a failure
    (work / "said.json").write_text(json.dumps(said, indent=1))
    return work, said


def test_two_runs_of_one_dag_at_once_are_refused(faulted):
    _, said = faulted
    rc, out = said["second_run"]
    assert rc != 0 and "cannot be locked" in out and "--unlock" in out, out[-2000:]


def test_a_hard_killed_run_leaves_nothing_running_and_says_how_to_go_on(faulted):
    _, said = faulted
    assert said["left_running"] == []
    assert said["after_hard_kill"] == {"models": [False, False], "checkpoint": True}
    rc, out = said["plain_rerun"]
    assert rc != 0 and "--unlock" in out, out[-2000:]
    assert said["unlock"][0] == 0, said["unlock"][1][-2000:]


def test_a_killed_training_job_resumes_from_its_checkpoint(faulted):
    _, said = faulted
    assert said["killed_jobs"] == 1
    rc, out = said["job_killed"]
    assert rc != 0 and "Error in rule train_finetune" in out, out[-2000:]
    # the rerun after the hard kill resumed phase 1 from its checkpoint, the rerun after this
    # kill phase 2 (phase 1's last epoch is kept until the job ends)
    assert "resuming after epoch" in said["log_after_job_kill"]
    last = said["log_after_recovery"]
    assert "resuming after epoch 600 of 600" in last  # phase 1, done
    resumed = [line for line in last.splitlines() if "resuming after epoch" in line]
    assert len(resumed) == 2 and "of 600" in resumed[1] and "600 of 600" not in resumed[1], last


def test_the_recovered_run_equals_an_uninterrupted_one(faulted, reference):
    work, said = faulted
    rc, out = said["recovered"]
    assert rc == 0, out[-3000:]
    assert "Nothing to be done" in said["dry_run"][1]
    for model in MODELS:
        assert filecmp.cmp(work / model, reference / model, shallow=False), model
    tables = sorted((reference / "results/tables").iterdir())
    assert tables
    for table in tables:
        assert filecmp.cmp(table, work / "results/tables" / table.name, shallow=False), table.name
    # no checkpoint, temporary or other stray file is left, and no job ran twice once done
    leftovers = [p for p in (work / "results").rglob("*") if ".ckpt" in p.name or ".tmp-" in p.name]
    assert leftovers == []
    assert out.count("localrule finetune_splits") == 0 and out.count("localrule make_table9") == 1


def test_a_truncated_or_corrupted_intermediate_names_the_file_and_its_rule(faulted, reference):
    """Runs after the faulted run has recovered (same folder)."""
    work, _ = faulted
    features = FINETUNE / "features/snapshots.npz"
    data = (work / features).read_bytes()
    (work / features).write_bytes(data[: len(data) // 2])
    rc, out = snakemake(work, "--cores", "2")
    assert rc != 0
    assert f"{features} cannot be read" in out and "rule finetune_features made it" in out
    assert f"--forcerun={features}" in out and "Traceback" not in out, out[-3000:]
    model = MODELS[1]
    raw = bytearray((work / model).read_bytes())
    raw[100:400] = bytes(300)
    (work / model).write_bytes(bytes(raw))
    rc, out = snakemake(work, "--cores", "2")
    assert rc != 0
    assert f"{model} cannot be read" in out and "rule train_finetune made it" in out
    assert "Traceback" not in out, out[-3000:]
    # the command the message gives remakes it and what depends on it
    rc, out = snakemake(work, "--cores", "2", f"--forcerun={model}")
    assert rc == 0, out[-3000:]
    for table in sorted((reference / "results/tables").iterdir()):
        assert filecmp.cmp(table, work / "results/tables" / table.name, shallow=False), table.name


def test_a_configured_dataset_path_without_the_files_is_named(tmp_path):
    work = fresh_copy(tmp_path / "path")
    (work / "empty").mkdir()
    (work / "faults.yaml").write_text(yaml.safe_dump(
        {"datasets": {"fashion_mnist": {"path": "empty"}}}))
    out = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1",
                          "results/fashion_mnist/dataset.npz", "--configfile", "config/test.yaml",
                          "faults.yaml"], cwd=work, capture_output=True, text=True, env=env(work))
    said = out.stdout + out.stderr
    assert out.returncode != 0
    assert "points at empty, which holds no" in said and "Traceback" not in said, said[-3000:]
    assert not list((work / "data/raw").rglob("*-ubyte"))  # nothing taken from elsewhere
