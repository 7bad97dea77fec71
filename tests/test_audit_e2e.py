"""The two worked examples of "Audit your own model" (README), end to end on the tiny profile:

1. config/audit_fashion_mnist.yaml: the profile's own Fashion-MNIST CNN audited as a user's model.
   On the same records with the same seeds, its black-box and gradient attacks give the stand-alone
   scenario's metrics to the last digit (the stand-alone rule script, scripts/run_attack.py, run on
   the stand-alone features with the audit's seeds), and its threshold baselines the stand-alone
   baselines' AUC and TPRs;
2. config/audit_resnet.yaml: a ResNet-like CNN with batch norm from its own file, on a declared
   seeded split, with LiRA from 4 reference models that its own train function trains.

Both write the verdict, the per-layer table, the figures and the per-record risk, and go into the
HTML report. A bad state_dict stops the first job, audit_validate, before any feature is read."""
import json
import os
import subprocess
import sys
import zlib

import numpy as np
import pytest
import yaml
from test_workflow import ROOT, fresh_copy

pytestmark = pytest.mark.e2e

PROFILE = yaml.safe_load((ROOT / "config/test.yaml").read_text())
EXAMPLES = {"fashion_mnist_cnn": "config/audit_fashion_mnist.yaml",
            "small_resnet": "config/audit_resnet.yaml"}
STANDALONE = "results/fashion_mnist/standalone/r0"


def snakemake(work, example, *args):
    env = {**os.environ, "PYTHONPATH": str(work / "scripts")}
    # Targets first: --configfile takes every name that follows it.
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args, "--configfile",
           "config/test.yaml", EXAMPLES[example]]
    return subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    work = fresh_copy(tmp_path_factory.mktemp("audit") / "w")
    # Example 1 with what the comparison needs: the stand-alone features and baselines.
    out = snakemake(work, "fashion_mnist_cnn", "audit", f"{STANDALONE}/features/target.npz",
                    f"{STANDALONE}/attacks/baselines/metrics.json")
    assert out.returncode == 0, out.stderr[-5000:]
    out = snakemake(work, "small_resnet", "audit")
    assert out.returncode == 0, out.stderr[-5000:]
    return work


def audit_seed(name, attack):
    """rule audit_attacks' seed of one attack (workflow/rules/common.smk artifact_seed)."""
    return zlib.crc32("/".join(map(str, (PROFILE["seed"], "audit", name, "attack",
                                         attack))).encode())


def test_example_1_matches_the_standalone_scenario(work, tmp_path):
    import run_attack

    audited = json.loads((work / "results/audit/fashion_mnist_cnn/attacks/metrics.json")
                         .read_text())["attacks"]
    attacks = ["black_box", "gradients_1", "gradients_2", "gradients_3", "gradients_4"]
    run_attack.main(work / f"{STANDALONE}/features/target.npz", work / f"{STANDALONE}/splits.npz",
                    [tmp_path / f"{a}.npz" for a in attacks],
                    [tmp_path / f"{a}.json" for a in attacks], attacks=attacks,
                    hp=PROFILE["attack_model"],
                    knowledge_fractions=PROFILE["standalone"]["knowledge_fractions"],
                    metrics_cfg=PROFILE["metrics"],
                    seeds=[audit_seed("fashion_mnist_cnn", a) for a in attacks])
    for a in attacks:
        standalone = json.loads((tmp_path / f"{a}.json").read_text())["attacks"][a]
        assert audited[a]["metrics"]["test"] == standalone["metrics"]["test"], a
        assert audited[a]["training"]["history"] == standalone["training"]["history"], a
    # Baselines: the stand-alone ones choose thresholds on the shadow model, the audit's on the
    # attacker's known records; the scores, and so AUC and TPRs, are the same.
    base = json.loads((work / f"{STANDALONE}/attacks/baselines/metrics.json").read_text())
    for b in ("loss", "confidence", "entropy", "modified_entropy", "correctness"):
        ours, theirs = audited[b]["metrics"]["test"], base["attacks"][b]["metrics"]["test"]
        for key in ("auc", "tpr_at_0.01_fpr", "tpr_at_0.001_fpr", "n_members", "n_nonmembers"):
            assert ours[key] == theirs[key], (b, key)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_writes_verdict_table_figures_and_risk(work, name):
    import pandas as pd

    out = work / "results/audit" / name
    verdict = json.loads((out / "verdict.json").read_text())
    text = verdict["verdict"]
    assert text.startswith("An attacker who knows 1")  # 120 (example 1) or 150 (example 2)
    assert "of the members" in text and "(chance: 0.5)" in text
    # 120 / 150 non-members: enough for 1 % FPR, so the verdict speaks of it with its CI.
    assert "Allowed to wrongly accuse 1 % of the non-members" in text and "95% CI" in text
    assert any(s in text for s in ("times chance", "not clearly better than chance"))
    assert text in (out / "summary.html").read_text().replace("&#x27;", "'")
    layers = pd.read_csv(out / "layers.csv")
    assert len(layers) == 4 and layers["position"].iloc[0] == "the last layer"
    assert layers["gradient_auc"].between(0, 1).all()
    risk = pd.read_csv(out / "records.csv")
    assert {"record", "class", "loss", "score", "rank"} <= set(risk.columns)
    splits = np.load(out / "splits.npz")
    assert sorted(risk["record"]) == sorted(splits["attack_test_members"])
    assert risk["rank"].is_monotonic_increasing
    for png in ("roc.png", "per_class.png"):
        assert (out / png).stat().st_size > 10_000
    ro = json.loads((out / "read_only.json").read_text())
    assert ro["fingerprint_before"] == ro["fingerprint_after"]
    assert not ro["modules_in_training_mode"] and not ro["parameters_with_grad"]


