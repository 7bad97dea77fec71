"""benchmarks/rehearsal_report.py reads what the rehearsal's jobs write: the progress lines of
deepleak/progress.py (a change of their format must not silently empty the README's table), and
extrapolates the attacks it did not run from the one it measured."""
import importlib.util
import logging
from pathlib import Path

import pandas as pd
from deepleak import progress, resources

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("rehearsal_report",
                                              ROOT / "benchmarks/rehearsal_report.py")
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)


def test_a_running_attack_is_read_from_its_progress_lines(tmp_path, monkeypatch, caplog):
    clock = {"t": 0.0}
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock["t"])
    log = logging.getLogger("deepleak.attack")
    p = progress.Progress(log, "attack epoch", 100)
    with caplog.at_level(logging.INFO, logger="deepleak.attack"):
        for epoch in (1, 2, 3):
            clock["t"] += 90.0
            p(epoch, train_mse=0.2)
    logs = tmp_path / "logs/texas100/standalone/r0"
    logs.mkdir(parents=True)
    (logs / "attack_gradients_1.log").write_text("\n".join(caplog.messages) + "\n")
    done = tmp_path / "results/texas100/standalone/r0/attacks/black_box"
    done.mkdir(parents=True)
    (done / "metrics.json").write_text("{}")
    (logs / "attack_black_box.log").write_text("\n".join(caplog.messages) + "\n")
    resumed = logs / "attack_gradients_2.log"  # killed after 40 epochs, resumed, 3 more timed
    resumed.write_text("... attack epoch 40/100: train_mse 0.1; 1:00:00 elapsed, ...\n"
                       "... resuming after epoch 40 of 100 (scores.npz.ckpt)\n"
                       + "\n".join(caplog.messages).replace("epoch 3/", "epoch 43/") + "\n")
    rows = report.in_progress(tmp_path, ["texas100"])
    assert rows.set_index("attack").loc["gradients_2", "seconds_per_epoch"] == 90.0
    rows = rows[rows["attack"] == "gradients_1"]
    assert rows.to_dict("records") == [{"dataset": "texas100", "attack": "gradients_1",
                                        "description": "White-box: last-layer gradient",
                                        "epochs_done": 3, "epochs": 100,
                                        "seconds_per_epoch": 90.0, "projected_hours": 2.5}]


def test_the_attacks_not_run_are_scaled_from_the_measured_one():
    config = resources.profile_config(ROOT, report.CONFIGFILES)
    jobs = pd.DataFrame([{"step": f"standalone/attack_{a}", "dataset": d, "cpu_seconds": s,
                          "first_epoch_timed": first, "epochs": 100}
                         for d, first in (("purchase100", 1), ("texas100", 1))
                         for a, s in (("gradients_1", 7200.0), ("black_box", 60.0),
                                      ("white_box_outputs", 90.0))])
    more = report.extrapolate(config, jobs).set_index(["dataset", "attack"])
    assert ("purchase100", "gradients_1") not in more.index  # measured, not extrapolated
    assert ("texas100", "black_box") not in more.index
    # The second-to-last layer has twice the last layer's inputs (256 against 128): about twice
    # the measured two hours.
    g2 = more.loc[("purchase100", "gradients_2")]
    assert 1.5 < g2["work_vs_measured"] < 2.5
    assert abs(g2["core_hours"] - 2.0 * g2["work_vs_measured"]) < 1e-9
    assert more.loc[("texas100", "gradients_all_outputs_all"), "core_hours"] > \
        more.loc[("texas100", "gradients_2"), "core_hours"]


def test_a_resumed_attack_is_timed_over_the_epochs_after_its_resume(tmp_path):
    """Snakemake's benchmark file times a job's last attempt only: a gradient attack resumed
    after epoch 75 of 100 and timed at 1,800 CPU-s cost 7,200 CPU-s in all, and the attacks
    scaled from it are scaled from that."""
    logs = tmp_path / "logs/purchase100/standalone/r0"
    logs.mkdir(parents=True)
    (logs / "attack_gradients_1.log").write_text(
        "... resuming after epoch 75 of 100 (scores.npz.ckpt)\n"
        "... attack epoch 76/100: train_mse 0.1; 0:01:12 elapsed, about 0:30:00 left\n")
    (logs / "train_target.log").write_text("... epoch 100/100: ...\n")
    jobs = pd.DataFrame([
        {"step": "standalone/attack_gradients_1", "dataset": "purchase100",
         "file": "purchase100/standalone/r0/attack_gradients_1.tsv", "cpu_seconds": 1800.0},
        {"step": "standalone/train_target", "dataset": "purchase100",
         "file": "purchase100/standalone/r0/train_target.tsv", "cpu_seconds": 500.0}])
    jobs = report.epochs_timed(tmp_path, jobs)
    assert jobs.loc[0, ["first_epoch_timed", "epochs"]].tolist() == [76, 100]
    assert jobs.loc[1, ["first_epoch_timed", "epochs"]].isna().all()  # not an attack model
    config = resources.profile_config(ROOT, report.CONFIGFILES)
    resumed = report.extrapolate(config, jobs).set_index(["dataset", "attack"])
    whole = report.extrapolate(config, jobs.assign(
        cpu_seconds=[7200.0, 500.0], first_epoch_timed=pd.array([1, None], dtype="Int64")))
    assert resumed["core_hours"].tolist() == whole["core_hours"].tolist()
    g2 = resumed.loc[("purchase100", "gradients_2")]
    assert abs(g2["core_hours"] - 2.0 * g2["work_vs_measured"]) < 1e-9


def test_each_job_gets_the_threads_of_its_last_attempt(tmp_path):
    """A job resumed with --set-threads shows the threads of the attempt its benchmark timed;
    Snakemake prints "threads:" only above one."""
    logs = tmp_path / ".snakemake/log"
    logs.mkdir(parents=True)
    block = ("{kind}rule attack_gradients_1:\n"
             "    benchmark: benchmarks/purchase100/standalone/r0/attack_gradients_1.tsv\n"
             "    wildcards: dataset=purchase100, rep=r0\n{threads}"
             "    resources: tmpdir=/tmp\n\n")
    other = ("rule train_model:\n"
             "    benchmark: benchmarks/purchase100/standalone/r0/train_target.tsv\n"
             "    threads: 4\n\n")
    (logs / "2026-12-07T0626.snakemake.log").write_text(
        block.format(kind="local", threads="") + other)
    (logs / "2026-12-07T1113.snakemake.log").write_text(
        "Building DAG of jobs...\n" + block.format(kind="", threads="    threads: 2\n"))
    jobs = pd.DataFrame({"file": ["purchase100/standalone/r0/attack_gradients_1.tsv",
                                  "purchase100/standalone/r0/train_target.tsv",
                                  "purchase100/generate_standin.tsv"]})
    assert report.job_threads(tmp_path, jobs)["threads"].tolist() == [2, 4, 1]
