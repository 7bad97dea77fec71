"""K models trained as one batched model (deepleak/batched.py) against K models trained one after
the other with training.train_epoch / training.fit.

Run from the repository root: python -m pytest tests/test_batched.py
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from deepleak import batched, cnn, models, training

ADAM = {"optimizer": "adam", "lr": 0.01, "batch_size": 16}
SGD = {"optimizer": "sgd", "lr": 0.05, "batch_size": 16, "momentum": 0.9, "weight_decay": 1e-3}
ADAM_WD = {**ADAM, "weight_decay": 1e-3}
# float32, a few dozen steps: the batched and the single matrix products may sum in another order,
# and Adam divides by sqrt(v), which magnifies that rounding on near-zero gradients (measured: FC
# 6e-8, convnet 5e-6, whose vmapped convolutions run as one grouped convolution).
ATOL = {"fc": 1e-6, "convnet": 5e-5}


def _fc(d=20, classes=7):
    return models.FCNet(d, classes, hidden=(32, 16))


def _convnet():
    return cnn.ConvNet((3, 8, 8), 5, channels=(4, 8), hidden=(16,), mean=(0.5,) * 3,
                       std=(0.25,) * 3)


def _data(n, shape, classes, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, *shape, generator=g), torch.randint(0, classes, (n,), generator=g)


def _gens(seeds):
    return [torch.Generator().manual_seed(s) for s in seeds]


def _pool(data):
    return batched.Pool([X for X, _ in data], [y for _, y in data])


def _sequential(make_net, states, data, train, seeds, epochs=1):
    """Each model alone: load its state, one torch optimizer, ``epochs`` of train_epoch."""
    out, losses = [], []
    for state, (X, y), gen in zip(states, data, _gens(seeds), strict=True):
        net = make_net()
        net.load_state_dict(state)
        opt = training.make_optimizer(net, train)
        for _ in range(epochs):
            losses.append(training.train_epoch(net, opt, X, y, train["batch_size"], gen))
        out.append({k: v.detach().clone() for k, v in net.state_dict().items()})
    return out, losses


def _batched(make_net, states, data, train, seeds, epochs=1):
    stack = batched.Stack(make_net(), states)
    pool = _pool(data)
    opt = batched.make_optimizer(stack, train)
    gens = _gens(seeds)
    losses = [batched.train_epoch(stack, opt, pool, train["batch_size"], gens)
              for _ in range(epochs)]
    return [stack.state(k) for k in range(len(stack))], losses


def _max_diff(a, b):
    return max(float((x[k].double() - y[k].double()).abs().max()) for x, y in zip(a, b, strict=True)
               for k in x)


def _setup(make_net, sizes, shape, classes, K_seed=0):
    states = []
    for k in range(len(sizes)):  # each model starts from its own state
        torch.manual_seed(100 + k + K_seed)
        states.append(make_net().state_dict())
    data = [_data(n, shape, classes, seed=10 + k) for k, n in enumerate(sizes)]
    return states, data


CASES = [
    ("fc", _fc, (20,), 7),
    ("convnet", _convnet, (3, 8, 8), 5),
]


@pytest.mark.parametrize("train", [ADAM, ADAM_WD, SGD], ids=["adam", "adam_wd", "sgd_momentum"])
@pytest.mark.parametrize("name, make_net, shape, classes", CASES, ids=[c[0] for c in CASES])
def test_one_batched_epoch_equals_k_sequential_epochs(name, make_net, shape, classes, train):
    sizes = [50, 50, 50, 50]  # 50 = 3 x 16 + 2: a short last batch
    states, data = _setup(make_net, sizes, shape, classes)
    seeds = [7, 8, 9, 10]
    seq, seq_loss = _sequential(make_net, states, data, train, seeds)
    bat, bat_loss = _batched(make_net, states, data, train, seeds)
    assert _max_diff(seq, bat) < ATOL[name]
    np.testing.assert_allclose(bat_loss[0], seq_loss, rtol=1e-5)
    # the models did move (a test that compares two untrained copies proves nothing)
    assert _max_diff(states, seq) > 1e-3


def test_unequal_record_counts_and_several_epochs():
    """Padding and held-still models: 50, 23 and 9 records give 4, 2 and 1 batches of 16; over three
    epochs each model's Adam step count differs (its bias corrections too)."""
    sizes = [50, 23, 9]
    states, data = _setup(_fc, sizes, (20,), 7)
    seeds = [1, 2, 3]
    seq, seq_loss = _sequential(_fc, states, data, ADAM, seeds, epochs=3)
    bat, bat_loss = _batched(_fc, states, data, ADAM, seeds, epochs=3)
    assert _max_diff(seq, bat) < ATOL["fc"]
    np.testing.assert_allclose(np.stack(bat_loss).T.ravel(), seq_loss, rtol=1e-5)


