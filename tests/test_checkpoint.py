"""Checkpoints (deepleak/checkpoint.py): every training loop, killed after some epochs or rounds and
rerun, resumes from its checkpoint and ends byte for byte where an uninterrupted run ends; the
optimizers' state round-trips; a checkpoint of other parameters is never resumed.

The kill is simulated by an exception from the loop's epoch function after a number of epochs (the
checkpoint of the last finished epoch is on disk, as after a SIGKILL); tests/test_faults.py kills
a real job with SIGKILL."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from deepleak import attack, batched, calibration, checkpoint, models, optim, training
from deepleak import federated as fl
from deepleak.attack import AttackFeatures
from deepleak.checkpoint import Checkpoint
from torch import nn


class Killed(Exception):
    """Stands for the SIGKILL that stops a job between two epochs."""


def _kill_after(monkeypatch, module, name, calls):
    """Make ``module.name`` raise Killed on call number ``calls + 1``; returns the call count."""
    real, count = getattr(module, name), {"n": 0}
    real = getattr(real, "__wrapped__", real)  # patched before in this test: the real one

    def wrapper(*args, **kwargs):
        count["n"] += 1
        if calls is not None and count["n"] > calls:
            raise Killed
        return real(*args, **kwargs)

    wrapper.__wrapped__ = real
    monkeypatch.setattr(module, name, wrapper)
    return count


def _bytes(state) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _data(n=150, d=12, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.integers(0, classes, n)


RECIPES = [
    {"optimizer": "adam", "lr": 0.01, "batch_size": 16, "epochs": 5, "lr_milestones": [2],
     "lr_gamma": 0.5},
    {"optimizer": "sgd", "lr": 0.05, "batch_size": 16, "epochs": 5, "momentum": 0.9,
     "weight_decay": 1e-3, "lr_milestones": [3]},
]


# --------------------------------------------------------------------------------------------------
# optimizer state
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("train", RECIPES, ids=["adam", "sgd"])
def test_optimizer_state_round_trips(train):
    """Three steps, the optimizer's state through torch.save (weights_only) into a fresh optimizer
    of a copy of the net, three more steps: the same bytes as six steps of one optimizer."""
    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(8, 12, generator=gen), torch.randint(0, 5, (8,), generator=gen))
               for _ in range(6)]

    def steps(net, opt, part):
        for x, y in part:
            opt.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
            opt.lr = optim.milestone_lr(opt.lr, 1, [1], 0.5)  # the lr moves: it must be saved

    torch.manual_seed(1)
    net = models.FCNet(12, 5, hidden=(16,))
    opt = training.make_optimizer(net, train)
    steps(net, opt, batches)

    torch.manual_seed(1)
    first = models.FCNet(12, 5, hidden=(16,))
    opt1 = training.make_optimizer(first, train)
    steps(first, opt1, batches[:3])
    saved = torch.load(io.BytesIO(_bytes({"model": first.state_dict(),
                                          "opt": opt1.state_dict()})), weights_only=True)
    second = models.FCNet(12, 5, hidden=(16,))
    second.load_state_dict(saved["model"])
    opt2 = training.make_optimizer(second, train)
    opt2.load_state_dict(saved["opt"])
    steps(second, opt2, batches[3:])
    assert _bytes(second.state_dict()) == _bytes(net.state_dict())
    # ... and a fresh optimizer (moments lost) does not: the comparison can fail.
    third = models.FCNet(12, 5, hidden=(16,))
    third.load_state_dict(saved["model"])
    steps(third, training.make_optimizer(third, {**train, "lr": opt1.lr}), batches[3:])
    assert _bytes(third.state_dict()) != _bytes(net.state_dict())


def test_optimizer_state_of_another_architecture_is_refused():
    opt = optim.Adam(models.FCNet(12, 5, hidden=(16,)).parameters(), lr=0.1)
    other = optim.Adam(models.FCNet(12, 5, hidden=(16, 8)).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="another architecture"):
        other.load_state_dict(opt.state_dict())


# --------------------------------------------------------------------------------------------------
# training.fit: targets, shadows, fine-tuning snapshots, reference models alone
# --------------------------------------------------------------------------------------------------
def _fit(train, ckpt=None, seed=3):
    X, y = _data()
    net = models.build_model({"arch": "fc", "hidden": [16, 8], "activation": "tanh"}, 12, 5,
                             seed=seed)
    return training.fit(net, X[:100], y[:100], X[100:], y[100:], train=train, seed=seed,
                        track_members=(X[:10], y[:10]), track_nonmembers=(X[100:110], y[100:110]),
                        checkpoint=ckpt)


@pytest.mark.parametrize("train", RECIPES, ids=["adam", "sgd"])
def test_fit_resumes_byte_identical(tmp_path, monkeypatch, train):
    whole, whole_history = _fit(train)
    ckpt = Checkpoint.for_job(tmp_path / "model.pt", {"train": train})
    _kill_after(monkeypatch, training, "train_epoch", 3)
    with pytest.raises(Killed):
        _fit(train, ckpt)
    assert ckpt.path.exists()
    count = _kill_after(monkeypatch, training, "train_epoch", None)
    resumed, history = _fit(train, ckpt)
    assert count["n"] == train["epochs"] - 3  # it resumed: only the missing epochs ran
    assert _bytes(resumed.state_dict()) == _bytes(whole.state_dict())
    assert history.to_csv() == whole_history.to_csv()
    ckpt.remove()
    assert not list(tmp_path.iterdir())


def test_resume_needs_the_batch_order_generator(tmp_path, monkeypatch):
    """The byte comparison above can fail: a resume that put back the weights and optimizer but
    not the batch-order generator ends elsewhere."""
    train = RECIPES[0]
    whole, _ = _fit(train)
    ckpt = Checkpoint.for_job(tmp_path / "model.pt", {"train": train})
    _kill_after(monkeypatch, training, "train_epoch", 2)
    with pytest.raises(Killed):
        _fit(train, ckpt)
    _kill_after(monkeypatch, training, "train_epoch", None)
    monkeypatch.setattr(checkpoint, "_restore_random_states",
                        lambda states, generators: torch.set_rng_state(states["torch"]))
    resumed, _ = _fit(train, ckpt)
    assert _bytes(resumed.state_dict()) != _bytes(whole.state_dict())


def test_checkpoint_of_other_parameters_or_inputs_is_not_resumed(tmp_path, monkeypatch, caplog):
    train = RECIPES[0]
    data = tmp_path / "data.npz"
    data.write_bytes(b"one")
    ckpt = Checkpoint.for_job(tmp_path / "model.pt", {"train": train}, inputs=[data])
    _kill_after(monkeypatch, training, "train_epoch", 3)
    with pytest.raises(Killed):
        _fit(train, ckpt)
    other_params = Checkpoint.for_job(tmp_path / "model.pt", {"train": {**train, "lr": 0.02}},
                                      inputs=[data])
    data.write_bytes(b"two, remade")
    other_inputs = Checkpoint.for_job(tmp_path / "model.pt", {"train": train}, inputs=[data])
    for other in (other_params, other_inputs):
        assert other.path == ckpt.path
        with caplog.at_level("WARNING"):
            assert other.load() is None
        assert "other parameters or inputs" in caplog.text
    ckpt.path.write_bytes(b"half a checkpoint")  # a file that is not one (cannot happen: atomic)
    assert other_params.load() is None


def test_remove_removes_children_and_stale_temporaries(tmp_path):
    ckpt = Checkpoint.for_job(tmp_path / "model.pt", {})
    ckpt.save({"epoch": 1})
    ckpt.child("finetuned").save({"epoch": 2, "array": np.arange(3)})
    (tmp_path / "model.pt").write_bytes(b"the output")
    # What a SIGKILL during a checkpoint write leaves: a temporary the next write removes.
    stale = tmp_path / ".model.pt.ckpt.tmp-abc"
    stale.write_bytes(b"half")
    ckpt.save({"epoch": 2})
    assert not stale.exists()
    loaded = ckpt.child("finetuned").load()
    assert loaded["epoch"] == 2 and loaded["array"].tolist() == [0, 1, 2]
    ckpt.remove()
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


# --------------------------------------------------------------------------------------------------
# batched.fit (reference models trained together)
# --------------------------------------------------------------------------------------------------
def _batched_fit(train, ckpt=None):
    X, y = _data(n=120)
    nets = [models.build_model({"arch": "fc", "hidden": [16, 8], "activation": "tanh"}, 12, 5,
                               seed=s) for s in (5, 6, 7)]
    stack = batched.Stack.of(nets)
    pool = batched.Pool([torch.as_tensor(X[i::3]) for i in range(3)],
                        [torch.as_tensor(y[i::3]) for i in range(3)])
    gens = [torch.Generator().manual_seed(s) for s in (5, 6, 7)]
    losses = batched.fit(stack, pool, train, gens, checkpoint=ckpt)
    return [stack.state(k) for k in range(3)], losses


@pytest.mark.parametrize("train", RECIPES, ids=["adam", "sgd"])
def test_batched_fit_resumes_byte_identical(tmp_path, monkeypatch, train):
    whole, whole_losses = _batched_fit(train)
    ckpt = Checkpoint.for_job(tmp_path / "references.npz", {"train": train})
    _kill_after(monkeypatch, batched, "train_epoch", 2)
    with pytest.raises(Killed):
        _batched_fit(train, ckpt)
    count = _kill_after(monkeypatch, batched, "train_epoch", None)
    resumed, losses = _batched_fit(train, ckpt)
    assert count["n"] == train["epochs"] - 2
    assert _bytes(resumed) == _bytes(whole)
    np.testing.assert_array_equal(losses, whole_losses)


# --------------------------------------------------------------------------------------------------
# references.statistics: which batches of reference models are done, and the epochs of the next
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("use_batched", [True, False], ids=["batched", "alone"])
def test_reference_statistics_resume(tmp_path, monkeypatch, use_batched):
    from deepleak import references

    X, y = _data(n=120)
    kw = dict(model_cfg={"arch": "fc", "hidden": [16, 8], "activation": "tanh"}, in_features=12,
              n_classes=5, X=X, y=y, mask=calibration.reference_mask(80, 4, seed=2),
              pool=np.arange(80), records=np.arange(60, 120),
              train={"optimizer": "adam", "lr": 0.01, "batch_size": 16, "epochs": 3},
              seeds=[11, 12, 13, 14], batched=use_batched, per_batch=2)
    whole, _ = references.statistics(**kw)
    ckpt = Checkpoint.for_job(tmp_path / "references.npz", {})
    # Killed in the second epoch of the second batch (batched: 2 models a batch) or of the
    # third model (alone).
    module, done_epochs = (batched, 3 + 1) if use_batched else (training, 2 * 3 + 1)
    _kill_after(monkeypatch, module, "train_epoch", done_epochs)
    with pytest.raises(Killed):
        references.statistics(**kw, checkpoint=ckpt)
    count = _kill_after(monkeypatch, module, "train_epoch", None)
    resumed, summary = references.statistics(**kw, checkpoint=ckpt)
    total = 2 * 3 if use_batched else 4 * 3
    assert count["n"] == total - done_epochs
    assert set(resumed) == set(whole)
    for key in whole:
        assert resumed[key].tobytes() == whole[key].tobytes(), key
    assert summary["models"] == 4 and len(summary["out_accuracy"]) == 4
    ckpt.remove()
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------------------------------
# federated.simulate: the FedAvg rounds
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("run", [fl.Run("passive", 3, observer="both"),
                                 fl.Run("isolating_ascent", 3, isolating=True, ascent="central",
                                        observer="central")], ids=lambda r: r.name)
@pytest.mark.parametrize("use_batched", [True, False], ids=["batched", "sequential"])
def test_federated_simulation_resumes_byte_identical(tmp_path, monkeypatch, run, use_batched):
    X, y = _data(n=200)
    parties = [np.arange(k * 30, (k + 1) * 30) for k in range(3)]
    targets = np.concatenate([parties[0][:5], np.arange(120, 125)])
    watched = ["party0", "party1", "party2", "global"] if run.observer == "both" else ["party0"]
    views = {v: (np.arange(90, 120), [2, 4]) for v in watched}
    spec = AttackFeatures(outputs=("fc3",), gradients=("fc3",))
    epoch_fn = (batched, "train_epoch") if use_batched else (training, "train_epoch")

    def simulate(ckpt=None):
        obs = fl.Observations(X, y, views, spec, gradient_layers=1)
        final, history = fl.simulate(
            lambda: models.FCNet(12, 5, hidden=(16, 8)), X, y, parties, run=run,
            train={"optimizer": "adam", "lr": 0.01, "batch_size": 16}, rounds=4, gamma=0.5,
            target_ids=targets, test_ids=np.arange(150, 200), observations=obs, seed=11,
            track={"t": targets}, batched=use_batched, checkpoint=ckpt)
        return final, history, obs.arrays()

    whole = simulate()
    ckpt = Checkpoint.for_job(tmp_path / "features.npz", {})
    per_round = 1 if use_batched else 3
    # Killed in round 3: before its batched epoch, or in its second party's epoch.
    _kill_after(monkeypatch, *epoch_fn, 2 * per_round + (0 if use_batched else 1))
    with pytest.raises(Killed):
        simulate(ckpt)
    count = _kill_after(monkeypatch, *epoch_fn, None)
    final, history, arrays = simulate(ckpt)
    assert count["n"] == 2 * per_round  # rounds 3 and 4
    assert _bytes(final) == _bytes(whole[0])
    assert history.to_csv() == whole[1].to_csv()
    assert set(arrays) == set(whole[2])
    for key, value in whole[2].items():
        assert arrays[key].tobytes() == value.tobytes(), key


def _attack_fit(ckpt=None):
    rng = np.random.default_rng(4)
    n = 96
    member = (np.arange(n) % 2).astype(np.int64)
    feats = {"out/fc": rng.normal(size=(n, 5)).astype(np.float32),
             "loss": rng.random(n).astype(np.float32) + member,  # something to learn
             "label": rng.integers(0, 3, n)}
    spec = AttackFeatures(outputs=("fc",))
    hp = {"component_widths": [8], "gradient_widths": [8], "kernels": 2, "encoder_widths": [8],
          "dropout": 0.2, "init_std": 0.01, "lr": 0.01, "batch_size": 16, "epochs": 6,
          "input_scaling": "fan_in", "selection": "balanced_mse"}
    inputs = attack.gather_inputs(feats, spec)
    model, _, history = attack.fit_supervised(inputs, member, inputs, member, spec, 3, hp, seed=5,
                                              checkpoint=ckpt)
    return model, history


def test_attack_model_resumes_byte_identical(tmp_path, monkeypatch):
    """Killed after 3 of 6 epochs and rerun, the attack model, its selected epoch and its history
    end as an uninterrupted run's (the best epoch's weights and dropout's random state included)."""
    ref_model, ref_history = _attack_fit()
    ckpt = Checkpoint(tmp_path / "scores.npz.ckpt", "k")
    _kill_after(monkeypatch, attack, "train_epoch", 3)
    with pytest.raises(Killed):
        _attack_fit(ckpt)
    assert ckpt.path.exists()
    count = _kill_after(monkeypatch, attack, "train_epoch", None)
    model, history = _attack_fit(Checkpoint(tmp_path / "scores.npz.ckpt", "k"))
    assert count["n"] == 3  # the epochs after the checkpoint, no more
    assert _bytes(model.state_dict()) == _bytes(ref_model.state_dict())
    assert model.selected_epoch == ref_model.selected_epoch
    assert history == ref_history


