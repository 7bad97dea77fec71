"""Fine-tuning scenario (Table IX), unsupervised and shadow-model attacks (Table VII, Figure 5).

Run from the repository root: python -m pytest tests/test_finetune_unsupervised.py
(the end-to-end test is marked e2e: ``-m "not e2e"`` skips it).
"""
from __future__ import annotations

import inspect
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import run_unsupervised_attack
import torch
from deepleak import artifacts, attack, features, finetune, models, training, unsupervised, variants
from deepleak.splits import SplitError
from sklearn.neighbors import kneighbors_graph

ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)  # tiny tensors: more threads only add contention on a shared machine
HP = dict(component_widths=[32, 16], gradient_widths=[32, 16], kernels=4, encoder_widths=[32, 16],
          dropout=0.0, init_std=0.01, lr=0.003, batch_size=64, epochs=15,
          input_scaling="fan_in", selection="balanced_mse")
UNSUP = dict(decoder_targets=list(unsupervised.DECODER_TARGETS), decoder_widths=[16],
             decoder_loss="mse", init_std=0.01, lr=0.003, batch_size=64, epochs=25,
             clustering=dict(n_neighbors=10, max_points=300))
METRICS = dict(n_bootstrap=0, confidence=0.95)


# --------------------------------------------------------------------------------------------------
# the fine-tuning split and snapshots
# --------------------------------------------------------------------------------------------------
SIZES = dict(target_train=500, nonmembers=200, attack_known=60, attack_test=100)


def test_finetune_split_is_60_40_and_disjoint():
    sets = finetune.finetune_splits(1000, SIZES, 0.6, 0.25, seed=3)
    assert len(sets["d"]) == 300 and len(sets["d_delta"]) == 200 and len(sets["nonmembers"]) == 200
    pools = [sets[p] for p in finetune.POOLS]
    # D, D_delta and D-bar are disjoint.
    assert len(np.unique(np.concatenate(pools))) == sum(map(len, pools))
    # The attacker's sets lie inside their pool, disjoint from each other.
    for pool in finetune.POOLS:
        parts = [sets[f"attack_{part}_{pool}"] for part in ("train", "val", "test")]
        assert all(np.isin(p, sets[pool]).all() for p in parts)
        assert len(np.unique(np.concatenate(parts))) == sum(map(len, parts))
        assert [len(p) for p in parts] == [45, 15, 100]
    again = finetune.finetune_splits(1000, SIZES, 0.6, 0.25, seed=3)
    assert all(np.array_equal(sets[k], again[k]) for k in sets)
    other = finetune.finetune_splits(1000, SIZES, 0.6, 0.25, seed=4)
    assert not np.array_equal(sets["d"], other["d"])


def test_finetune_split_rejects_sizes_that_do_not_fit():
    with pytest.raises(SplitError, match="d_delta"):  # 60 + 150 > the 200 records of D_delta
        finetune.finetune_splits(1000, {**SIZES, "attack_test": 150}, 0.6, 0.25, seed=0)
    with pytest.raises(SplitError, match="dataset has only"):
        finetune.finetune_splits(600, SIZES, 0.6, 0.25, seed=0)


def test_two_snapshots_feed_one_attack_model_with_two_observations():
    torch.manual_seed(0)
    X, y = np.random.default_rng(0).normal(size=(50, 12)).astype(np.float32), np.arange(50) % 5
    nets = [models.FCNet(12, 5, hidden=(16, 8)) for _ in range(2)]
    stacked = finetune.stack_snapshots([features.extract(n, X, y, gradient_layers=1) for n in nets])
    spec = variants.VARIANTS["gradients_1"].resolve(list(nets[0].layer_names), 1)
    inputs = attack.gather_inputs(stacked, spec)
    assert inputs["loss"].shape == (50, 2, 1) and inputs["h_in/fc3"].shape == (50, 2, 8)
    model = attack.AttackModel(spec, attack.input_dims(inputs), 5, HP, n_observations=2)
    assert model(attack.Standardiser.fit(inputs)(inputs)).shape == (50,)
    # The second snapshot's features are the second model's.
    assert np.allclose(finetune.snapshot(stacked, 1)["loss"], features.extract(nets[1], X, y,
                                                                                gradient_layers=1)["loss"])