def test_sgd_with_unequal_record_counts():
    sizes = [40, 17]
    states, data = _setup(_fc, sizes, (20,), 7)
    seq, _ = _sequential(_fc, states, data, SGD, [4, 5], epochs=2)
    bat, _ = _batched(_fc, states, data, SGD, [4, 5], epochs=2)
    assert _max_diff(seq, bat) < ATOL["fc"]


def test_a_model_given_another_generator_ends_elsewhere():
    """The comparison can fail: one model's batch order drawn from another seed moves it (and it
    alone) away from its sequential twin."""
    sizes = [50, 50, 50]
    states, data = _setup(_fc, sizes, (20,), 7)
    seq, _ = _sequential(_fc, states, data, ADAM, [7, 8, 9])
    bat, _ = _batched(_fc, states, data, ADAM, [7, 8, 99])
    assert _max_diff(seq[:2], bat[:2]) < ATOL["fc"]
    assert _max_diff(seq[2:], bat[2:]) > 1e-3


def test_fit_equals_training_fit_per_model():
    """Target and shadow trained together: ``batched.fit`` against ``training.fit`` (same seeds, a
    learning-rate milestone) on sets of different sizes."""
    train = {**ADAM, "epochs": 3, "lr_milestones": [2], "lr_gamma": 0.5}
    sizes = [60, 45]
    states, data = _setup(_fc, sizes, (20,), 7)
    seeds = [21, 22]
    alone = []
    for state, (X, y), seed in zip(states, data, seeds, strict=True):
        net = _fc()
        net.load_state_dict(state)
        net, _ = training.fit(net, X, y, X[:5], y[:5], train=train, seed=seed)
        alone.append(net.state_dict())
    stack = batched.Stack(_fc(), states)
    losses = batched.fit(stack, _pool(data), train, _gens(seeds))
    assert losses.shape == (3, 2)
    assert _max_diff(alone, [stack.state(k) for k in range(2)]) < ATOL["fc"]


def test_stack_round_trips_states_and_nets():
    nets = []
    for k in range(3):
        torch.manual_seed(k)
        nets.append(_fc())
    stack = batched.Stack.of(nets)
    assert len(stack) == 3
    other = _fc()
    stack.load_into(1, other)
    assert all(torch.equal(other.state_dict()[k], nets[1].state_dict()[k]) for k in stack.keys)
    stack.load(2, nets[0].state_dict())
    assert all(torch.equal(stack.state(2)[k], nets[0].state_dict()[k]) for k in stack.keys)
    X = torch.rand(3, 4, 20)
    with torch.no_grad():
        expected = torch.stack([nets[0](X[0]), nets[1](X[1]), nets[0](X[2])])
        assert torch.allclose(stack.logits(X), expected, atol=1e-6)


def test_batch_norm_needs_equal_record_counts():
    net = cnn.ResNet(8, 5, block="basic", in_channels=3)
    assert batched.supports(net, [10, 10]) and not batched.supports(net, [10, 9])
    assert batched.supports(_fc(), [10, 9])
    stack = batched.Stack(net, [net.state_dict()] * 2)
    pool = batched.Pool([torch.rand(10, 3, 32, 32), torch.rand(9, 3, 32, 32)],
                        [torch.zeros(10, dtype=torch.long), torch.zeros(9, dtype=torch.long)])
    with pytest.raises(ValueError, match="batch-norm"):
        batched.train_epoch(stack, batched.make_optimizer(stack, ADAM), pool, 4, _gens([1, 2]))