def test_example_2_reports_lira_from_references_its_train_function_trained(work):
    import pandas as pd

    out = work / "results/audit/small_resnet"
    summary = (out / "summary.md").read_text()
    assert "## LiRA with reference models" in summary
    assert "4 reference models, each a fresh copy of the model trained by your train()" in summary
    rows = [line for line in summary.splitlines() if "| calibrated (reference models) |" in line]
    labels = [r.split(" | ")[0].lstrip("| ") for r in rows]
    assert labels[:3] == ["LiRA online (logit-scaled confidence)",
                          "LiRA offline (logit-scaled confidence)",
                          "RMIA offline (true-class probability)"]
    assert "White-box LiRA online: loss" in labels
    assert "White-box LiRA online: log gradient norm of stage2.skip.0" in labels
    assert all(r.endswith("| 150 | 150 |") for r in rows)  # the paper's attacks' test records
    results = json.loads((out / "verdict.json").read_text())["results"]
    for name in ("lira_online", "lira_offline", "rmia_offline", "wb_lira_vector"):
        assert 0 <= results[name]["auc"] <= 1 and results[name]["auc_ci"] is not None
        assert results[name]["tpr_at_0.01_fpr"] is not None  # 150 non-members allow 1 % FPR
    refs = json.loads((out / "references/references.json").read_text())
    assert refs["models"] == 4 and refs["train_function"] == "train" and refs["pool"] == 600
    assert not list((out / "references").glob("*.pt"))  # statistics only, no reference weights
    risk = pd.read_csv(out / "records.csv")
    assert {"score_lira_online", "score_lira_offline"} <= set(risk.columns)


def test_example_1_says_why_it_runs_no_lira(work):
    summary = (work / "results/audit/fashion_mnist_cnn/summary.md").read_text()
    assert ("LiRA with reference models (Carlini et al. 2022) was not run: "
            "audit.model.train_function is not given") in summary
    assert "| calibrated (reference models) |" not in summary
    assert not (work / "results/audit/fashion_mnist_cnn/references").exists()


def test_example_2_reads_its_own_model_file_with_batch_norm(work):
    checked = json.loads((work / "results/audit/small_resnet/checked.json").read_text())
    assert checked["model_class"] == "SmallResNet"
    assert checked["modules"] == ["stage2.conv1", "stage2.conv2", "stage2.skip.0", "head"]
    assert "bn" in checked["forward_order"][0] or checked["forward_order"][0] == "stem"


def test_the_html_report_holds_the_audit(work):
    out = snakemake(work, "small_resnet", "audit", "--report", "audit.html")
    assert out.returncode == 0, out.stderr[-3000:]
    assert (work / "audit.html").stat().st_size > 10_000


def test_a_bad_state_dict_stops_the_first_job(work):
    import shutil

    cfg = yaml.safe_load((work / EXAMPLES["small_resnet"]).read_text())
    cfg["audit"].update(name="bad")
    # The example's weights, as a user's own file, read into a narrower model than they fit.
    shutil.copy(work / cfg["audit"]["model"]["state_dict"], work / "user_weights.pt")
    cfg["audit"]["model"].update(state_dict="user_weights.pt", train_function=None,
                                 kwargs={"width": 4, "n_classes": 10})
    (work / "config/audit_bad.yaml").write_text(yaml.safe_dump(cfg))
    EXAMPLES["bad"] = "config/audit_bad.yaml"
    out = snakemake(work, "bad", "audit")
    assert out.returncode != 0
    assert "does not match the model that audit.model.function builds" in out.stderr
    assert "wrong shapes" in out.stderr and "Error in rule audit_validate" in out.stderr
    assert not (work / "results/audit/bad/features.npz").exists()
