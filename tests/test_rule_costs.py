"""The per-step cost table read from Snakemake's benchmark files (deepleak/rule_costs.py)."""
from pathlib import Path

import pytest
from deepleak import rule_costs

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def bench(root: Path, rel: str, seconds: float, rss: float = 100.0, cpu: float = 1.0) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t50\t{cpu}\n")


@pytest.mark.parametrize("rel, step, dataset", [
    ("texas100/standalone/r0/attack_gradients.tsv", "standalone/attack_gradients", "texas100"),
    ("texas100/standalone/r12/train_target.tsv", "standalone/train_target", "texas100"),
    ("purchase100/generate_standin.tsv", "generate_standin", "purchase100"),
    ("tables/table8.tsv", "tables/table8", ""),
    ("figures/roc_purchase100_r0.tsv", "figures/roc_purchase100_r0", ""),
])
def test_step_names_drop_dataset_and_replicate(rel, step, dataset):
    assert rule_costs.step_of(Path(rel)) == (step, dataset)


def test_per_step_adds_datasets_and_replicates(tmp_path):
    bench(tmp_path, "a/standalone/r0/attack_outputs.tsv", 10, rss=300)
    bench(tmp_path, "b/standalone/r0/attack_outputs.tsv", 30, rss=200)
    bench(tmp_path, "a/standalone/r1/attack_outputs.tsv", 20, rss=100)
    bench(tmp_path, "tables/table8.tsv", 4)
    table = rule_costs.per_step(rule_costs.read(tmp_path)).set_index("step")
    row = table.loc["standalone/attack_outputs"]
    assert (row["jobs"], row["seconds"], row["max_job_seconds"]) == (3, 60, 30)
    assert row["max_rss_mb"] == 300
    assert table.index[0] == "standalone/attack_outputs"  # dearest first
    assert table["share"].sum() == pytest.approx(1.0)


def test_compare_keeps_steps_of_one_run_and_totals(tmp_path):
    before, after = tmp_path / "before", tmp_path / "after"
    bench(before, "a/standalone/r0/train_target.tsv", 40)
    bench(before, "a/federated/r0/simulate_passive.tsv", 60)
    bench(after, "a/standalone/r0/train_target.tsv", 10)
    bench(after, "a/federated/r0/simulate_sweep.tsv", 20)
    table = rule_costs.compare(rule_costs.read(before), rule_costs.read(after)).set_index("step")
    assert table.loc["standalone/train_target", "speedup"] == pytest.approx(4.0)
    assert table.loc["federated/simulate_passive", "seconds_after"] != \
        table.loc["federated/simulate_passive", "seconds_after"]  # NaN: gone after
    assert table.loc["total", "seconds_before"] == 100
    assert table.loc["total", "speedup"] == pytest.approx(100 / 30)


def test_no_benchmark_files_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the pipeline first"):
        rule_costs.read(tmp_path)


def _block(t: str, rule: str, jobid: int, threads: int = 1, local: bool = True) -> str:
    fields = [f"[Mon Dec  7 10:{t} 2026]", f"{'local' if local else ''}rule {rule}:",
              f"    output: results/{rule}.npz", f"    jobid: {jobid}",
              f"    benchmark: benchmarks/{rule}.tsv"]
    if threads > 1:  # Snakemake prints threads only above one
        fields.append(f"    threads: {threads}")
    return "\n".join([*fields, "    resources: tmpdir=/tmp"]) + "\n"


def _finished(t: str, jobid: int, rule: str) -> str:
    return f"[Mon Dec  7 10:{t} 2026]\nFinished jobid: {jobid} (Rule: {rule})\n1 of 4 steps\n"


def test_occupancy_counts_the_seconds_a_core_stood_idle():
    # On 2 cores: 0-10 s a two-thread job (full); 10-40 s job 2 alone for 10 s, then jobs 2 and 3
    # (full) to 30 s, then job 2 alone again to 40 s; job 4 never finishes (a failed job).
    log = (_block("00:00", "generate", 1, threads=2) + _finished("00:10", 1, "generate")
           + _block("00:10", "train", 2, local=False) + _block("00:20", "attack", 3)
           + _finished("00:30", 3, "attack") + _block("00:31", "plot", 4)
           + _finished("00:40", 2, "train"))
    jobs = rule_costs.log_jobs(log).set_index("jobid")
    assert list(jobs["rule"]) == ["generate", "train", "attack", "plot"]
    assert jobs.loc[1, "threads"] == 2 and jobs.loc[2, "threads"] == 1
    assert jobs.loc[3, "benchmark"] == "benchmarks/attack.tsv"
    assert (jobs.loc[3, "end"] - jobs.loc[3, "start"]).total_seconds() == 10
    assert jobs["end"].isna().tolist() == [False, False, False, True]
    occ = rule_costs.occupancy(jobs.reset_index(), cores=2)
    assert occ == {"wall_seconds": 40.0, "cores": 2, "jobs": 3, "seconds_under_full": 20.0,
                   "idle_core_seconds": 20.0}
    # On 4 cores the two-thread job leaves two idle, the others three or two.
    assert rule_costs.occupancy(jobs.reset_index(), cores=4)["idle_core_seconds"] == \
        2 * 10 + 3 * 10 + 2 * 10 + 3 * 10


def test_occupancy_without_a_finished_job_says_so():
    with pytest.raises(ValueError, match="no finished job"):
        rule_costs.occupancy(rule_costs.log_jobs(_block("00:00", "train", 1)), cores=2)