def test_divergence_names_the_model():
    states, data = _setup(_fc, [20, 20], (20,), 7)
    data[1] = (data[1][0] * float("nan"), data[1][1])
    stack = batched.Stack(_fc(), states)
    pool = _pool(data)
    with pytest.raises(training.TrainingDiverged, match=r"model\(s\) \[1\]"):
        batched.train_epoch(stack, batched.make_optimizer(stack, ADAM), pool, 16, _gens([1, 2]))


@pytest.mark.parametrize("train", [ADAM_WD, SGD], ids=["adam_wd", "sgd_momentum"])
def test_optimizer_on_a_stack_is_torch_optim_on_each_slice(train):
    """Given the same gradients, the stacked optimizer makes torch.optim's updates slice by slice,
    also when one model sits steps out (its own step count). Any difference between batched and
    sequential training therefore comes from the gradients' summation order (which Adam's
    normalisation can magnify: a gradient at rounding level, ~1e-10, still moves a weight by about
    lr * 1e-10 / eps)."""
    torch.manual_seed(0)
    K, shapes = 3, [(4, 5), (5,)]
    stacked = [torch.randn(K, *s, requires_grad=True) for s in shapes]
    # model k alone: its slices as a module's parameters, training.make_optimizer's optimizer
    singles = [torch.nn.ParameterList([p[k].detach().clone() for p in stacked]) for k in range(K)]
    refs = [training.make_optimizer(m, train) for m in singles]
    opt = batched.make_optimizer(SimpleNamespace(params=dict(enumerate(stacked))), train)
    for step in range(6):
        active = None if step < 3 else torch.tensor([True, step % 2 == 0, True])
        grads = [torch.randn(K, *s) for s in shapes]
        for p, g in zip(stacked, grads, strict=True):
            p.grad = g.clone()
        opt.step(active)
        for k in range(K):
            if active is None or active[k]:
                for p, g in zip(singles[k], grads, strict=True):
                    p.grad = g[k].clone()
                refs[k].step()
    for k in range(K):
        for p, q in zip(stacked, singles[k], strict=True):
            # bit for bit on the machine this was written on; a vectorised and a scalar loop
            # may round an elementwise op differently elsewhere: one ulp is allowed
            assert torch.allclose(p[k], q, rtol=1e-6, atol=1e-7)


def test_batched_is_as_close_to_float64_as_sequential_float32():
    """What "up to floating-point order" means in numbers: against the same epochs computed in
    float64, the batched float32 models are off by no more than the sequential float32 ones (up to
    a small factor), so batching adds no error of its own beyond float32 rounding."""
    sizes = [64, 64, 40]
    states, data = _setup(_fc, sizes, (20,), 7)
    seeds = [3, 4, 5]
    seq32, _ = _sequential(_fc, states, data, ADAM, seeds, epochs=2)
    bat32, _ = _batched(_fc, states, data, ADAM, seeds, epochs=2)
    states64 = [{k: v.double() for k, v in s.items()} for s in states]
    data64 = [(X.double(), y) for X, y in data]
    seq64, _ = _sequential(lambda: _fc().double(), states64, data64, ADAM, seeds, epochs=2)
    err_seq, err_bat = _max_diff(seq32, seq64), _max_diff(bat32, seq64)
    assert err_seq > 0  # float32 does round
    assert err_bat <= 4 * err_seq, (err_bat, err_seq)


def test_augmentation_draws_from_each_model_generator_as_alone():
    """crop_flip (the image models' augmentation) draws from each model's generator per batch, after
    its permutation, as training.train_epoch does; with unequal record counts only real records are
    augmented."""
    augment = training.augmentation("crop_flip")
    sizes = [20, 13]
    states, data = _setup(_convnet, sizes, (3, 8, 8), 5)
    out = []
    for state, (X, y), gen in zip(states, data, _gens([1, 2]), strict=True):
        net = _convnet()
        net.load_state_dict(state)
        training.train_epoch(net, training.make_optimizer(net, ADAM), X, y, 8, gen, augment)
        out.append(net.state_dict())
    stack = batched.Stack(_convnet(), states)
    batched.train_epoch(stack, batched.make_optimizer(stack, ADAM), _pool(data), 8, _gens([1, 2]),
                        augment)
    assert _max_diff(out, [stack.state(k) for k in range(2)]) < ATOL["convnet"]
