"""The DAG on a real SLURM scheduler: a single-node cluster set up on this machine from Debian's
packages (tools/slurm_single_node.sh), one table of config/test.yaml submitted through
snakemake-executor-plugin-slurm with the shipped profile (workflow/profiles/slurm), the submitting
snakemake killed with SIGKILL while a training job runs, the README's recovery ("Run on a SLURM
cluster"), and the tables compared with a local run's (--cores) of the same targets and config.

The machine must be Linux, root, with apt-get and the `cluster` extra installed (`make test`
installs it). Elsewhere the module skips, saying why; under CI=true it fails instead, so that CI
never passes without having submitted a job.

Target: table3 on Purchase100 alone: the stand-in, the dataset, splits, target and shadow training,
their features, an attack job, the baselines and a table (10 SLURM jobs, a chain of 7), about two
minutes on 2 cores; the whole test (apt install included) about three and a half."""
from __future__ import annotations

import filecmp
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from workdir import env, fresh_copy

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools/slurm_single_node.sh"
pytestmark = pytest.mark.e2e

TARGET = "table3"
PARTITION = "debug"  # tools/slurm_single_node.sh's partition
# README, "Run on a SLURM cluster": the profile command line, with what this cluster needs: its
# partition, the plugin's squeue status path (this cluster has no accounting, see the script's
# header) and a first status check after 2 s instead of 40 (the jobs here take seconds). --jobs 4:
# the 2-core node runs at most 2 at once anyway.
SUBMIT = ["--executor", "slurm", "--workflow-profile", "workflow/profiles/slurm", "--jobs", "4",
          "--default-resources", f"slurm_partition={PARTITION}",
          "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2"]
# README, "Run on a SLURM cluster", after a kill of the submitting snakemake: its jobs still run on
# the cluster, so cancel those of this folder (squeue's %Z is a job's working directory), then
# unlock and submit again (the profile sets --rerun-incomplete).
CANCEL = ("squeue --me -h -o '%i %Z' | awk -v d=\"$PWD\" '$2 == d {print $1}' "
          "| xargs -r scancel")


def cannot_run() -> str | None:
    """Why this machine cannot set up the cluster, or None."""
    if not sys.platform.startswith("linux"):
        return "SLURM test: not Linux"
    if os.geteuid() != 0:
        return ("SLURM test: not root (tools/slurm_single_node.sh installs packages and starts "
                "daemons)")
    if shutil.which("apt-get") is None:
        return ("SLURM test: no apt-get (tools/slurm_single_node.sh installs Debian's slurm "
                "packages)")
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return ("SLURM test: snakemake-executor-plugin-slurm is not installed "
                "(pip install -e '.[cluster]', Python >= 3.11)")
    return None


def _command(*args):
    return [sys.executable, "-m", "snakemake", TARGET, *args, "--configfile", "config/test.yaml",
            "node.yaml"]


def snakemake(work, *args):
    out = subprocess.run(_command(*args), cwd=work, capture_output=True, text=True, env=env(work))
    return out.returncode, out.stdout + out.stderr


def squeue(work) -> list[dict]:
    """This folder's jobs, finished ones included (MinJobAge keeps them an hour)."""
    out = subprocess.run(["squeue", "--me", "--states=all", "-h", "-o", "%i|%T|%k|%Z"],
                         capture_output=True, text=True, check=True).stdout
    jobs = [dict(zip(("id", "state", "comment", "dir"), line.split("|"), strict=True))
            for line in out.splitlines()]
    return [j for j in jobs if j["dir"] == str(work)]


