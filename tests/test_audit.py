"""Audit your own model (deepleak/audit_model.py, scripts/audit_*.py): the first, cheap validation
job refuses each kind of bad input with a message naming it; the model and the user's files are only
read; the verdict speaks plainly."""
from __future__ import annotations

import copy
import os
import textwrap

import audit_features
import audit_references
import audit_target_statistics
import audit_validate
import numpy as np
import pytest
import torch
from deepleak import artifacts, audit_model, files

torch.set_num_threads(1)

MODEL_FILE = textwrap.dedent('''
    import torch.nn.functional as F
    from torch import nn


    class Net(nn.Module):
        """conv - batch norm - pool - linear - linear: a user's small image model."""

        def __init__(self, classes=3, width=4):
            super().__init__()
            self.conv = nn.Conv2d(1, width, 3, padding=1)
            self.bn = nn.BatchNorm2d(width)
            self.fc1 = nn.Linear(width * 16, 8)
            self.out = nn.Linear(8, classes)

        def forward(self, x):
            h = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
            return self.out(F.relu(self.fc1(h.flatten(1))))


    def build(classes=3, width=4):
        return Net(classes, width)


    def train(model, X, y, *, seed, steps=100, calls=None):
        """Full-batch Adam until the model has memorised (X, y); each call is appended to the
        file ``calls``, so that a test can count them."""
        import torch

        if calls:
            with open(calls, "a") as f:
                f.write(f"{len(X)} {seed}\\n")
        torch.manual_seed(seed)
        X, y = torch.as_tensor(X), torch.as_tensor(y)
        opt = torch.optim.Adam(model.parameters(), lr=0.02)
        model.train()
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(model(X), y).backward()
            opt.step()
''')

N = 120


@pytest.fixture()
def user(tmp_path):
    """A user's model file, trained-looking weights (batch-norm statistics moved off their start),
    data and member / non-member index files, and the audit section naming them."""
    (tmp_path / "net.py").write_text(MODEL_FILE)
    torch.manual_seed(0)
    fn = audit_model.load_function(tmp_path / "net.py", "build")
    net = fn()
    net.bn.running_mean.fill_(0.3)
    net.bn.running_var.fill_(2.0)
    torch.save(net.state_dict(), tmp_path / "weights.pt")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", X=rng.normal(size=(N, 1, 8, 8)).astype(np.float32),
             y=rng.integers(0, 3, N))
    np.save(tmp_path / "members.npy", np.arange(0, 60))
    np.savetxt(tmp_path / "nonmembers.txt", np.arange(60, 120), fmt="%d")
    cfg = {
        "name": "t",
        "model": {"file": str(tmp_path / "net.py"), "function": "build", "kwargs": {},
                  "state_dict": str(tmp_path / "weights.pt"), "sha256": None},
        "data": {"npz": str(tmp_path / "data.npz"), "image_folder": None, "transform": "none"},
        "membership": {"members": str(tmp_path / "members.npy"),
                       "nonmembers": str(tmp_path / "nonmembers.txt"), "column": None,
                       "split": None, "attacker_sets": None},
        "knowledge": {"members": 0.5, "nonmembers": 0.5},
        "test": {"members": None, "nonmembers": None},
        "validation_fraction": 0.25,
        "layers": {"last": 3, "names": None},
        "conv_gradient": "channel_norms", "max_output_features": 4096, "batch_size": 32,
        "chunk_size": 8, "fpr": 0.01, "per_class_min_records": 2,
        "references": {"models": 4, "train_size": None, "population": 0},
    }
    return tmp_path, cfg


def validate(tmp_path, cfg, batch=8):
    audit_validate.main(tmp_path / "splits.npz", tmp_path / "checked.json", audit=cfg,
                        attack_batch_size=batch, seed=1)
    return artifacts.load_json(tmp_path / "checked.json")


def test_good_input_passes_and_names_the_layers_in_forward_order(user):
    tmp_path, cfg = user
    checked = validate(tmp_path, cfg)
    assert checked["forward_order"] == ["conv", "fc1", "out"]
    assert checked["modules"] == ["conv", "fc1", "out"] and checked["output_layer"] == "out"
    sets = artifacts.load_npz(tmp_path / "splits.npz")
    # Half of each side known (15 training + 15 validation of 60... with validation 0.25), the rest
    # tested, and nothing shared.
    assert len(sets["attack_train_members"]) + len(sets["attack_val_members"]) == 30
    assert len(sets["attack_test_members"]) == 30 and len(sets["attack_test_nonmembers"]) == 30
    every = np.concatenate([sets[k] for k in ("attack_train_members", "attack_val_members",
                                              "attack_test_members", "attack_train_nonmembers",
                                              "attack_val_nonmembers", "attack_test_nonmembers")])
    assert len(np.unique(every)) == len(every) == 120