# --------------------------------------------------------------------------------------------------
# spectral clustering: sparse, and right on separable codes
# --------------------------------------------------------------------------------------------------
def test_knn_affinity_is_the_sparse_knn_graph_plus_a_chain():
    codes = np.random.default_rng(1).normal(size=400)
    a = unsupervised.knn_affinity(codes, 7)
    assert a.format == "csr" and abs(a - a.T).sum() == 0 and a.diagonal().sum() == 0
    knn = kneighbors_graph(codes[:, None], 7, include_self=False)
    knn = ((knn + knn.T) > 0).astype(float)
    assert (knn.multiply(a) != knn).nnz == 0  # every kNN edge is there
    extra = a - knn.multiply(a)  # edges beyond the kNN graph: only links of sorted neighbours
    order_pos = np.argsort(np.argsort(codes))
    rows, cols = extra.nonzero()
    assert (np.abs(order_pos[rows] - order_pos[cols]) == 1).all()
    assert a.nnz <= len(codes) * (2 * 7 + 2)


def test_spectral_clustering_scales_without_a_dense_matrix():
    rng = np.random.default_rng(0)
    n = 20_000  # a dense n x n float64 affinity would take 3.2 GB
    codes = np.r_[rng.normal(0.0, 0.2, n // 2), rng.normal(3.0, 1.0, n // 2)]
    truth = np.r_[np.ones(n // 2), np.zeros(n // 2)].astype(bool)
    tracemalloc.start()
    try:
        threshold, info = unsupervised.spectral_clusters(codes, n_neighbors=10, max_points=n,
                                                         seed=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 300e6, f"clustering 20,000 codes peaked at {peak / 1e6:.0f} MB"
    assert info["n_clustered"] == n and info["graph_edges"] <= n * 11
    assert ((codes < threshold) == truth).mean() > 0.95


def test_clustering_survives_outlying_codes():
    # A few far outliers must not become a cluster of their own (the chain keeps the graph
    # connected).
    rng = np.random.default_rng(2)
    codes = np.r_[rng.normal(0.0, 0.2, 500), rng.normal(3.0, 0.8, 500), 60.0 + rng.normal(size=15)]
    threshold, info = unsupervised.spectral_clusters(codes, n_neighbors=10, max_points=2000, seed=0)
    assert 0.5 < threshold < 2.5 and min(info["cluster_sizes"]) > 300


def test_member_side_is_the_cluster_with_the_smaller_gradient_norm():
    codes = np.r_[np.zeros(10), np.ones(10)]
    grad_norm = np.r_[np.full(10, 5.0), np.full(10, 0.1)]  # the records above 0.5 look like members
    scores, sign, _ = unsupervised.membership_scores(codes, grad_norm, 0.5)
    assert sign == 1.0 and (scores[10:] > 0).all() and (scores[:10] < 0).all()
    scores, sign, _ = unsupervised.membership_scores(codes, grad_norm[::-1], 0.5)
    assert sign == -1.0 and (scores[:10] > 0).all()


# --------------------------------------------------------------------------------------------------
# the unsupervised attack on planted leakage, never reading membership
# --------------------------------------------------------------------------------------------------
def test_unsupervised_functions_take_no_membership():
    for fn in (unsupervised.fit, unsupervised.spectral_clusters, unsupervised.membership_scores,
               unsupervised.decoder_targets, unsupervised.encode):
        params = inspect.signature(fn).parameters
        bad = [p for p in params if "member" in p or p in ("label", "labels", "y")]
        assert not bad, fn.__name__


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A model that memorises 400 random-label members; 400 non-members of the same distribution."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 20)).astype(np.float32)
    y = rng.integers(0, 10, 800)
    net = models.FCNet(20, 10, hidden=(128, 64))
    net, hist = training.fit(net, X[:400], y[:400], X[400:], y[400:], seed=0,
                             train=dict(lr=0.003, batch_size=64, epochs=60))
    assert hist["train_acc"].iloc[-1] > 0.95  # it did memorise
    feats = features.extract(net, X, y, gradient_layers=1)
    feats["records"] = np.arange(800)
    path = tmp_path_factory.mktemp("planted")
    artifacts.save_npz(path / "target.npz", feats, meta={"layer_names": list(net.layer_names),
                                                         "gradient_layers": 1, "n_classes": 10})
    members, nonmembers = rng.permutation(400), 400 + rng.permutation(400)
    sets = {"attack_train_members": members[:150], "attack_val_members": members[150:200],
            "attack_test_members": members[200:], "attack_train_nonmembers": nonmembers[:150],
            "attack_val_nonmembers": nonmembers[150:200],
            "attack_test_nonmembers": nonmembers[200:]}
    return path, {k: np.sort(v) for k, v in sets.items()}


def _run_unsupervised(path, sets, name):
    artifacts.save_npz(path / f"{name}_splits.npz", sets)
    run_unsupervised_attack.main(path / "target.npz", path / f"{name}_splits.npz",
                                 path / f"{name}_scores.npz", path / f"{name}_metrics.json",
                                 variant="gradients_1", hp=HP, unsup=UNSUP, metrics_cfg=METRICS,
                                 seed=11)
    record = artifacts.load_json(path / f"{name}_metrics.json")["attacks"]["unsupervised"]
    return artifacts.load_npz(path / f"{name}_scores.npz"), record["metrics"]["test"]


def test_unsupervised_attack_finds_planted_membership_without_labels(planted):
    path, sets = planted
    scores, result = _run_unsupervised(path, sets, "true")
    assert result["accuracy"] > 0.75 and result["auc"] > 0.8, result
    # Poison every membership label the attack could read: the known records' and the test records'
    # member / non-member assignment is redrawn at random (same records). Codes, threshold and
    # decisions must not move; only the scoring against the poisoned labels would.
    rng = np.random.default_rng(5)
    poisoned = {}
    for part in ("train", "val", "test"):
        both = np.concatenate([sets[f"attack_{part}_members"], sets[f"attack_{part}_nonmembers"]])
        both = rng.permutation(both)
        half = len(sets[f"attack_{part}_members"])
        poisoned[f"attack_{part}_members"] = np.sort(both[:half])
        poisoned[f"attack_{part}_nonmembers"] = np.sort(both[half:])
    assert not np.array_equal(poisoned["attack_test_members"], sets["attack_test_members"])
    p_scores, p_result = _run_unsupervised(path, poisoned, "poisoned")
    for key in ("records", "code", "score", "threshold", "member_side"):
        assert np.array_equal(scores[key], p_scores[key]), key
    assert p_result["accuracy"] < 0.65  # the poisoned labels are noise to the same decisions


def test_float64_scores_do_not_tie_at_one():
    # A confident attack: logits far above the ~17 where a float32 sigmoid rounds to exactly 1.0.
    torch.manual_seed(0)
    X, y = np.random.default_rng(0).normal(size=(40, 12)).astype(np.float32), np.arange(40) % 5
    net = models.FCNet(12, 5, hidden=(16, 8))
    spec = variants.VARIANTS["gradients_1"].resolve(list(net.layer_names), 1)
    inputs = attack.gather_inputs(features.extract(net, X, y, gradient_layers=1), spec)
    model = attack.AttackModel(spec, attack.input_dims(inputs), 5, {**HP, "init_std": 0.3})
    x = attack.Standardiser.fit(inputs)(inputs)
    with torch.no_grad():
        model.encoder[-1].bias.fill_(30.0)
    # A float32 sigmoid would tie every record at exactly 1.0; attack.predict takes it in float64.
    scores = attack.predict(model, x)
    assert len(np.unique(scores)) == len(scores) and (scores < 1.0).all()
    assert (np.argsort(scores) == np.argsort(model.eval()(x).detach().numpy())).all()
