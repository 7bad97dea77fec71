"""Planning the DAG: it imports no torch, every job declares its threads and resources from the
resource model (deepleak/resources.py), and the SLURM profile takes them from the rules."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from deepleak import resources, rule_costs, variants

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ["config.yaml", "test.yaml", "paper.yaml"]


def plan(*args, env=None):
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)


@pytest.fixture(scope="module", params=PROFILES)
def dry_run(request, tmp_path_factory):
    """(profile, every job of its DAG as `snakemake -n --forceall --verbose` prints it), planned
    with a `torch` that cannot be imported first on the path: planning must never reach for it."""
    fake = tmp_path_factory.mktemp("no_torch")
    (fake / "torch").mkdir()
    (fake / "torch" / "__init__.py").write_text(
        "raise ImportError('torch was imported while planning the DAG')\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(fake), "HOME": str(fake)}
    out = plan("-n", "--forceall", "--verbose", "--configfile", f"config/{request.param}",
               env=env)
    return request.param, out


def test_planning_imports_no_torch(dry_run):
    _, out = dry_run
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]


def test_every_job_asks_for_what_the_resource_model_estimates(dry_run):
    profile, out = dry_run
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    config = resources.profile_config(ROOT, f"config/{profile}")
    jobs = [j for j in rule_costs.job_blocks(out.stdout + out.stderr) if j["output"]]
    assert len(jobs) > 20
    for job in jobs:
        est = resources.estimate(config, job["rule"], job["wildcards"])
        asked = {k: int(job["resources"].get(k, -1)) for k in ("mem_mb", "runtime", "gpu")}
        assert asked == {"mem_mb": est.request_mem_mb(cap=config.get("node_mem_mb")),
                         "runtime": est.runtime_min(job["threads"]),
                         "gpu": est.gpu}, (job["rule"], job["wildcards"])
    # GPUs for the torch jobs of image models under device auto (cuda: every torch job).
    gpu_rules = {j["rule"] for j in jobs if j["resources"]["gpu"] == "1"}
    if config["device"] == "cpu":
        assert not gpu_rules
    else:
        assert gpu_rules <= {"train_model", "train_finetune", "extract_features",
                             "finetune_features"}


def test_a_dataset_no_table_of_the_paper_reads_trains_only_the_attacks_asked_of_it(dry_run):
    """Grouped attack jobs train every variant of their group: right for the datasets of the
    paper's tables, wasted on one only the calibrated and DP stages use (the default profile's
    purchase100_small, asked for the black-box and last-layer gradient attacks): it gets one job
    per attack."""
    profile, out = dry_run
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    config = resources.profile_config(ROOT, f"config/{profile}")
    n = len(config["standalone"]["knowledge_fractions"])
    groups = {f"attack_{g}" for g in variants.attack_groups(n)}
    single = {f"attack_{a}" for a in variants.attack_groups(n, per_attack=True)}
    by_dataset = {}
    for job in rule_costs.job_blocks(out.stdout + out.stderr):
        if job["rule"] in groups | single:
            by_dataset.setdefault(job["wildcards"]["dataset"], set()).add(job["rule"])
    for dataset, rules in by_dataset.items():
        assert rules <= (groups if dataset in config["standalone"]["datasets"] else single), \
            (dataset, rules)
    if profile == "config.yaml":
        assert by_dataset["purchase100_small"] == {"attack_black_box", "attack_gradients_1"}


def test_the_longest_chains_start_first(dry_run):
    """Rule priorities (common.smk PRIORITY): of the jobs ready to run, Snakemake starts data, then
    model training, then features, then the stand-alone attack models, before the short jobs
    (tables, figures, federated attacks) that fill the cores around them."""
    profile, out = dry_run
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    config = resources.profile_config(ROOT, f"config/{profile}")
    groups = {f"attack_{g}" for g in variants.attack_groups(
        len(config["standalone"]["knowledge_fractions"]), per_attack=True)} | {
        f"attack_{g}" for g in variants.attack_groups(
            len(config["standalone"]["knowledge_fractions"]))}
    priority = {}
    for job in rule_costs.job_blocks(out.stdout + out.stderr):
        priority.setdefault(job["rule"], set()).add(job["priority"])
    stage = lambda rules: {p for r in rules if r in priority for p in priority[r]}  # noqa: E731
    data, train = stage({"prepare_dataset", "make_splits"}), stage({"train_model"})
    features, attacks = stage({"extract_features"}), stage(groups)
    assert all(len(s) == 1 for s in (data, train, features, attacks)), priority
    assert min(data) > max(train) > max(features) > max(attacks) > 0
    assert stage({"table8", "make_standalone_table"}) <= {0}


def test_slurm_profile_takes_resources_from_the_rules():
    profile = yaml.safe_load((ROOT / "workflow/profiles/slurm/config.yaml").read_text())
    rules = set()
    for name in PROFILES:
        out = plan("--list-rules", "--configfile", f"config/{name}")
        assert out.returncode == 0, out.stderr[-3000:]
        rules |= set(out.stdout.split())
    named = set(profile.get("set-resources") or {}) | set(profile.get("set-threads") or {})
    assert not named - rules, f"the SLURM profile names rules that do not exist: {named - rules}"
    # Memory, time and GPUs come from the rules' resource model, never from numbers here.
    numbers = {("default-resources", k) for k in profile.get("default-resources") or {}}
    numbers |= {(rule, k) for rule, res in (profile.get("set-resources") or {}).items()
                for k in res}
    model = {"mem_mb", "mem", "runtime", "gpu", "cpus_per_task"}
    assert not {n for n in numbers if n[1] in model}, numbers


def test_every_audit_job_asks_for_memory_time_and_a_gpu_only_where_the_model_runs(tmp_path):
    """The audit's jobs (README, "Audit your own model") run a model the resource model has not
    seen: they ask for audit.resources, or a memory estimate from the user's files' sizes."""
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"\0" * 100 * 2**20)  # a 100 MB state_dict: 1,500 + 400 MB
    audit = yaml.safe_load((ROOT / "config/audit_resnet.yaml").read_text())
    audit["audit"]["model"]["state_dict"] = str(weights)
    audit["device"] = "auto"
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(audit))
    out = plan("-n", "--forceall", "--verbose", "audit", "--configfile",
               str(tmp_path / "audit.yaml"))
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    jobs = {j["rule"]: j["resources"] for j in rule_costs.job_blocks(out.stdout + out.stderr)
            if j["rule"].startswith("audit_")}
    assert {"audit_validate", "audit_features", "audit_attacks", "audit_report"} <= set(jobs)
    data = ROOT / audit["audit"]["data"]["npz"]
    data = data.stat().st_size if data.exists() else 0  # made by the pipeline, if it ran here
    expect = resources.audit_mem_mb(100 * 2**20, data)
    for rule, asked in jobs.items():
        assert int(asked["mem_mb"]) == -(-expect // 100) * 100, rule
        assert int(asked["runtime"]) == 120, rule
    assert {r for r, asked in jobs.items() if asked["gpu"] == "1"} <= {
        "audit_features", "audit_references", "audit_target_statistics"}
    assert jobs["audit_features"]["gpu"] == "1" and jobs["audit_attacks"]["gpu"] == "0"
    audit["audit"]["resources"] = {"mem_mb": 7000, "runtime": 30}
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(audit))
    out = plan("-n", "--forceall", "--verbose", "audit", "--configfile",
               str(tmp_path / "audit.yaml"))
    for job in rule_costs.job_blocks(out.stdout + out.stderr):
        if job["rule"].startswith("audit_"):
            assert (job["resources"]["mem_mb"], job["resources"]["runtime"]) == ("7000", "30")