def test_a_checkpoint_with_an_interval_waits_for_it(tmp_path, monkeypatch):
    clock = {"t": 100.0}
    monkeypatch.setattr(checkpoint.time, "monotonic", lambda: clock["t"])
    ckpt = Checkpoint(tmp_path / "a.ckpt", "k", every_s=60)
    assert not ckpt.due()
    clock["t"] += 60
    assert ckpt.due()
    ckpt.save({"epoch": 1})
    assert not ckpt.due()
    assert Checkpoint(tmp_path / "b.ckpt", "k").due()


@pytest.mark.parametrize("level", ["eps4", "clip_only"])
def test_dp_sgd_target_resumes_byte_identical(tmp_path, monkeypatch, level):
    """A DP-SGD target killed after 2 of 4 epochs and rerun: the same model, history and privacy
    record (the accountant's steps, so the epsilon spent) as an uninterrupted run."""
    from deepleak import dp

    X, y = _data(n=160)
    train = {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 4}
    cfg = {"delta": 1e-5, "max_grad_norm": 1.0, "accountant": "rdp", "grad_sample_mode": "ghost"}

    def fit(ckpt=None):
        net = models.build_model({"arch": "fc", "hidden": [16], "activation": "tanh"}, 12, 5,
                                 seed=1)
        return dp.fit_private(net, X[:120], y[:120], X[120:], y[120:], train=train, dp=cfg,
                              level=level, seed=3, checkpoint=ckpt)

    ref_net, ref_history, ref_privacy = fit()
    _kill_after(monkeypatch, dp, "train_epoch", 2)
    with pytest.raises(Killed):
        fit(Checkpoint(tmp_path / "model.pt.ckpt", "k"))
    count = _kill_after(monkeypatch, dp, "train_epoch", None)
    net, history, privacy = fit(Checkpoint(tmp_path / "model.pt.ckpt", "k"))
    assert count["n"] == 2
    assert _bytes(net.state_dict()) == _bytes(ref_net.state_dict())
    assert history.equals(ref_history) and privacy == ref_privacy