def _bad_state(tmp_path, change):
    state = torch.load(tmp_path / "weights.pt", weights_only=True)
    change(state)
    torch.save(state, tmp_path / "bad.pt")
    return str(tmp_path / "bad.pt")


def _drop_key(state):
    del state["fc1.bias"]


def _extra_key(state):
    state["head.weight"] = torch.zeros(2)


def _wrong_shape(state):
    state["out.weight"] = torch.zeros(5, 8)


@pytest.mark.parametrize("edit, message", [
    (lambda t, c: c["model"].update(function="make_net"),
     "audit.model.function: .* has no function 'make_net'; the functions and classes it defines "
     r"are \['Net', 'build', 'train'\]"),
    (lambda t, c: c["model"].update(file=str(t / "nowhere.py")),
     "audit.model.file: .* does not exist"),
    (lambda t, c: c["model"].update(state_dict=_bad_state(t, _drop_key)),
     r"does not match the model .* missing keys \(1\): \['fc1.bias'\]"),
    (lambda t, c: c["model"].update(state_dict=_bad_state(t, _extra_key)),
     r"unexpected keys \(1\): \['head.weight'\]"),
    (lambda t, c: c["model"].update(state_dict=_bad_state(t, _wrong_shape)),
     r"wrong shapes \(1\): \['out.weight: file \(5, 8\), model \(3, 8\)'\]"),
    (lambda t, c: c["model"].update(sha256="0" * 64), "audit.model.sha256: .* has sha256"),
    (lambda t, c: torch.save(torch.nn.Linear(2, 2), t / "weights.pt"),
     r"cannot be read with torch.load\(weights_only=True\)"),
    (lambda t, c: np.savez(t / "data.npz", X=np.zeros((N, 3, 8, 8), np.float32),
                           y=np.zeros(N, np.int64)),
     r"the model cannot read the data: module 'conv' \(Conv2d\(1, 4.*records of shape \(3, 8, 8\)"),
    (lambda t, c: np.savez(t / "data.npz", X=np.zeros((N, 1, 8, 8), np.float32),
                           y=np.r_[np.zeros(N - 2), 3, 7].astype(np.int64)),
     r"labels \[3, 7\] are outside the model's 3 outputs"),
    (lambda t, c: np.save(t / "members.npy", np.arange(50, 110)),
     "50 records are both members and non-members"),
    (lambda t, c: np.save(t / "members.npy", np.arange(100, 130)),
     r"audit.membership.members: indices \[120, 121, 122, 123, 124\] are outside the data's 120"),
    (lambda t, c: c["test"].update(members=50),
     "audit.test.members: the attacker knows 30 members .* and 50 more are asked for the attack "
     "test set, but there are only 60"),
    (lambda t, c: c["knowledge"].update(nonmembers=0.1),
     "too few records for the requested knowledge and test sizes: attack_train_nonmembers has 4 "
     "records, and needs at least 8"),
    (lambda t, c: c["layers"].update(last=9),
     r"audit.layers.last is 9, but the model has 3 parameterised layers "
     r"\(\['conv', 'fc1', 'out'\]\); lower it"),
    (lambda t, c: c["layers"].update(names=["bn"]),
     r"audit.layers.names: \['bn'\] are not nn.Linear / nn.Conv2d modules"),
])
def test_bad_input_gets_a_clear_error_from_the_validation_job(user, edit, message):
    tmp_path, cfg = user
    edit(tmp_path, cfg)
    with pytest.raises(audit_model.AuditError, match=message):
        validate(tmp_path, cfg, batch=16)
    assert not (tmp_path / "splits.npz").exists()


def test_membership_from_a_column_and_from_a_declared_split(user):
    tmp_path, cfg = user
    with np.load(tmp_path / "data.npz") as d:
        arrays = dict(d)
    column = np.full(N, -1)
    column[:50], column[50:100] = 1, 0
    arrays["member"] = column
    members, nonmembers = audit_model.membership({"column": "member"}, N, arrays)
    assert members.tolist() == list(range(50)) and nonmembers.tolist() == list(range(50, 100))
    members, nonmembers = audit_model.membership(
        {"split": {"seed": 4, "members": 30, "nonmembers": 40}}, N, arrays)
    perm = np.random.default_rng(4).permutation(N)
    assert members.tolist() == sorted(perm[:30]) and nonmembers.tolist() == sorted(perm[30:70])


