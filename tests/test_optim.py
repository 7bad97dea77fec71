"""deepleak/optim.py makes torch.optim's updates bit for bit, without importing torch's compiler."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from deepleak import optim, training
from torch import nn

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

RECIPES = [
    {"optimizer": "adam", "lr": 1e-3},
    {"optimizer": "adam", "lr": 1e-2, "weight_decay": 1e-3},
    {"optimizer": "sgd", "lr": 0.05},
    {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4},
]


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(7, 16), nn.Tanh(), nn.Linear(16, 5))
        # an unused head: its parameters get no gradient, which torch.optim skips
        self.unused = nn.Linear(3, 3)

    def forward(self, x):
        return self.body(x)


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return _Net()


def _train(train: dict, torch_optim: bool, steps: int = 12, milestones=(4, 8)):
    net = _net(0)
    opt = training.make_optimizer(net, train, torch_optim=torch_optim)
    sched = (torch.optim.lr_scheduler.MultiStepLR(opt, list(milestones), gamma=0.1)
             if torch_optim else None)
    gen = torch.Generator().manual_seed(1)
    for step in range(1, steps + 1):
        x, y = torch.randn(8, 7, generator=gen), torch.randint(0, 5, (8,), generator=gen)
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        if torch_optim:
            sched.step()
        else:
            opt.lr = optim.milestone_lr(opt.lr, step, milestones, 0.1)
    return net


@pytest.mark.parametrize("train", RECIPES,
                         ids=lambda t: "-".join(f"{k}={v}" for k, v in t.items()))
def test_updates_are_torch_optims_bit_for_bit(train):
    ours, torchs = _train(train, torch_optim=False), _train(train, torch_optim=True)
    pairs = zip(ours.state_dict().items(), torchs.state_dict().items(), strict=True)
    for (name, a), (_, b) in pairs:
        assert torch.equal(a, b), name
    # the updates did something, and the unused head kept its initial weights
    assert not torch.equal(ours.body[0].weight, _net(0).body[0].weight)
    assert torch.equal(ours.unused.weight, _net(0).unused.weight)


def test_milestones_are_multisteplrs():
    lrs = [0.1]
    for epoch in range(1, 7):
        lrs.append(optim.milestone_lr(lrs[-1], epoch, [2, 4, 4], 0.5))
    assert lrs == [0.1, 0.1, 0.05, 0.05, 0.05 * 0.5 ** 2, 0.05 * 0.5 ** 2, 0.05 * 0.5 ** 2]


def test_a_training_step_does_not_import_the_compiler():
    """The point of deepleak/optim.py: torch.optim imports torch._dynamo (~1 s per job)."""
    code = (
        "import sys, torch; from torch import nn; from deepleak import training\n"
        "for recipe in ({'optimizer': 'adam', 'lr': 1e-3}, {'optimizer': 'sgd', 'lr': 0.1, "
        "'momentum': 0.9}):\n"
        "    net = nn.Linear(3, 2); opt = training.make_optimizer(net, recipe)\n"
        "    net(torch.randn(4, 3)).sum().backward(); opt.step(); opt.zero_grad()\n"
        "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(SCRIPTS), "PATH": ""}).stdout
    assert out.strip() == "False"
    # and the check can fail: torch.optim does import it
    code = "import sys, torch; torch.optim.Adam(torch.nn.Linear(2, 2).parameters()); " \
           "print('torch._dynamo' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "True"
