"""Planted membership at the library level, in well under a second per test (no target training).

tests/test_planted.py runs every attack through its rule script on a memorising target; these are
the same checks on synthetic planted features (members: low loss, the output of a model that fits
them), plus the feature extractor against autograd. They are fast enough to run once per mutant:
benchmarks/mutation.sh uses them as mutmut's runner, with tests/test_splits.py and
tests/test_metrics.py.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from deepleak import attack, baselines, features, metrics, models, splits
from deepleak.variants import AttackFeatures
from sklearn.metrics import roc_auc_score

torch.set_num_threads(1)

HP = dict(component_widths=[32, 16], gradient_widths=[32, 16], kernels=4, encoder_widths=[32, 16],
          dropout=0.0, init_std=0.01, lr=0.003, batch_size=32, epochs=10,
          input_scaling="fan_in", selection="balanced_mse")
SIZES = dict(target_train=160, target_test=160, shadow_train=80, shadow_test=80,
             attack_train_members=80, attack_train_nonmembers=80, attack_test_members=60,
             attack_test_nonmembers=60)
N, K = 500, 4  # records, classes


@pytest.fixture(scope="module")
def planted():
    """Splits drawn by deepleak.splits, and features in which the members (the target's training
    set, D) were fitted: correct, confident, low loss; non-members random. Feature rows are in
    record-id order, as extract_features stores them, so a mix-up of rows shows."""
    sets = splits.standalone_splits(N, SIZES, validation_fraction=0.25, seed=1)
    rng = np.random.default_rng(2)
    label = rng.integers(0, K, N)
    is_member = np.isin(np.arange(N), np.r_[sets["members"], sets["shadow_members"]])
    logits = rng.normal(size=(N, K))
    logits[np.arange(N), label] += np.where(is_member, 4.0, 0.0)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    delta = np.exp(logp) - np.eye(K)[label]
    feats = {"records": np.arange(N), "label": label, "logits": logits.astype(np.float32),
             "loss": (-logp[np.arange(N), label]).astype(np.float32),
             "out/fc2": logits.astype(np.float32), "delta/fc2": delta.astype(np.float32),
             "h_in/fc2": rng.normal(size=(N, 3)).astype(np.float32)}
    return feats, sets


def _auc(truth, scores):
    return roc_auc_score(np.asarray(truth).astype(int), scores)


def test_run_supervised_scores_the_planted_members_higher(planted):
    feats, sets = planted
    spec = AttackFeatures(outputs=("fc2",), gradients=("fc2",))
    s = lambda part: (feats, sets[f"attack_{part}_members"], sets[f"attack_{part}_nonmembers"])  # noqa: E731
    scores, record = attack.run_supervised(
        s("train"), s("val"), {"test": s("test"), "again": s("test")}, spec=spec, n_classes=K,
        hp=HP, seed=0, evaluate={"n_bootstrap": 0}, description="planted", extra="kept")
    test = scores["test"]
    assert test["records"].tolist() == [*sets["attack_test_members"],
                                        *sets["attack_test_nonmembers"]]
    truth = np.isin(test["records"], sets["members"])
    assert np.array_equal(test["member"].astype(bool), truth)
    assert _auc(truth, test["score"]) > 0.95
    assert ((test["score"] > 0) & (test["score"] < 1)).all()  # Pr[member]
    assert np.array_equal(scores["again"]["score"], test["score"])  # one model, every test set
    r = record["metrics"]["test"]
    assert r["auc"] == pytest.approx(_auc(truth, test["score"])) and r["accuracy"] > 0.9
    assert record["kind"] == "supervised" and record["details"] == {"extra": "kept"}
    assert record["features"]["gradients"] == ("fc2",)
    t = record["training"]
    assert t["n_train"] == {"members": 60, "nonmembers": 60}
    assert t["n_validation"] == {"members": 20, "nonmembers": 20}
    assert 1 <= t["selected_epoch"] <= HP["epochs"] and len(t["history"]) == HP["epochs"]
    best = min(h["val_balanced_mse"] for h in t["history"])  # the default attack_model.selection
    kept = t["history"][t["selected_epoch"] - 1]
    assert kept["val_balanced_mse"] == best  # the epoch kept is the best
    assert [h["epoch"] for h in t["history"]] == list(range(1, HP["epochs"] + 1))
    assert all(np.isfinite(h["train_mse"]) and h["train_mse"] > 0 for h in t["history"])


def test_run_supervised_is_seeded(planted):
    feats, sets = planted
    spec = AttackFeatures(outputs=("fc2",))
    s = lambda part: (feats, sets[f"attack_{part}_members"], sets[f"attack_{part}_nonmembers"])  # noqa: E731
    run = lambda seed: attack.run_supervised(  # noqa: E731
        s("train"), s("val"), {"test": s("test")}, spec=spec, n_classes=K, hp=HP, seed=seed,
        evaluate={"n_bootstrap": 0}, description="planted")[0]["test"]["score"]
    assert np.array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_calibrated_baselines_score_the_planted_members_higher(planted):
    feats, sets = planted
    scores, records = baselines.calibrated(
        (feats, sets["attack_test_members"], sets["attack_test_nonmembers"]),
        (feats, sets["shadow_members"], sets["shadow_nonmembers"]),
        evaluate={"n_bootstrap": 0}, calibrated_on="the shadow model", suffix="@t")
    truth = np.isin(scores["records"], sets["members"])
    assert np.array_equal(scores["member"].astype(bool), truth)
    assert set(records) == {b + "@t" for b in baselines.BASELINES}
    for name in baselines.BASELINES:
        assert _auc(truth, scores[name + "@t"]) > 0.8, name
        r = records[name + "@t"]
        assert r["kind"] == "threshold" and "calibrated on the shadow model" in r["description"]
        assert r["metrics"]["test"]["accuracy"] > 0.8, (name, r["metrics"]["test"])
    # The correctness threshold is its own decision (0.5); the others are fitted on the shadow.
    assert records["correctness@t"]["metrics"]["test"]["threshold"] == 0.5
    loss_thr = records["loss@t"]["metrics"]["test"]["threshold"]
    shadow = np.r_[sets["shadow_members"], sets["shadow_nonmembers"]]
    s_member = np.isin(shadow, sets["shadow_members"])
    assert loss_thr == metrics.best_threshold(
        baselines.scores("loss", features.take(feats, shadow)), s_member)


def test_extract_matches_autograd():
    torch.manual_seed(0)
    net = models.FCNet(6, 3, hidden=(5, 4))
    X = np.random.default_rng(0).normal(size=(10, 6))  # float64 and int32 in: cast on the way
    y = (np.arange(10) % 3).astype(np.int32)
    f = features.extract(net, X, y, gradient_layers=2, batch_size=4)  # three batches
    assert all(v.dtype == np.float32 for k, v in f.items() if k != "label")
    Xt, yt = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    logits, outs = net(Xt, return_activations=True)
    assert np.allclose(f["logits"], logits.detach(), atol=1e-6)
    assert np.allclose(f["loss"], F.cross_entropy(logits, yt, reduction="none").detach(), atol=1e-5)
    assert f["label"].tolist() == y.tolist() and f["label"].dtype == np.int64
    assert f["correct"].tolist() == (logits.argmax(1) == yt).float().tolist()
    for name, out in zip(net.layer_names, outs, strict=True):
        assert np.allclose(f[f"out/{name}"], out.detach(), atol=1e-6), name
    assert not any(k.endswith("/fc1") and not k.startswith("out/") for k in f)  # 2 layers only
    for i in range(10):
        net.zero_grad()
        F.cross_entropy(net(Xt[i:i + 1]), yt[i:i + 1]).backward()
        for name in ("fc2", "fc3"):
            w = getattr(net, name).weight.grad
            assert np.allclose(np.outer(f[f"delta/{name}"][i], f[f"h_in/{name}"][i]), w,
                               atol=1e-5), (name, i)
            assert f[f"grad_norm/{name}"][i] == pytest.approx(w.norm().item(), rel=1e-4)
    assert all(v.shape[0] == 10 for v in f.values())
    report = {}
    features.extract(net, X, y, gradient_layers=1, report=report)
    assert report["gradient_features"] == {"fc3": "factors h_in, delta (exact)"}


def test_rows_of_and_take():
    records = np.array([3, 5, 8, 13])
    assert features.rows_of(records, np.array([13, 3, 8])).tolist() == [3, 0, 2]
    for missing in ([4], [20], [13, 14]):
        with pytest.raises(KeyError, match="no features"):
            features.rows_of(records, np.array(missing))
    assert features.take({"a": np.arange(4) * 10}, np.array([2, 0]))["a"].tolist() == [20, 0]
    assert features.layer_from_end(["a", "b", "c"], 1) == "c"
    assert features.layer_from_end(["a", "b", "c"], 3) == "a"
    for k in (0, 4):
        with pytest.raises(ValueError, match="does not exist"):
            features.layer_from_end(["a", "b", "c"], k)


def test_check_disjoint_names_the_sets_that_share_a_record():
    sets = {"a": np.array([1, 2, 3]), "b": np.array([4]), "c": np.array([3, 5])}
    message = r"record 3 appears more than once across \['a', 'c'\]"
    with pytest.raises(splits.SplitError, match=message):
        splits.check_disjoint(sets, [["a", "b", "c"]])
    splits.check_disjoint(sets, [["a", "b"], ["b", "c"]])  # disjoint within each group


def test_baselines_score_in_float64_and_stay_finite_when_confident():
    # float32 logits of a confident member: in float32 the confidences tie at 1.0 and 1 - p is 0.
    logits = np.array([[40.0, 0.0, 0.0], [30.0, 0.0, 0.0], [0.0, 2.0, 0.0]], dtype=np.float32)
    feats = {"logits": logits, "label": np.array([0, 0, 0]),
             "loss": np.array([0.0, 0.0, 2.2], dtype=np.float32)}  # float32 CE: the two tie at 0
    for name in baselines.BASELINES:
        s = baselines.scores(name, feats)
        assert s.dtype == np.float64 and np.isfinite(s).all(), name
    assert len(np.unique(baselines.scores("loss", feats))) == 3
    assert baselines.scores("confidence", feats)[0] > baselines.scores("confidence", feats)[1]
    assert baselines.normalised_entropy(logits).dtype == np.float64
    assert baselines.normalised_entropy(logits)[0] < baselines.normalised_entropy(logits)[1]
    m = baselines.modified_entropy(np.array([[100.0, 0.0, 0.0]]), np.array([0]))
    assert np.isfinite(m).all() and m[0] >= 0


def test_loss_threshold_resolves_memorised_members_at_low_fpr():
    # Members fitted to margins 20-40: their float32 cross-entropy is exactly 0 (a tie), yet their
    # float64 losses still order them. The loss baseline must rank as the confidence does (one is a
    # monotone function of the other), so both reach the same TPR at 1 % FPR. In float32 the tie
    # at 0 also holds the non-members of margin above about 17 (about 30 % of them), so no
    # threshold admits any member at 1 % FPR.
    rng = np.random.default_rng(0)
    n = 1000
    margin = np.concatenate([rng.uniform(20, 40, n), rng.uniform(-2, 25, n)])
    logits = np.zeros((2 * n, 3))
    logits[:, 0] = margin
    member = np.r_[np.ones(n), np.zeros(n)]
    labels = np.zeros(2 * n, dtype=np.int64)
    loss32 = F.cross_entropy(torch.as_tensor(logits, dtype=torch.float32),
                            torch.as_tensor(labels), reduction="none").numpy()
    feats = {"logits": logits.astype(np.float32), "label": labels, "loss": loss32}
    assert (loss32[:n] == 0).mean() > 0.5  # the ties the float32 file holds
    tpr = {name: metrics.evaluate(s, member, n_bootstrap=0)["tpr_at_0.01_fpr"]
           for name, s in [("loss", baselines.scores("loss", feats)),
                           ("confidence", baselines.scores("confidence", feats)),
                           ("float32 loss", -loss32.astype(np.float64))]}
    assert tpr["loss"] == tpr["confidence"] > 0.3
    assert tpr["float32 loss"] == 0.0


def test_calibrated_without_suffix_passes_its_evaluate_settings(planted):
    feats, sets = planted
    scores, records = baselines.calibrated(
        (feats, sets["attack_test_members"], sets["attack_test_nonmembers"]),
        (feats, sets["shadow_members"], sets["shadow_nonmembers"]),
        evaluate={"n_bootstrap": 7, "seed": 1}, calibrated_on="the shadow model")
    assert set(records) == set(baselines.BASELINES)
    assert set(scores) == {"records", "member", *baselines.BASELINES}
    assert records["modified_entropy"]["description"] == (
        "modified entropy threshold, calibrated on the shadow model")
    assert all(r["metrics"]["test"]["n_bootstrap"] == 7 for r in records.values())


def test_split_size_boundaries():
    exact = {**SIZES, "attack_train_members": 100, "attack_test_members": 60}  # 160 = target_train
    sets = splits.standalone_splits(N, exact, validation_fraction=0.5, seed=0)
    assert len(sets["attack_test_members"]) == 60
    assert len(np.unique(np.r_[sets["attack_train_members"], sets["attack_val_members"],
                               sets["attack_test_members"]])) == 160
    two = {**SIZES, "attack_train_members": 2}  # one to train on, one to validate: enough
    sets = splits.standalone_splits(N, two, validation_fraction=0.5, seed=0)
    assert len(sets["attack_train_members"]) == len(sets["attack_val_members"]) == 1
    for fraction in (0.001, 1.0):  # no validation records / no training records
        with pytest.raises(splits.SplitError, match="leaves an empty attack training"):
            splits.standalone_splits(N, SIZES, validation_fraction=fraction, seed=0)


def test_best_threshold_of_uninformative_scores_is_finite():
    s, m = np.full(6, 0.3), np.array([1, 1, 1, 0, 0, 0])
    assert metrics.best_threshold(s, m) == pytest.approx(0.3)
