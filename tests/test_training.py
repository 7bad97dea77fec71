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