def test_the_model_and_the_user_files_are_only_read(user):
    """The audit's feature job on a batch-norm model: weights and running statistics unchanged in
    memory (the net built here, in training mode as a user's function returns it, is the one
    read) and on disk, no module left in training mode, no parameter gradient."""
    tmp_path, cfg = user
    checked = validate(tmp_path, cfg)
    paths = audit_model.user_files(cfg)
    before_files = {p: (files.sha256(p), os.stat(p).st_mtime_ns) for p in paths}
    audit_features.main(tmp_path / "splits.npz", tmp_path / "checked.json",
                        tmp_path / "features.npz", tmp_path / "read_only.json", audit=cfg,
                        device="cpu")
    ro = artifacts.load_json(tmp_path / "read_only.json")
    assert ro["fingerprint_before"] == ro["fingerprint_after"] == checked["fingerprint"]
    assert {p: (files.sha256(p), os.stat(p).st_mtime_ns) for p in paths} \
        == before_files

    # In memory, directly: the library call the feature job makes, on a net in training mode.
    from deepleak import features

    net = audit_model.build(cfg["model"])
    audit_model.load_weights(net, torch.load(tmp_path / "weights.pt", weights_only=True), "w")
    assert net.training  # as built: a forward pass in this mode would move the BN statistics
    state = copy.deepcopy(net.state_dict())
    with np.load(tmp_path / "data.npz") as d:
        X, y = d["X"], d["y"]
    features.extract(audit_model.hooked(net, checked["modules"]), X, y, gradient_layers=3,
                     batch_size=16, chunk_size=4)
    after = net.state_dict()
    assert all(torch.equal(state[k], after[k]) for k in state), "weights or buffers changed"
    assert not any(m.training for m in net.modules())
    assert all(p.grad is None for p in net.parameters())
    # And the check itself fires: a model whose batch-norm statistics moved is refused.
    fp = audit_model.fingerprint(net)
    net.bn.running_mean += 1
    with pytest.raises(RuntimeError, match="the audit changed the model"):
        audit_features.check_read_only(net, fp, cfg)


def test_a_module_with_dots_in_its_name_is_read_through_hooks():
    from torch import nn

    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Sequential(nn.Linear(6, 5), nn.ReLU()),
                        nn.Linear(5, 3))
    found = audit_model.probe(net, np.zeros((2, 4), np.float32), np.zeros(2, np.int64))
    assert found["order"] == ["0", "2.0", "3"]
    hooked = audit_model.hooked(net, found["order"])
    assert hooked.layer_names == ["0", "2_0", "3"]
    logits, outs = hooked(torch.zeros(2, 4), return_activations=True)
    assert torch.equal(outs[-1], logits) and outs[1].shape == (2, 5)


def _result(tpr, lo, hi, auc=0.8, n_nonmembers=500):
    return {"auc": auc, "tpr_at_0.01_fpr": tpr, "tpr_at_0.01_fpr_ci": [lo, hi], "n_members": 500,
            "n_nonmembers": n_nonmembers, "confidence": 0.95}


def test_verdict_says_how_much_better_than_chance_in_plain_words():
    descriptions = {"black_box": "Black-box: prediction vector, loss and label",
                    "gradients_1": "White-box: gradient of layer fc (the last layer)",
                    "loss": "loss threshold"}
    known = {"members": 500, "nonmembers": 500}
    strong = {"black_box": _result(0.05, 0.03, 0.08), "gradients_1": _result(0.25, 0.2, 0.3),
              "loss": _result(0.04, 0.02, 0.06)}
    text = audit_model.verdict(strong, descriptions, fpr=0.01, known=known, model_label="M")
    assert "picks out 25.0 % of the members" in text and "25 times chance" in text
    assert "random guess picks out 1 %" in text and "threshold on the model's loss" in text
    weak = {k: _result(0.012, 0.0, 0.03, auc=0.51) for k in descriptions}
    text = audit_model.verdict(weak, descriptions, fpr=0.01, known=known, model_label="M")
    assert "not clearly better than chance" in text
    few = {k: _result(None, None, None, n_nonmembers=60) for k in descriptions}
    text = audit_model.verdict(few, descriptions, fpr=0.01, known=known, model_label="M")
    assert "too few to measure the attack at 1 % false positives" in text and "AUC alone" in text


