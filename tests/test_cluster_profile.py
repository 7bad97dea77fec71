"""The SLURM profile and the requests it passes on (workflow/profiles/slurm, README "Using it"): a
failed job is retried once with more, a crashed run reruns only its incomplete jobs, and no memory
request exceeds a node's (config ``node_mem_mb``). tests/test_planning.py checks that every job
asks for the resource model's estimate and that the profile names only existing rules."""
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from deepleak import resources, rule_costs

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


def test_the_plugin_submits_the_rules_requests_gpus_by_the_gpu_resource(tmp_path):
    """What snakemake-executor-plugin-slurm makes of the rules' resources (the installed version's
    own sbatch line): --gpus from `gpu` (never a --gres this profile would have to hard-code), none
    for a CPU job, --mem from mem_mb, -t from runtime (minutes), --cpus-per-task from threads."""
    try:
        from snakemake_executor_plugin_slurm.submit_string import get_submit_command
        from snakemake_executor_plugin_slurm.utils import set_gres_string
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("snakemake-executor-plugin-slurm is not installed "
                    "(pip install -e '.[cluster]', Python >= 3.11)")
    # device auto: the image model's training and feature jobs ask for a GPU, the rest do not.
    (tmp_path / "auto.yaml").write_text("device: auto\n")
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--forceall", "--verbose",
                          "--cores", "2", "table3", "--configfile", "config/test.yaml",
                          str(tmp_path / "auto.yaml")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    jobs = {(j["rule"], j["wildcards"].get("dataset"), j["wildcards"].get("model")): j
            for j in rule_costs.job_blocks(out.stdout + out.stderr) if j["output"]}
    params = {"run_uuid": "run", "slurm_logfile": "log", "comment_str": "c", "account": "",
              "partition": "", "workdir": ""}
    for key, gpus in [(("train_model", "fashion_mnist", "target"), 1),
                      (("train_model", "purchase100", "target"), 0)]:
        job = jobs[key]
        res = {k: int(v) for k, v in job["resources"].items() if v.isdigit()}
        assert res["gpu"] == gpus, key
        fake = SimpleNamespace(resources=_Resources(res), threads=job["threads"])
        # The executor's run_job: the sbatch line, then the GPU options.
        call = (get_submit_command(fake, params) + set_gres_string(fake)).split()
        assert ("--gpus=1" in call) == bool(gpus) and not any("gres" in c for c in call), call
        assert call[call.index("--mem") + 1] == str(res["mem_mb"])
        assert call[call.index("-t") + 1] == str(res["runtime"])  # minutes, as sbatch reads it
        assert f"--cpus-per-task={job['threads']}" in call


class _Resources(dict):
    """A job's resources as the plugin reads them: .get() and attributes."""

    __getattr__ = dict.__getitem__
