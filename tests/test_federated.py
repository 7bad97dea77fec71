"""The federated scenario (deepleak/federated.py): FedAvg, the active attacks, what the observers
see, the split, and the multi-observation attack on planted leakage.

Run from the repository root: python -m pytest tests/test_federated.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from deepleak import attack, federated_runs, models, paper
from deepleak import federated as fl
from deepleak.attack import AttackFeatures
from deepleak.splits import SplitError

TRAIN = {"optimizer": "adam", "lr": 0.01, "batch_size": 16}
SPEC = AttackFeatures(outputs=("fc3",), gradients=("fc3",))


def _data(n=200, d=12, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.integers(0, classes, n)


def _net(d=12, classes=5):
    return models.FCNet(d, classes, hidden=(16, 8))


def _simulate(run, X, y, parties, *, rounds=3, gamma=0.5, targets=None, observations=None,
              uploads=None, seed=11, batched=True, train=TRAIN, track=None):
    def record(t, k, state):
        if uploads is not None:
            uploads[(t, k)] = state

    return fl.simulate(lambda: _net(X.shape[1]), X, y, parties, run=run, train=train, rounds=rounds,
                       gamma=gamma, target_ids=targets, test_ids=np.arange(150, 200),
                       observations=observations, seed=seed, on_upload=record, batched=batched,
                       track=track)


def _parties(n=3, size=30):
    return [np.arange(k * size, (k + 1) * size) for k in range(n)]


# --- FedAvg
# ----------------------------------------------------------------------------------------
def test_fedavg_is_the_hand_computed_mean():
    a = {"w": torch.tensor([[1.0, 2.0], [3.0, 4.0]]), "b": torch.tensor([0.0, 1.0])}
    b = {"w": torch.tensor([[3.0, 2.0], [1.0, 0.0]]), "b": torch.tensor([2.0, -1.0])}
    c = {"w": torch.tensor([[2.0, 5.0], [2.0, 2.0]]), "b": torch.tensor([1.0, 3.0])}
    avg = fl.fedavg([a, b, c])
    assert torch.equal(avg["w"], torch.tensor([[2.0, 3.0], [2.0, 2.0]]))
    assert torch.equal(avg["b"], torch.tensor([1.0, 1.0]))


@pytest.mark.parametrize("run, averaged", [
    (fl.Run("passive", 3, observer="central"), (0, 1, 2)),
    # Isolating: the other parties' model is the mean of their own uploads only.
    (fl.Run("isolating", 3, isolating=True, observer="central"), (1, 2))])
def test_global_model_is_the_mean_of_the_uploads(run, averaged):
    X, y = _data()
    uploads = {}
    final, _ = _simulate(run, X, y, _parties(), rounds=2, uploads=uploads)
    for key, value in final.items():
        mean = sum(uploads[(2, k)][key].double() for k in averaged) / len(averaged)
        assert torch.allclose(value.double(), mean, atol=1e-6), key


# --- gradient ascent (Eq. 2) ----------------------------------------------------------------------
def test_one_ascent_step_raises_the_target_loss_along_eq2():
    X, y = _data()
    torch.manual_seed(0)
    net = _net()
    Xt, yt = torch.as_tensor(X[:20]), torch.as_tensor(y[:20])
    before = [p.detach().clone() for p in net.parameters()]
    grads = fl.target_loss_gradient(net, Xt, yt)
    with torch.no_grad():
        loss_before = F.cross_entropy(net(Xt), yt).item()
    fl.gradient_ascent(net, Xt, yt, gamma=0.1)
    with torch.no_grad():
        loss_after = F.cross_entropy(net(Xt), yt).item()
    assert loss_after > loss_before
    # W <- W + gamma dL/dW (ascent), not minus
    for p, p0, g in zip(net.parameters(), before, grads, strict=True):
        assert torch.allclose(p, p0 + 0.1 * g)


def test_central_ascent_reaches_only_the_target_party():
    X, y = _data()
    targets = np.r_[0:5, 160:165]
    base, attacked = {}, {}
    _simulate(fl.Run("passive", 3, observer="central"), X, y, _parties(), rounds=1, uploads=base)
    _simulate(fl.Run("central_ascent", 3, ascent="central", observer="central"), X, y, _parties(),
              rounds=1, targets=targets, uploads=attacked)
    assert not torch.equal(base[(1, 0)]["fc1.weight"], attacked[(1, 0)]["fc1.weight"])
    for k in (1, 2):  # the other parties received the plain global model in round 1
        assert all(torch.equal(base[(1, k)][n], attacked[(1, k)][n]) for n in base[(1, k)])


def test_local_ascent_raises_the_targets_loss_in_the_global_model():
    X, y = _data()
    targets = np.r_[0:5, 160:165]
    Xt, yt = torch.as_tensor(X[targets]), torch.as_tensor(y[targets])
    losses = []
    for run in (fl.Run("passive", 3, observer="local"),
                fl.Run("local_ascent", 3, ascent="local", observer="local")):
        final, _ = _simulate(run, X, y, _parties(), rounds=1, targets=targets, gamma=1.0)
        net = _net()
        net.load_state_dict(final)
        with torch.no_grad():
            losses.append(F.cross_entropy(net(Xt), yt).item())
    assert losses[1] > losses[0]


# --- isolation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("run", [fl.Run("isolating", 3, isolating=True, observer="central"),
                                 fl.Run("isolating_ascent", 3, ascent="central", isolating=True,
                                        observer="central")])
def test_isolated_target_does_not_depend_on_the_other_parties(run):
    X, y = _data()
    targets = np.r_[0:5, 160:165]
    parties = _parties()
    changed = [parties[0], parties[1], np.arange(100, 130)]  # party 2 holds other records
    first, second = {}, {}
    _simulate(run, X, y, parties, rounds=3, targets=targets, uploads=first)
    _simulate(run, X, y, changed, rounds=3, targets=targets, uploads=second)
    for t in (1, 2, 3):
        assert all(torch.equal(first[(t, 0)][n], second[(t, 0)][n]) for n in first[(t, 0)])
    # ... while party 1, which receives the global model, does see the change (the test can fail).
    assert not torch.equal(first[(3, 1)]["fc1.weight"], second[(3, 1)]["fc1.weight"])


def test_without_isolation_the_target_depends_on_the_other_parties():
    X, y = _data()
    first, second = {}, {}
    run = fl.Run("passive", 3, observer="central")
    _simulate(run, X, y, _parties(), rounds=2, uploads=first)
    _simulate(run, X, y, [*_parties()[:2], np.arange(100, 130)], rounds=2, uploads=second)
    assert not torch.equal(first[(2, 0)]["fc1.weight"], second[(2, 0)]["fc1.weight"])


# --- the parties trained as one batched model (deepleak/batched.py) -------------------------------
RUNS = [fl.Run("passive", 3, observer="both"),
        fl.Run("central_ascent", 3, ascent="central", observer="central"),
        fl.Run("isolating", 3, isolating=True, observer="central"),
        fl.Run("isolating_ascent", 3, ascent="central", isolating=True, observer="central"),
        fl.Run("local_ascent", 3, ascent="local", observer="local")]
SIM_ATOL = 1e-5  # float32 summation order of batched vs single matrix products, over 3 rounds


def _both_ways(run, parties, train=TRAIN, perturb=None):
    """The run with its parties trained batched and one after the other: uploads, final global
    model, history and observations of each. ``perturb`` (round, party) seeds one party's batch
    order differently in the batched run (to show that the comparison can fail)."""
    X, y = _data()
    targets = np.r_[0:5, 160:165] if run.ascent else None
    records = np.arange(0, 40)
    views = {}
    if run.observer in ("central", "both"):
        views["party0"] = (records, [2, 3])
    if run.observer in ("local", "both"):
        views["global"] = (records, [1, 3])
    track = {"some": np.arange(0, 10)}
    sub_seed, train_epoch = fl.sub_seed, fl.batched_lib.train_epoch
    epochs = []  # batched epochs run: the batched run must not quietly train one party at a time

    def shifted(seed, *parts):
        moved = perturb is not None and parts == ("round", perturb[0], "party", perturb[1])
        return sub_seed(seed + 1 if moved else seed, *parts)

    def counted(*args, **kwargs):
        epochs.append(1)
        return train_epoch(*args, **kwargs)

    out = []
    for batched in (False, True):
        obs = fl.Observations(X, y, views, SPEC, gradient_layers=1)
        uploads = {}
        fl.sub_seed = shifted if batched else sub_seed
        fl.batched_lib.train_epoch = counted
        try:
            final, history = _simulate(run, X, y, parties, rounds=3, targets=targets,
                                       observations=obs, uploads=uploads, batched=batched,
                                       train=train, track=track)
        finally:
            fl.sub_seed, fl.batched_lib.train_epoch = sub_seed, train_epoch
        assert len(epochs) == (3 if batched else 0)
        out.append((uploads, final, history, obs.arrays()))
    return out


def _max_state_diff(a, b):
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


@pytest.mark.parametrize("run", RUNS, ids=[r.name for r in RUNS])
def test_batched_parties_equal_sequential_parties(run):
    (up_s, final_s, hist_s, obs_s), (up_b, final_b, hist_b, obs_b) = _both_ways(run, _parties())
    assert up_s.keys() == up_b.keys() and len(up_s) == 9
    assert max(_max_state_diff(up_s[key], up_b[key]) for key in up_s) < SIM_ATOL
    assert _max_state_diff(final_s, final_b) < SIM_ATOL
    assert list(hist_s.columns) == list(hist_b.columns)
    if run.ascent:
        assert "ascent_grad_norm" in hist_s.columns
    np.testing.assert_allclose(hist_b.to_numpy(float), hist_s.to_numpy(float), rtol=1e-4,
                               atol=1e-5)
    assert obs_s.keys() == obs_b.keys()
    for key in obs_s:
        np.testing.assert_allclose(obs_b[key], obs_s[key], rtol=1e-4, atol=1e-4, err_msg=key)


def test_batched_parties_with_sgd_momentum():
    train = {"optimizer": "sgd", "lr": 0.05, "batch_size": 16, "momentum": 0.9,
             "weight_decay": 1e-3}
    (up_s, final_s, _, _), (up_b, final_b, _, _) = _both_ways(RUNS[0], _parties(), train=train)
    assert max(_max_state_diff(up_s[key], up_b[key]) for key in up_s) < SIM_ATOL
    assert _max_state_diff(final_s, final_b) < SIM_ATOL


def test_batched_parties_of_different_sizes():
    """Padding: parties of 30, 17 and 9 records (batches of 16: 2, 2 and 1 steps)."""
    parties = [np.arange(0, 30), np.arange(30, 47), np.arange(60, 69)]
    for run in (RUNS[0], RUNS[3]):
        (up_s, final_s, hist_s, _), (up_b, final_b, hist_b, _) = _both_ways(run, parties)
        assert max(_max_state_diff(up_s[key], up_b[key]) for key in up_s) < SIM_ATOL
        assert _max_state_diff(final_s, final_b) < SIM_ATOL
        np.testing.assert_allclose(hist_b.to_numpy(float), hist_s.to_numpy(float), rtol=1e-4,
                                   atol=1e-5)


def test_batched_comparison_fails_when_one_party_order_changes():
    """Party 2's batch order in round 2, drawn from another seed, changes its upload in round 2 and,
    through the average, every model after it; round 1 and the other round-2 uploads stay equal."""
    (up_s, final_s, _, _), (up_b, final_b, _, _) = _both_ways(RUNS[0], _parties(), perturb=(2, 2))
    assert max(_max_state_diff(up_s[(1, k)], up_b[(1, k)]) for k in range(3)) < SIM_ATOL
    assert max(_max_state_diff(up_s[(2, k)], up_b[(2, k)]) for k in range(2)) < SIM_ATOL
    assert _max_state_diff(up_s[(2, 2)], up_b[(2, 2)]) > 1e-3
    assert _max_state_diff(final_s, final_b) > 1e-4


# --- what the observers see -----------------------------------------------------------------------
def test_snapshots_are_the_configured_epochs_of_what_each_observer_sees():
    X, y = _data()
    records = np.arange(0, 40)
    views = {"party0": (records, [2, 4]), "global": (records, [1, 3, 4])}
    obs = fl.Observations(X, y, views, SPEC, gradient_layers=1)
    uploads = {}
    final, _ = _simulate(fl.Run("passive", 3, observer="both"), X, y, _parties(), rounds=4,
                         observations=obs, uploads=uploads)
    feats = obs.arrays()
    assert list(feats["party0/epochs"]) == [2, 4] and list(feats["global/epochs"]) == [1, 3, 4]
    assert feats["party0/loss"].shape == (40, 2) and feats["global/out/fc3"].shape == (40, 3, 5)
    for t, epoch in enumerate([2, 4]):  # the central view is party 0's upload of that round
        net = _net()
        net.load_state_dict(uploads[(epoch, 0)])
        with torch.no_grad():
            loss = F.cross_entropy(net(torch.as_tensor(X[records])), torch.as_tensor(y[records]),
                                   reduction="none").numpy()
        np.testing.assert_allclose(feats["party0/loss"][:, t], loss, rtol=1e-5, atol=1e-6)
    net = _net()  # the local view at the last round is the final global model
    net.load_state_dict(final)
    with torch.no_grad():
        logits = net(torch.as_tensor(X[records])).numpy()
    np.testing.assert_allclose(feats["global/out/fc3"][:, 2], logits, rtol=1e-5, atol=1e-6)
    sub = fl.select_epochs(fl.view_data(feats, "global"), [1, 4])
    np.testing.assert_array_equal(sub["loss"], feats["global/loss"][:, [0, 2]])


def test_simulation_is_deterministic():
    X, y = _data()
    a, ha = _simulate(fl.Run("passive", 3, observer="central"), X, y, _parties(), rounds=2)
    b, hb = _simulate(fl.Run("passive", 3, observer="central"), X, y, _parties(), rounds=2)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert ha.equals(hb)


def test_scaled_epoch_sets_are_distinct_rounds_within_the_run():
    assert fl.scale_epochs([100, 150, 200, 250, 300], 300, 20) == [7, 10, 13, 17, 20]
    early = fl.scale_epochs([5, 10, 15, 20, 25], 300, 20)
    assert early == sorted(set(early)) and early[0] >= 1 and len(early) == 5
    assert fl.scale_epochs([50, 100, 150, 200, 250], 300, 3) == [1, 2, 3]  # fewer rounds than T


def test_only_the_sweep_datasets_sweep_parties_and_epoch_sets():
    fed = {"party_sweep": [2, 3, 4, 5], "sweep_datasets": ["a"],
           "per_dataset": {d: {"rounds": 20, "observed_epochs": [8, 12, 16, 18, 20]}
                           for d in ("a", "b")}}
    assert federated_runs.party_sweep(fed, "a") == [2, 3, 4, 5]
    assert federated_runs.party_sweep(fed, "b") == []
    assert federated_runs.table12_epoch_sets(fed, "b") == []
    sets = federated_runs.table12_epoch_sets(fed, "a")
    # The paper's first three sets scaled from its 300 rounds (Table XII), then Table X's epochs.
    assert sets[:-1] == [fl.scale_epochs(e, paper.TABLE12_PAPER_ROUNDS, 20)
                         for e in paper.TABLE12_EPOCHS[:-1]]
    assert sets[-1] == [8, 12, 16, 18, 20]


# --- the split ------------------------------------------------------------------------------------
SIZES = dict(party_train=100, test=50, attack_train_members=30, attack_train_nonmembers=30,
             attack_test_members=50, attack_test_nonmembers=50, target_members=10,
             target_nonmembers=10)


def test_split_sizes_disjointness_and_targets():
    sets = fl.federated_splits(1000, SIZES, parties=4, party_sweep=[2, 3, 4, 5],
                               validation_fraction=0.2, overlapping=False, seed=3)
    parties = [sets[f"party{k}"] for k in range(5)]
    assert all(len(p) == 100 for p in parties)
    assert len(np.unique(np.concatenate(parties))) == 500
    held_out = np.concatenate(
        [sets["test"], sets["attack_train_nonmembers"], sets["attack_val_nonmembers"]]
        + [sets[fl.central_key(k, "attack_test_nonmembers")] for k in range(4)])
    assert not np.isin(held_out, np.concatenate(parties)).any()
    c0 = lambda n: sets[fl.central_key(0, n)]  # noqa: E731
    assert len(c0("attack_train_members")) == 24 and len(c0("attack_val_members")) == 6
    assert np.isin(c0("target_members"), c0("attack_test_members")).all()
    assert np.isin(sets["target_nonmembers"], c0("attack_test_nonmembers")).all()
    for k in range(4):
        assert np.isin(sets[fl.central_key(k, "attack_test_members")], sets[f"party{k}"]).all()
    for n in (2, 3, 4, 5):  # the local attacker (party n-1) attacks the other parties' data
        local = sets[fl.local_key(n, "attack_test_members")]
        assert len(local) == len(sets[fl.local_key(n, "attack_test_nonmembers")]) == 50
        assert np.isin(local, np.concatenate(parties[: n - 1])).all()
        assert not np.isin(local, parties[n - 1]).any()
    again = fl.federated_splits(1000, SIZES, parties=4, party_sweep=[2, 3, 4, 5],
                                validation_fraction=0.2, overlapping=False, seed=3)
    assert all(np.array_equal(sets[k], again[k]) for k in sets)


def test_local_attacker_test_set_can_span_the_other_parties():
    sizes = {**SIZES, "local_attack_test_members": 150}
    sets = fl.federated_splits(1000, sizes, parties=4, party_sweep=[], validation_fraction=0.2,
                               overlapping=False, seed=3)
    local_m = sets[fl.local_key(4, "attack_test_members")]
    local_n = sets[fl.local_key(4, "attack_test_nonmembers")]
    assert len(local_m) == len(local_n) == 150
    assert np.isin(sets[fl.local_key(4, "target_members")], local_m).all()
    assert np.isin(sets["target_nonmembers"], local_n).all()
    assert len(sets[fl.central_key(0, "attack_test_members")]) == 50


def test_overlapping_parties_share_a_pool():
    sizes = {**SIZES, "member_pool": 250}
    sets = fl.federated_splits(1000, sizes, parties=4, party_sweep=[], validation_fraction=0.2,
                               overlapping=True, seed=3)
    union = np.unique(np.concatenate([sets[f"party{k}"] for k in range(4)]))
    assert len(union) <= 250 < 400 and all(len(sets[f"party{k}"]) == 100 for k in range(4))


def test_split_that_does_not_fit_names_the_fix():
    with pytest.raises(SplitError, match="n_records"):
        fl.federated_splits(600, SIZES, parties=4, party_sweep=[5], validation_fraction=0.2,
                            overlapping=False, seed=3)
    with pytest.raises(SplitError, match="party_train"):
        fl.federated_splits(5000, {**SIZES, "attack_test_members": 90}, parties=4, party_sweep=[],
                            validation_fraction=0.2, overlapping=False, seed=3)


# --- the multi-observation attack on planted leakage ----------------------------------------------
HP = dict(component_widths=[16, 8], gradient_widths=[16, 8], kernels=2, encoder_widths=[16, 8],
          dropout=0.0, init_std=0.01, lr=0.01, batch_size=32, epochs=15,
          input_scaling="fan_in", selection="balanced_mse")


def _planted_view(n, T, signal, seed=0):
    """Features of n records over T snapshots; members' loss falls over the rounds by ``signal``."""
    rng = np.random.default_rng(seed)
    member = np.r_[np.ones(n // 2), np.zeros(n - n // 2)].astype(bool)
    fall = np.linspace(0, signal, T)[None, :] * member[:, None]
    view = {"loss": (rng.normal(size=(n, T)) + 2 - fall).astype(np.float32),
            "out/fc3": rng.normal(size=(n, T, 5)).astype(np.float32),
            "h_in/fc3": rng.normal(size=(n, T, 8)).astype(np.float32),
            "delta/fc3": rng.normal(size=(n, T, 5)).astype(np.float32),
            "label": rng.integers(0, 5, n), "records": np.arange(n),
            "epochs": np.arange(1, T + 1)}
    ids = np.arange(n)
    return view, ids[member], ids[~member]


@pytest.mark.parametrize("signal, low, high", [(4.0, 0.9, 1.0), (0.0, 0.4, 0.6)])
def test_attack_finds_planted_leakage_and_only_it(signal, low, high):
    view, m, nm = _planted_view(1200, 3, signal)
    data = {k: v for k, v in view.items() if k != "epochs"}
    _, record = attack.run_supervised(
        (data, m[:400], nm[:400]), (data, m[400:450], nm[400:450]),
        {"test": (data, m[450:], nm[450:])}, spec=SPEC, n_classes=5, hp=HP, seed=0,
        evaluate={"n_bootstrap": 0}, description="planted", n_observations=3)
    auc = record["metrics"]["test"]["auc"]
    assert record["training"]["n_observations"] == 3
    assert low <= auc <= high


# --- threshold baselines beside every federated row -----------------------------------------------
def test_trace_baselines_score_members_above_nonmembers():
    from deepleak import baselines

    view, m, nm = _planted_view(400, 3, 4.0)  # members' loss falls over the rounds
    data = {k: v for k, v in view.items() if k != "epochs"}
    scores, records = baselines.calibrated(
        (data, m[100:], nm[100:]), (data, m[:100], nm[:100]), evaluate={"n_bootstrap": 0},
        calibrated_on="known records", names=baselines.TRACE_BASELINES)
    assert set(records) == {"loss_last", "loss_mean"}
    np.testing.assert_allclose(scores["loss_last"], -data["loss"][np.r_[m[100:], nm[100:]], -1])
    assert all(r["metrics"]["test"]["auc"] > 0.9 for r in records.values())


@pytest.mark.parametrize("table", ["table10", "table12"])
def test_every_federated_row_has_its_baselines_and_per_party_aucs(tmp_path, table):
    import make_federated_table
    import run_federated_attack
    import simulate_federated
    from deepleak import artifacts, splits

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(400, 12)).astype(np.float32), rng.integers(0, 5, 400)
    artifacts.save_npz(tmp_path / "dataset.npz", {"X": X, "y": y})
    sizes = dict(party_train=40, test=20, attack_train_members=10, attack_train_nonmembers=10,
                 attack_test_members=20, attack_test_nonmembers=20, target_members=5,
                 target_nonmembers=5)
    sets = fl.federated_splits(400, sizes, parties=4, party_sweep=[], validation_fraction=0.2,
                               overlapping=False, seed=1)
    splits.save(tmp_path / "splits.npz", sets, meta={})
    observed, epoch_sets = [3, 4], [[1, 2], [2, 3], [1, 3], [3, 4]]  # Table XII: 4 sets
    runs = (["passive", "central_ascent", "isolating", "isolating_ascent", "local_ascent"]
            if table == "table10" else ["passive"])
    features_cfg = {"outputs": [1], "gradients": [1]}
    metrics_paths = []
    for run in runs:
        out = {k: tmp_path / f"{run}_{k}" for k in ("feats.npz", "model.pt", "meta.json",
                                                    "history.csv", "scores.npz", "metrics.json")}
        simulate_federated.main(
            tmp_path / "dataset.npz", tmp_path / "splits.npz", *[out[k] for k in (
                "feats.npz", "model.pt", "meta.json", "history.csv")], run=run,
            model_cfg={"arch": "fc", "hidden": [16, 8], "activation": "tanh"},
            fed={"rounds": 4, "observed_epochs": observed, "train": TRAIN}, parties=4,
            party_sweep=[], gamma=0.3, features_cfg=features_cfg, central_epochs=epoch_sets,
            track_records=2, batched=False, seed=5)
        run_federated_attack.main(
            out["feats.npz"], tmp_path / "splits.npz", out["meta.json"], out["scores.npz"],
            out["metrics.json"], dataset="toy", run=run, parties=4, party_sweep=[],
            observed_epochs=observed, central_epochs=epoch_sets, features_cfg=features_cfg,
            hp={**HP, "epochs": 2}, metrics_cfg={"n_bootstrap": 5, "confidence": 0.95}, seed=0)
        metrics_paths.append(out["metrics.json"])
    artifacts.save_json(tmp_path / "provenance.json", {"source": "synthetic"})
    make_federated_table.main(
        metrics_paths, [tmp_path / "provenance.json"], tmp_path / "t.csv", tmp_path / "t.md",
        table=table, datasets=["toy"], replicates=["r0"], parties=4, party_sweep=[],
        rounds={"toy": 4}, observed_epochs={"toy": observed}, epoch_sets={"toy": epoch_sets},
        references={"toy": ["purchase100", "fc"]},
        settings={"toy": {**sizes, "parties": 4, "rounds": 4, "observed_epochs": observed,
                          "overlapping": False}}, confidence=0.95)
    import pandas as pd

    df = pd.read_csv(tmp_path / "t.csv")
    assert len(df) == len(paper.FEDERATED_TABLES[table].rows)
    for b in ("loss_last", "loss_mean"):
        assert df[f"baseline_{b}_accuracy"].between(0, 100).all(), b
        assert df[f"baseline_{b}_auc"].between(0, 1).all(), b
    # The central attacker's rows on its attack test set give one AUC per party (4 parties).
    central = [r.label for r in paper.FEDERATED_TABLES[table].rows
               if r.attack.endswith(":central") and r.test == "test"]
    assert central
    for label in df["row"]:
        if label in central or table == "table12":
            cell = df.loc[df["row"] == label, "auc_per_party"].iloc[0]
            assert len(str(cell).split(" / ")) == 4, (label, cell)
    md = (tmp_path / "t.md").read_text()
    assert "Loss threshold, last observed round" in md and "AUC per party" in md
    import json

    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[1]
                         / "workflow/schemas/metrics.schema.json").read_text())
    for path in metrics_paths:
        jsonschema.validate(artifacts.load_json(path), schema)
