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
