"""The SLURM profile and the requests it passes on (workflow/profiles/slurm, README "Using it"): a
failed job is retried once with more, a crashed run reruns only its incomplete jobs, and no memory
request exceeds a node's (config ``node_mem_mb``). tests/test_planning.py checks that every job
asks for the resource model's estimate and that the profile names only existing rules."""
import subprocess
import sys
from pathlib import Path

import yaml
from deepleak import resources

ROOT = Path(__file__).resolve().parents[1]
PROFILE = yaml.safe_load((ROOT / "workflow/profiles/slurm/config.yaml").read_text())


def test_a_failed_job_is_retried_once_and_a_finished_one_never_reruns():
    assert PROFILE["retries"] == 1
    # after a crash: incomplete jobs rerun, finished ones (not incomplete) do not
    assert PROFILE["rerun-incomplete"] is True
    assert "forceall" not in PROFILE and "forcerun" not in PROFILE


def test_a_retry_asks_for_twice_as_much_but_never_more_than_a_node_has():
    small = resources.Estimate(work={}, mem_mb=2_000)
    assert small.request_mem_mb(1, cap=128_000) == 3_000  # 1.5x the estimate
    assert small.request_mem_mb(2, cap=128_000) == 6_000  # twice that on the retry
    big = resources.Estimate(work={}, mem_mb=100_000)
    assert big.request_mem_mb(1) == 150_000  # uncapped: more than a 128 GB node
    assert big.request_mem_mb(1, cap=128_000) == big.request_mem_mb(2, cap=128_000) == 128_000


def test_a_job_bigger_than_a_node_stops_the_plan_naming_it(tmp_path):
    (tmp_path / "node.yaml").write_text(yaml.safe_dump(
        {"node_mem_mb": 1000, "datasets": {"purchase100": {"standin": {"n_records": 197_324}}}}))
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile",
                          "config/test.yaml", str(tmp_path / "node.yaml")], cwd=ROOT,
                         capture_output=True, text=True)
    said = out.stdout + out.stderr
    assert out.returncode != 0
    assert "more than node_mem_mb (1,000 MB)" in said and "generate_standin_purchase100" in said