def test_an_image_folder_is_read_with_a_named_transform(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("coat", "shirt"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(
                tmp_path / cls / f"{i}.png")
    X, y, _ = audit_model.load_data({"image_folder": str(tmp_path),
                                     "transform": "pixels_grayscale"})
    assert X.shape == (6, 1, 8, 8) and y.tolist() == [0, 0, 0, 1, 1, 1]
    assert X.max() > 1  # raw 0..255 values
    X, _, _ = audit_model.load_data({"image_folder": str(tmp_path), "transform": "to_tensor"})
    assert X.shape == (6, 3, 8, 8) and X.max() <= 1
    with pytest.raises(audit_model.AuditError, match="image_folder data needs one of"):
        audit_model.load_data({"image_folder": str(tmp_path), "transform": "none"})


# --------------------------------------------------------------------------------------------------
# LiRA with reference models trained by the user's own function
# --------------------------------------------------------------------------------------------------
def test_lira_ranks_memorised_members_first_from_references_the_users_function_trained(user):
    """Planted leakage: the user's model memorises its 60 members (random labels, so nothing but
    memory predicts them). The audit's LiRA path (rules audit_references, audit_target_statistics,
    audit_lira) trains each reference model through the user's train function, with its kwargs,
    on half of the pool, and ranks the test members above the test non-members."""
    import run_calibrated_attacks

    tmp_path, cfg = user
    calls = tmp_path / "calls.txt"
    cfg["model"].update(train_function="train", train_kwargs={"steps": 200, "calls": str(calls)})
    with np.load(tmp_path / "data.npz") as d:
        X, y = d["X"], d["y"]
    target = audit_model.train_model(cfg["model"], X[:60], y[:60], seed=7)
    torch.save(target.state_dict(), tmp_path / "weights.pt")
    assert calls.read_text().splitlines() == ["60 7"]
    calls.unlink()
    validate(tmp_path, cfg)
    t = {k: tmp_path / k for k in ("splits.npz", "checked.json", "mask.npz", "references.npz",
                                   "references.json", "target.npz", "scores.npz", "metrics.json")}
    seeds = [11, 12, 13, 14, 15, 16, 17, 18]
    cfg["references"]["models"] = len(seeds)
    audit_references.main(t["splits.npz"], t["checked.json"], t["mask.npz"], t["references.npz"],
                          t["references.json"], audit=cfg, device="cpu", seed=5, seeds=seeds)
    # One call of the user's function per reference model, each on half of the 120-record pool
    # (the 60 test records and the attacker's 60 known ones), with its own seed.
    assert calls.read_text().splitlines() == [f"60 {s}" for s in seeds]
    drawn = artifacts.load_npz(t["mask.npz"])
    sets = artifacts.load_npz(t["splits.npz"])
    assert len(drawn["pool"]) == 120 and np.isin(drawn["test"], drawn["pool"]).all()
    assert drawn["mask"].sum(1).tolist() == [60] * 8 and (drawn["mask"].sum(0) == 4).all()
    assert drawn["test_member"].sum() == len(sets["attack_test_members"]) == 30
    stats = artifacts.load_npz(t["references.npz"])
    assert stats["loss"].shape == (8, 60) and "grad_norm/conv" in stats  # statistics, no weights

    def score_with_references():
        """The audited model's statistics, then LiRA against the references drawn above."""
        audit_target_statistics.main(t["checked.json"], t["mask.npz"], t["target.npz"],
                                     audit=cfg, device="cpu")
        run_calibrated_attacks.main(t["mask.npz"], t["target.npz"], t["references.npz"],
                                    t["references.json"], t["scores.npz"], t["metrics.json"],
                                    global_variance="auto", a=0.3, gamma=1.0,
                                    metrics_cfg={"n_bootstrap": 20, "confidence": 0.95}, seed=0,
                                    scenario="audit")

    score_with_references()
    found = artifacts.load_json(t["metrics.json"])
    assert found["context"]["scenario"] == "audit"
    assert "rmia_offline" not in found["attacks"]  # population 0: no RMIA
    # Random inputs and labels: a few non-members resemble members by chance (the target's own
    # confidence separates them with AUC 0.89 here), so "near 1" is 0.8.
    for attack in ("lira_online", "lira_offline", "wb_lira_loss"):
        assert found["attacks"][attack]["metrics"]["test"]["auc"] > 0.8, attack
    scores = artifacts.load_npz(t["scores.npz"])
    member = scores["member"].astype(bool)
    assert np.median(scores["lira_online"][member]) > np.quantile(scores["lira_online"][~member],
                                                                  0.75)

    # The control: the same references, and a model of the same recipe trained on the
    # non-members instead. LiRA follows what the model trained on, so the ranking turns over.
    other = audit_model.train_model(cfg["model"], X[60:], y[60:], seed=7)
    torch.save(other.state_dict(), tmp_path / "other.pt")
    cfg["model"].update(state_dict=str(tmp_path / "other.pt"))
    checked = artifacts.load_json(t["checked.json"])
    checked["user_files"] = {p: files.sha256(p) for p in audit_model.user_files(cfg)}
    artifacts.save_json(t["checked.json"], checked)
    score_with_references()
    control = artifacts.load_json(t["metrics.json"])["attacks"]
    assert control["lira_online"]["metrics"]["test"]["auc"] < 0.2


def test_the_reference_pool_takes_test_records_first_and_names_what_to_change(user):
    tmp_path, cfg = user
    validate(tmp_path, cfg)
    sets = artifacts.load_npz(tmp_path / "splits.npz")
    test = np.concatenate([sets["attack_test_members"], sets["attack_test_nonmembers"]])
    drawn = audit_model.reference_pool(sets, 200, 50, population=30, seed=1)
    assert len(drawn["pool"]) == 100 and np.isin(test, drawn["pool"]).all()
    # RMIA's population: records the audited model never saw, outside the pool.
    assert len(drawn["population"]) == 30 and not np.isin(drawn["population"], drawn["pool"]).any()
    assert not np.isin(drawn["population"], sets["members"]).any()
    again = audit_model.reference_pool(sets, 200, 50, population=30, seed=1)
    assert all(np.array_equal(drawn[k], again[k]) for k in drawn)
    with pytest.raises(audit_model.AuditError, match=r"audit.references: the reference pool needs "
                       r"140 records besides the 60 attack-test records, but only 60 .*"
                       r"audit.references.train_size: 100"):
        audit_model.reference_pool(sets, 120, 100, population=0, seed=1)
    with pytest.raises(audit_model.AuditError, match="lower audit.references.population"):
        audit_model.reference_pool(sets, 120, 60, population=10, seed=1)


def test_the_lira_paragraph_says_why_lira_was_not_run_or_what_it_found():
    text = audit_model.lira_verdict({}, {}, fpr=0.01, references={}, paper_best=None,
                                    skipped="audit.model.train_function is not given")
    assert text == ("LiRA with reference models (Carlini et al. 2022) was not run: "
                    "audit.model.train_function is not given.")
    results = {"lira_online": _result(0.2, 0.1, 0.3, auc=0.9),
               "lira_offline": _result(0.1, 0.05, 0.2, auc=0.8),
               "black_box": _result(0.05, 0.02, 0.08)}
    descriptions = {"lira_online": "LiRA online", "lira_offline": "LiRA offline",
                    "black_box": "Black-box: prediction vector"}
    text = audit_model.lira_verdict(
        results, descriptions, fpr=0.01, paper_best="black_box", skipped=None,
        references={"models": 8, "train_size": 300, "pool": 600, "train_function": "train",
                    "mean_out_accuracy": 0.7})
    assert "8 reference models" in text and "trained by your train() on 300 records" in text
    assert "LiRA online: TPR 20.0 % (CI 10.0 % to 30.0 %), AUC 0.900" in text
    assert "black-box: prediction vector: TPR 5.0 %" in text


def _plan_audit(tmp_path, **changes):
    """The audit's job plan (a dry run) of worked example 2 with ``changes`` to its audit.model /
    audit.references."""
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    cfg = yaml.safe_load((root / "config/audit_resnet.yaml").read_text())
    cfg["audit"]["model"].update(changes.get("model", {}))
    cfg["audit"]["references"].update(changes.get("references", {}))
    (tmp_path / "audit.yaml").write_text(yaml.safe_dump(cfg))
    return subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--cores",
                           "1", "audit", "--configfile", "config/test.yaml",
                           str(tmp_path / "audit.yaml")], cwd=root, capture_output=True, text=True)


def test_lira_is_planned_only_with_a_train_function_and_enough_references(tmp_path):
    planned = _plan_audit(tmp_path)
    assert planned.returncode == 0, planned.stderr[-2000:]
    for rule in ("audit_references", "audit_target_statistics", "audit_lira"):
        assert rule in planned.stdout, rule
    without = _plan_audit(tmp_path, model={"train_function": None})
    assert without.returncode == 0, without.stderr[-2000:]
    assert "audit_lira" not in without.stdout and "audit_report" in without.stdout
    two = _plan_audit(tmp_path, references={"models": 2})
    assert two.returncode != 0
    assert "audit.references.models is 2" in two.stdout + two.stderr