@pytest.fixture(scope="module")
def cluster():
    why = cannot_run()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, so the SLURM test must run, but: {why}")
        pytest.skip(why)
    start = time.monotonic()
    up = subprocess.run([str(SCRIPT), "up"], capture_output=True, text=True)
    try:
        assert up.returncode == 0, f"tools/slurm_single_node.sh up failed:\n{up.stderr[-3000:]}"
        mem = subprocess.run(["sinfo", "-h", "-N", "-p", PARTITION, "-o", "%m"],
                             capture_output=True, text=True, check=True).stdout.split()[0]
        print(f"\nslurm cluster up in {time.monotonic() - start:.0f} s (apt install included)")
        yield {"node_mem_mb": int(mem)}
    finally:
        down = subprocess.run([str(SCRIPT), "down"], capture_output=True, text=True)
    assert down.returncode == 0, f"tools/slurm_single_node.sh down failed:\n{down.stderr}"
    # Snakemake's SLURM plugin runs `scontrol show config` at every start; against the config of
    # a stopped controller that waits scontrol's 10 s timeout, so `down` removes the config `up`
    # wrote (`up` refuses to run over any other).
    assert not Path("/etc/slurm/slurm.conf").exists(), "down left its slurm.conf behind"


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    base = tmp_path_factory.mktemp("slurm")
    # One dataset keeps the DAG small; node_mem_mb is this node's memory, so that no request
    # (a retry's doubled one included) exceeds what the node has.
    node = yaml.safe_dump({"standalone": {"datasets": ["purchase100"]},
                           "node_mem_mb": cluster["node_mem_mb"]})
    work, local = fresh_copy(base / "slurm"), fresh_copy(base / "local")
    for w in (work, local):
        (w / "node.yaml").write_text(node)
    said = {}
    start = time.monotonic()
    # The local run, meanwhile: the SLURM run spends most of its time between status checks and
    # starting each job's snakemake, so the two together take little longer than the SLURM run.
    local_run = subprocess.Popen(_command("--cores", "2"), cwd=local,
                                 stdout=open(local / "local.out", "w"), stderr=subprocess.STDOUT,
                                 env=env(local))

    # 1. Submit, and kill the submitting snakemake (its whole session) while a training job runs.
    log = open(work / "first.out", "w")
    proc = subprocess.Popen(_command(*SUBMIT), cwd=work, stdout=log, stderr=subprocess.STDOUT,
                            env=env(work), start_new_session=True)
    deadline = time.monotonic() + 240
    while not any(j["state"] == "RUNNING" and j["comment"].startswith("rule_train_model")
                  for j in squeue(work)):
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("no train_model job ever ran on SLURM; snakemake said:\n"
                        + (work / "first.out").read_text()[-4000:])
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    said["before_recovery"] = squeue(work)

    # 2. The README's recovery: cancel this folder's jobs, unlock, submit the same command again.
    subprocess.run(["bash", "-c", CANCEL], cwd=work, check=True)
    deadline = time.monotonic() + 60
    while any(j["state"] in ("RUNNING", "PENDING", "COMPLETING") for j in squeue(work)):
        assert time.monotonic() < deadline, f"jobs still running after scancel: {squeue(work)}"
        time.sleep(0.5)
    said["after_cancel"] = squeue(work)
    said["unlock"] = snakemake(work, *SUBMIT, "--unlock")
    said["rerun"] = snakemake(work, *SUBMIT)
    said["slurm_s"] = time.monotonic() - start
    # 3. Submitted once more, nothing is left to do.
    said["again"] = snakemake(work, *SUBMIT, "--dry-run")

    said["local"] = (local_run.wait(), (local / "local.out").read_text())
    said["both_s"] = time.monotonic() - start
    jobs = subprocess.run(["squeue", "--me", "--states=all", "-h", "-o", "%i %T %M %k"],
                          capture_output=True, text=True).stdout
    print(f"SLURM DAG (kill, recovery) {said['slurm_s']:.0f} s; with the local run beside it "
          f"{said['both_s']:.0f} s; the jobs (id, state, time used, rule):\n{jobs}")
    return work, local, said


def test_the_recovered_slurm_run_completes_with_the_local_runs_tables(runs):
    work, local, said = runs
    assert said["unlock"][0] == 0, said["unlock"][1][-3000:]
    assert said["rerun"][0] == 0, said["rerun"][1][-5000:]
    assert said["local"][0] == 0, said["local"][1][-5000:]
    tables = sorted(p.name for p in (local / "results/tables").iterdir())
    assert tables == [f"{TARGET}.csv", f"{TARGET}.md"]
    match, mismatch, errors = filecmp.cmpfiles(local / "results/tables", work / "results/tables",
                                               tables, shallow=False)
    assert match == tables, (mismatch, errors)
    # Every result, not only the tables: models, features, scores (threads pinned the same: the
    # test profile's `threads: 1`, which a SLURM job gets as --cpus-per-task).
    files = sorted(str(p.relative_to(local)) for p in (local / "results").rglob("*") if p.is_file())
    slurm_files = sorted(str(p.relative_to(work)) for p in (work / "results").rglob("*")
                         if p.is_file())
    assert slurm_files == files
    match, mismatch, errors = filecmp.cmpfiles(local, work, files, shallow=False)
    assert not mismatch and not errors, (mismatch, errors)


def test_the_kill_left_a_job_running_and_the_recovery_cancelled_it(runs):
    _, _, said = runs
    # What the README's cancel line is for: SIGKILL of snakemake does not reach the cluster.
    assert any(j["state"] in ("RUNNING", "COMPLETING") for j in said["before_recovery"]), \
        said["before_recovery"]
    assert not any(j["state"] in ("RUNNING", "PENDING") for j in said["after_cancel"])
    assert any(j["state"] == "CANCELLED" for j in said["after_cancel"]), said["after_cancel"]


def test_a_job_finished_before_the_kill_is_not_submitted_again(runs):
    _, _, said = runs
    done = {j["comment"] for j in said["before_recovery"] if j["state"] == "COMPLETED"}
    assert "rule_make_splits_wildcards_purchase100_r0" in done, said["before_recovery"]
    rerun = said["rerun"][1]
    for rule in ("generate_standin_purchase100", "prepare_dataset", "make_splits"):
        assert f"rule {rule}:" not in rerun, f"{rule} ran again after the recovery"
    assert "rule train_model:" in rerun  # the killed job, rerun as incomplete
    code, again = said["again"]
    assert code == 0 and "Nothing to be done" in again, again[-3000:]
