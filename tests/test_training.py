"""Training's optimizer update: torch's per-tensor loop (its CPU default) gives the same weights as
the faster update DeepLeak uses: to float precision for Adam's fused kernel, bit for bit for SGD's
multi-tensor (foreach) update (deepleak/optim.py makes both, tests/test_optim.py)."""
import pytest
import torch
from deepleak import training


def _trained(train: dict, loop: bool = False, steps: int = 6) -> list[torch.Tensor]:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(40, 32), torch.nn.Tanh(), torch.nn.Linear(32, 5))
    opt = training.make_optimizer(net, train)
    if loop:  # torch.optim's own, per tensor
        ref = training.make_optimizer(net, train, torch_optim=True)
        opt = type(ref)(net.parameters(), **{**ref.defaults, "foreach": False, "fused": None})
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(16, 40, generator=gen), torch.randint(0, 5, (16,), generator=gen)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return [p.detach().clone() for p in net.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor], exact: bool) -> bool:
    close = torch.equal if exact else (lambda u, v: torch.allclose(u, v, rtol=1e-5, atol=1e-7))
    return all(close(u, v) for u, v in zip(a, b, strict=True))


@pytest.mark.parametrize("train, exact", [
    ({"optimizer": "adam", "lr": 1e-2}, False),
    ({"optimizer": "adam", "lr": 1e-2, "weight_decay": 1e-3}, False),
    ({"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4}, True),
])
def test_fast_update_matches_the_loop(train, exact):
    fast = _trained(train)
    assert _same(fast, _trained(train, loop=True), exact)
    # The comparison can fail: a learning rate 0.1 % higher gives other weights.
    assert not _same(fast, _trained({**train, "lr": train["lr"] * 1.001}), exact=False)


def test_evaluating_every_few_epochs_changes_the_history_not_the_model():
    """``evaluate_every`` skips the full train / test evaluation between epochs: the model, the
    last epoch's accuracies (what the tables read) and the tracked gradient norms (Figure 3) are
    those of a run that evaluates every epoch."""
    import numpy as np
    from deepleak import models

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(160, 12)).astype(np.float32), rng.integers(0, 4, 160)
    train = {"optimizer": "adam", "lr": 0.01, "batch_size": 16, "epochs": 7}
    runs = {}
    for every in (1, 3):
        net = models.build_model({"arch": "fc", "hidden": [16], "activation": "tanh"}, 12, 4,
                                 seed=1)
        runs[every] = training.fit(net, X[:100], y[:100], X[100:], y[100:], train=train, seed=2,
                                   evaluate_every=every, track_members=(X[:10], y[:10]),
                                   track_nonmembers=(X[100:110], y[100:110]))
    (full_net, full), (net, some) = runs[1], runs[3]
    assert _same(list(full_net.parameters()), list(net.parameters()), exact=True)
    assert list(some["epoch"][some["test_acc"].notna()]) == [0, 3, 6, 7]
    assert some.iloc[-1].equals(full.iloc[-1])
    assert some["member_grad_norm"].equals(full["member_grad_norm"])
