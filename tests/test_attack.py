"""Planted leakage: the paper's attack model finds membership where it exists, and only there."""
import numpy as np
import pytest
import torch
from deepleak import attack, features, metrics, models, training, variants

HP = dict(component_widths=[32, 16], gradient_widths=[32, 16], kernels=4, encoder_widths=[32, 16],
          dropout=0.0, init_std=0.01, lr=0.003, batch_size=64, epochs=15,
          input_scaling="fan_in", selection="balanced_mse")


def _data(n, d=20, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), rng.integers(0, classes, n)


def _attack_auc(net, X, y, is_member, seed=0):
    """Train the last-layer-gradient attack on half the records, score the other half."""
    feats = features.extract(net, X, y, gradient_layers=2)
    spec = variants.VARIANTS["gradients_1"].resolve(list(net.layer_names), 2)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    train, val, test = np.split(order, [len(X) // 2, len(X) // 2 + len(X) // 8])
    pick = lambda rows: attack.gather_inputs(features.take(feats, rows), spec)  # noqa: E731
    model, std, _ = attack.fit_supervised(pick(train), is_member[train], pick(val), is_member[val],
                                          spec, 10, HP, seed)
    scores = attack.predict(model, std(pick(test)))
    return metrics.evaluate(scores, is_member[test], n_bootstrap=0)["auc"]


def test_memorising_model_leaks():
    # Random labels: the model can only memorise its members, so membership is planted.
    X, y = _data(1600)
    member = np.r_[np.ones(800), np.zeros(800)].astype(int)
    net = models.FCNet(20, 10, hidden=(128, 64))
    net, hist = training.fit(net, X[:800], y[:800], X[800:], y[800:], seed=0,
                             train=dict(lr=0.003, batch_size=64, epochs=60))
    assert hist["train_acc"].iloc[-1] > 0.95  # it did memorise
    assert _attack_auc(net, X, y, member) > 0.9


def test_null_model_does_not_leak():
    # Members and non-members from one distribution and a model never trained on either.
    X, y = _data(4000, seed=1)
    member = np.r_[np.ones(2000), np.zeros(2000)].astype(int)
    torch.manual_seed(0)
    net = models.FCNet(20, 10, hidden=(64, 32))
    assert abs(_attack_auc(net, X, y, member) - 0.5) < 0.05


def test_multi_observation_model_shapes():
    spec = attack.AttackFeatures(outputs=("fc2",), gradients=("fc2",))
    dims = {"out/fc2": 10, "h_in/fc2": 8, "delta/fc2": 10, "loss": 1}
    model = attack.AttackModel(spec, dims, 10, HP, n_observations=3)
    inputs = {"out/fc2": torch.zeros(5, 3, 10), "h_in/fc2": torch.zeros(5, 3, 8),
              "delta/fc2": torch.zeros(5, 3, 10), "loss": torch.zeros(5, 3, 1),
              "label": torch.zeros(5, dtype=torch.long)}
    assert model(inputs).shape == (5,)


@pytest.mark.parametrize("selection", sorted(attack.SELECTIONS))
def test_selection_does_not_favour_the_majority_class_of_an_unbalanced_validation_set(monkeypatch,
                                                                                     selection):
    # Validation 500 members : 100 non-members (the paper's CIFAR-100 ratio, 5,000 : 1,000).
    # Epoch 1 calls every record a member (accuracy 83 %, balanced accuracy 50 %, balanced MSE 0.41,
    # AUC 0.5); epoch 2 is right on 70 % of each class (accuracy 70 %, balanced accuracy 70 %,
    # balanced MSE 0.25, AUC 0.7); epoch 3 calls every record a non-member. Every selection metric
    # must keep the informative epoch.
    X, y = _data(1200, seed=2)
    net = models.FCNet(20, 10, hidden=(16, 8))
    feats = features.extract(net, X, y, gradient_layers=1)
    spec = variants.VARIANTS["black_box"].resolve(list(net.layer_names), 1)
    pick = lambda rows: attack.gather_inputs(features.take(feats, rows), spec)  # noqa: E731
    train, val = np.arange(600), np.arange(600, 1200)
    train_member = np.r_[np.ones(300), np.zeros(300)].astype(int)
    val_member = np.r_[np.ones(500), np.zeros(100)].astype(int)
    rng = np.random.default_rng(0)
    right = rng.random(600) < 0.7
    informative = np.where(right == val_member.astype(bool), 0.9, 0.1)
    script = iter([np.full(600, 0.9), informative, np.full(600, 0.1)])
    monkeypatch.setattr(attack, "predict", lambda model, inputs, batch_size=1024: next(script))
    model, _, history = attack.fit_supervised(pick(train), train_member, pick(val), val_member,
                                              spec, 10, {**HP, "epochs": 3, "selection": selection},
                                              seed=0)
    assert history[0]["val_acc"] > history[1]["val_acc"]  # plain accuracy would pick epoch 1
    assert model.selected_epoch == 2
