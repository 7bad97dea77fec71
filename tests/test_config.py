"""The config schema accepts the shipped profiles and rejects bad values with a readable message."""
import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow/schemas/config.schema.yaml")


def load(name):
    return yaml.safe_load((ROOT / "config" / name).read_text())


@pytest.mark.parametrize("profile", ["config.yaml", "test.yaml", "paper.yaml"])
def test_profiles_validate(profile):
    validate(copy.deepcopy(load(profile)), SCHEMA)


def test_the_rehearsal_makes_table8_with_only_its_three_attacks():
    """config/rehearsal.yaml over config/paper.yaml (README, "Paper-size rehearsal"): table8 plans
    the two tabular datasets' models at the paper profile's sizes and epochs, Table VIII's three
    attacks and the baselines, and no other attack (a Table IV gradient variant of Texas100's wide
    layers would not finish on a CPU)."""
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--cores",
                          "2", "--configfile", "config/paper.yaml", "config/rehearsal.yaml", "--",
                          "table8"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, (out.stdout + out.stderr)[-2000:]
    counts = {rule: int(n) for rule, n in (line.split() for line in out.stdout.splitlines()
                                           if len(line.split()) == 2 and line.split()[1].isdigit())}
    assert {rule for rule in counts if rule.startswith("attack_")} == {
        "attack_black_box", "attack_white_box_outputs", "attack_gradients_1"}
    assert counts["train_model"] == 4 and counts["attack_gradients_1"] == counts["baselines"] == 2


def _leaves(node, prefix=()):
    if not isinstance(node, dict):
        return [prefix]
    return [leaf for k, v in node.items() for leaf in _leaves(v, (*prefix, k))]


def test_the_rehearsal_changes_only_where_records_come_from_and_how_jobs_are_cut():
    """Nothing a number depends on: the stand-ins, the datasets run, the job cut, the threads."""
    allowed = {("standalone", "datasets"), ("standalone", "attack_jobs"), ("threads",)}
    for d in ("purchase100", "texas100"):
        allowed |= {("datasets", d, "source"), ("datasets", d, "standin", "n_records")}
    assert set(_leaves(load("rehearsal.yaml"))) <= allowed


@pytest.mark.parametrize("path, value, expected", [
    (("attack_model", "lr"), -1, "lr"),
    (("datasets", "purchase100", "source"), "kaggle", "kaggle"),
    (("standalone", "validation_fraction"), 1.5, "1.5"),
    (("attack_model", "batch_size"), 63, "63"),
])
def test_bad_value_is_named(path, value, expected):
    config = load("config.yaml")
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(WorkflowError) as err:
        validate(config, SCHEMA)
    assert expected in str(err.value)


def test_unknown_key_is_rejected():
    config = load("config.yaml")
    config["attack_model"]["kernel"] = 5  # typo of "kernels"
    with pytest.raises(WorkflowError, match="kernel"):
        validate(config, SCHEMA)


def test_snakemake_stops_before_any_job(tmp_path):
    bad = load("test.yaml")
    bad["datasets"]["purchase100"]["train"]["epochs"] = 0
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile",
                          str(tmp_path / "bad.yaml")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0
    assert "epochs" in out.stderr + out.stdout and "minimum" in out.stderr + out.stdout


def test_a_dp_target_whose_recipe_dp_sgd_would_drop_stops_the_plan(tmp_path):
    # DP-SGD steps at one learning rate on the raw records: milestones or augmentation in the
    # dataset's recipe would be dropped without a word, so planning stops and says which keys.
    bad = load("test.yaml")
    bad["datasets"]["purchase100"]["train"]["lr_milestones"] = [1]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile",
                          str(tmp_path / "bad.yaml")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0
    said = out.stdout + out.stderr
    assert "lr_milestones" in said and "dp.datasets" in said, said[-2000:]


def _plan(tmp_path, config: dict) -> subprocess.CompletedProcess:
    (tmp_path / "profile.yaml").write_text(yaml.safe_dump(config))
    return subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--cores",
                           "1", "--configfile", str(tmp_path / "profile.yaml")], cwd=ROOT,
                          capture_output=True, text=True)


def test_an_entry_may_read_another_entrys_stand_in(tmp_path):
    """The default profile's purchase100_small reads purchase100's stand-in (one generator job);
    an entry reading a stand-in no entry generates stops the plan, naming both."""
    config = load("test.yaml")
    config["datasets"]["small"] = {**copy.deepcopy(config["datasets"]["purchase100"]),
                                   "data": "purchase100"}
    del config["datasets"]["small"]["standin"]
    config["calibrated"]["datasets"] = ["small"]
    out = _plan(tmp_path, config)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "generate_standin_purchase100 " in out.stdout
    assert "generate_standin_small" not in out.stdout
    config["datasets"]["purchase100"]["source"] = "real"
    out = _plan(tmp_path, config)
    said = out.stdout + out.stderr
    assert out.returncode != 0 and "datasets.small.source is 'synthetic' with data: purchase100" \
        in said, said[-2000:]


def test_a_reference_pool_the_records_cannot_hold_stops_the_plan(tmp_path):
    """At 472f45b the default profile's calibrated stage asked for a 40,000-record pool from a
    46,000-record stand-in and failed in its job after the stand-alone scenario had run (18
    minutes); the plan now stops first, naming the entry and what to lower."""
    config = load("config.yaml")
    config["calibrated"]["datasets"] = ["purchase100"]
    out = _plan(tmp_path, config)
    said = out.stdout + out.stderr
    assert out.returncode != 0, said[-2000:]
    assert "datasets.purchase100 in calibrated.datasets" in said and "needs 37000 records" in said
    config["datasets"]["purchase100"]["standin"]["n_records"] = 84000  # 37,000 + 1,000 + 46,000
    assert _plan(tmp_path, config).returncode == 0


def test_an_unused_entry_a_profile_keeps_does_not_stop_its_plan(tmp_path):
    """config/paper.yaml merged over config/config.yaml keeps the default's purchase100_small, which
    reads purchase100's stand-in. The paper profile runs purchase100 from a local copy with its own
    digests (as tests/test_paper_smoke.py does); the unused entry must not be held to them (it was
    at 614df19, and the smoke run stopped at parse time)."""
    from deepleak import registry

    paper = load("paper.yaml")
    published = registry.get("purchase100").digests
    paper["datasets"]["purchase100"].update(path="archives", digests={
        f: {k: v + 1 if isinstance(v, int) else "0" * len(v) for k, v in d.items()}
        for f, d in published.items()})
    out = _plan(tmp_path, paper)
    assert out.returncode == 0, (out.stdout + out.stderr)[-2000:]
