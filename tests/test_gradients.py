"""Every fast per-example gradient path against a per-record autograd loop.

Run from the repository root: PYTHONPATH=scripts python -m pytest tests/test_gradients.py
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from deepleak.gradients import (
    conv_per_example_grads,
    gradient_component_conv,
    linear_factors,
    linear_grad_norm,
    materialise_linear,
    per_example_grads_loop,
)
from deepleak.models import FCNet
from torch import nn

N = 37  # not a multiple of the batch / chunk sizes below, so a last partial batch is exercised


def _fc(double: bool = True, seed: int = 0) -> FCNet:
    torch.manual_seed(seed)
    model = FCNet(20, 10, hidden=(32, 16, 8, 8))
    return model.double() if double else model


def _fc_data(seed: int = 1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, 20, generator=g, dtype=dtype)
    y = torch.randint(0, 10, (N,), generator=g)
    return x, y


class TinyCNN(nn.Module):
    """Two conv layers (one with batch norm, so buffers must reach functional_call), linear head."""

    def __init__(self, n_classes: int = 5):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2)
        self.fc = nn.Linear(6 * 3 * 3, n_classes)
        self.layer_names = ["conv1", "conv2", "fc"]

    def forward(self, x):
        h = torch.tanh(self.bn1(self.conv1(x)))
        h = torch.relu(self.conv2(h))
        return self.fc(h.flatten(1))


def _cnn():
    torch.manual_seed(2)
    model = TinyCNN()
    with torch.no_grad():  # non-trivial running statistics: eval mode must use them
        model.bn1.running_mean.uniform_(-0.5, 0.5)
        model.bn1.running_var.uniform_(0.5, 2.0)
    model = model.double()
    g = torch.Generator().manual_seed(3)
    x = torch.randn(N, 3, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (N,), generator=g)
    return model, x, y


def _all_params(model, layers):
    return [f"{name}.{p}" for name in layers for p in ("weight", "bias")]


# ---------------------------------------------------------------------------------------- linear
def test_linear_factors_equal_loop_on_every_layer_float64():
    model = _fc()
    x, y = _fc_data()
    layers = model.layer_names
    fac = linear_factors(model, x, y, layers, batch_size=16, dtype=None)
    ref = per_example_grads_loop(model, x, y, _all_params(model, layers))
    assert fac["logits"].dtype == np.float64
    for name in layers:
        w = getattr(model, name).weight
        grad_w = materialise_linear(fac["h_in"][name], fac["delta"][name])
        assert grad_w.shape == (N, *w.shape)
        assert np.abs(ref[f"{name}.weight"]).max() > 1e-4  # the comparison is not vacuous
        np.testing.assert_allclose(grad_w, ref[f"{name}.weight"], rtol=0, atol=1e-10, err_msg=name)
        np.testing.assert_allclose(fac["delta"][name], ref[f"{name}.bias"], rtol=0, atol=1e-10,
                                   err_msg=name)
    np.testing.assert_allclose(fac["loss"], ref["loss"], rtol=0, atol=1e-10)


def test_linear_factors_float32_default_within_1e5():
    """The default path (float32 model, float32 arrays) meets the issue's 1e-5 on every layer."""
    model = _fc(double=False)
    x, y = _fc_data(dtype=torch.float32)
    fac = linear_factors(model, x, y, model.layer_names)
    names = _all_params(model, model.layer_names)
    ref = per_example_grads_loop(model.double(), x.double(), y, names)
    for name in model.layer_names:
        assert fac["h_in"][name].dtype == np.float32 and fac["delta"][name].dtype == np.float32
        grad_w = materialise_linear(fac["h_in"][name].astype(np.float64), fac["delta"][name])
        np.testing.assert_allclose(grad_w, ref[f"{name}.weight"], rtol=0, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(fac["delta"][name], ref[f"{name}.bias"], rtol=0, atol=1e-5)


def test_linear_factors_shapes_inputs_and_batching():
    model = _fc()
    x, y = _fc_data()
    a = linear_factors(model, x, y, ["fc5", "fc2"], batch_size=1024, dtype=None)
    b = linear_factors(model, x.numpy(), y.numpy(), ["fc5", "fc2"], batch_size=5, dtype=None)
    assert set(a["h_in"]) == {"fc5", "fc2"} and set(a["delta"]) == {"fc5", "fc2"}
    assert a["h_in"]["fc2"].shape == (N, 32) and a["delta"]["fc2"].shape == (N, 16)
    assert a["h_in"]["fc5"].shape == (N, 8) and a["delta"]["fc5"].shape == (N, 10)
    assert a["logits"].shape == (N, 10) and a["loss"].shape == (N,)
    for key in ("logits", "loss"):
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-12)
    for part in ("h_in", "delta"):
        for name in ("fc5", "fc2"):
            np.testing.assert_allclose(a[part][name], b[part][name], rtol=0, atol=1e-12)
    # h_in of a layer is the previous layer's activation; the last delta is softmax - onehot
    with torch.no_grad():
        logits, acts = model(x, return_activations=True)
    np.testing.assert_allclose(a["h_in"]["fc2"], acts[0].numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(a["logits"], logits.numpy(), rtol=0, atol=1e-12)
    p_minus_y = torch.softmax(logits, 1) - F.one_hot(y, 10).double()
    np.testing.assert_allclose(a["delta"]["fc5"], p_minus_y.numpy(), rtol=0, atol=1e-12)


def test_per_example_loss_equals_cross_entropy_none():
    model = _fc()
    x, y = _fc_data()
    expected = F.cross_entropy(model(x), y, reduction="none").detach().numpy()
    fac = linear_factors(model, x, y, ["fc5"], batch_size=8, dtype=None)
    np.testing.assert_allclose(fac["loss"], expected, rtol=0, atol=1e-12)
    vm = conv_per_example_grads(model, x, y, ["fc5.bias"], chunk_size=8, dtype=None)
    np.testing.assert_allclose(vm["loss"], expected, rtol=0, atol=1e-12)
    loop = per_example_grads_loop(model, x, y, ["fc5.bias"])
    np.testing.assert_allclose(loop["loss"], expected, rtol=0, atol=1e-12)


def test_linear_grad_norm_equals_materialised_norm():
    model = _fc()
    x, y = _fc_data()
    fac = linear_factors(model, x, y, model.layer_names, dtype=None)
    for name in model.layer_names:
        h, d = fac["h_in"][name], fac["delta"][name]
        full = materialise_linear(h, d)
        expected = np.sqrt((full ** 2).sum(axis=(1, 2)))
        np.testing.assert_allclose(linear_grad_norm(h, d), expected, rtol=1e-12, atol=0)
        with_bias = np.sqrt((full ** 2).sum(axis=(1, 2)) + (d ** 2).sum(1))
        np.testing.assert_allclose(linear_grad_norm(h, d, include_bias=True), with_bias, rtol=1e-12)
        # torch tensors in, torch tensor out, same numbers
        t = linear_grad_norm(torch.from_numpy(h), torch.from_numpy(d))
        assert isinstance(t, torch.Tensor)
        np.testing.assert_allclose(t.numpy(), expected, rtol=1e-12)


def test_gradient_component_conv_equals_conv2d_on_materialised_matrix():
    torch.manual_seed(4)
    n, n_in, n_out, k = 6, 9, 7, 5
    h = torch.randn(n, n_in, dtype=torch.float64)
    d = torch.randn(n, n_out, dtype=torch.float64)
    conv = nn.Conv2d(1, k, (1, n_out)).double()
    # Table XIV: the image is n_in x n_out, row i = input unit i, i.e. the transposed dL/dW.
    image = materialise_linear(h, d).transpose(1, 2).unsqueeze(1)  # [n, 1, n_in, n_out]
    expected = conv(image).squeeze(-1).permute(0, 2, 1)  # [n, K, n_in, 1] -> [n, n_in, K]
    got = gradient_component_conv(h, d, conv.weight.view(k, n_out), conv.bias)
    assert got.shape == (n, n_in, k)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
    # differentiable w.r.t. the kernels, with the same gradient as the convolution
    g_got = torch.autograd.grad(got.square().sum(), conv.weight)[0]
    g_exp = torch.autograd.grad(expected.square().sum(), conv.weight)[0]
    torch.testing.assert_close(g_got, g_exp, rtol=0, atol=1e-10)
    # numpy path, no bias
    kernels_np = conv.weight.view(k, n_out).detach().numpy()
    got_np = gradient_component_conv(h.numpy(), d.numpy(), kernels_np)
    np.testing.assert_allclose(got_np + conv.bias.detach().numpy(), expected.detach().numpy(),
                               rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="1 x n_out"):
        gradient_component_conv(h, d, torch.randn(k, n_out + 1, dtype=torch.float64))


# ------------------------------------------------------------------------------------ torch.func
def test_conv_per_example_grads_equal_loop_on_tiny_cnn_and_chunking_is_invisible():
    model, x, y = _cnn()
    names = ["conv1.weight", "conv1.bias", "bn1.weight", "conv2.weight", "conv2.bias", "fc.weight"]
    ref = per_example_grads_loop(model, x, y, names)
    chunked = conv_per_example_grads(model, x, y, names, chunk_size=8, dtype=None)
    whole = conv_per_example_grads(model, x, y, names, chunk_size=1000, dtype=None)
    one = conv_per_example_grads(model, x, y, names, chunk_size=1, dtype=None)
    params = dict(model.named_parameters())
    for name in names:
        assert chunked[name].shape == (N, *params[name].shape)
        assert np.abs(ref[name]).max() > 1e-4
        np.testing.assert_allclose(chunked[name], ref[name], rtol=0, atol=1e-10, err_msg=name)
        np.testing.assert_allclose(whole[name], chunked[name], rtol=0, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(one[name], chunked[name], rtol=0, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(chunked["loss"], ref["loss"], rtol=0, atol=1e-10)
    # float32 default output meets 1e-5
    f32 = conv_per_example_grads(model, x, y, ["conv1.weight"], chunk_size=16)
    assert f32["conv1.weight"].dtype == np.float32
    np.testing.assert_allclose(f32["conv1.weight"], ref["conv1.weight"], rtol=0, atol=1e-5)


def test_linear_factors_on_cnn_head():
    """linear_factors works on any model with an nn.Linear (here after conv layers, batch norm)."""
    model, x, y = _cnn()
    fac = linear_factors(model, x, y, ["fc"], batch_size=10, dtype=None)
    ref = per_example_grads_loop(model, x, y, ["fc.weight", "fc.bias"])
    np.testing.assert_allclose(materialise_linear(fac["h_in"]["fc"], fac["delta"]["fc"]),
                               ref["fc.weight"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(fac["delta"]["fc"], ref["fc.bias"], rtol=0, atol=1e-10)


def test_conv_per_example_grads_equal_loop_on_fcnet():
    model = _fc()
    x, y = _fc_data()
    names = _all_params(model, model.layer_names)
    vm = conv_per_example_grads(model, x, y, names, chunk_size=10, dtype=None)
    ref = per_example_grads_loop(model, x, y, names)
    for name in names:
        np.testing.assert_allclose(vm[name], ref[name], rtol=0, atol=1e-10, err_msg=name)


# ---------------------------------------------------------------------------------- side effects
@pytest.mark.parametrize("training", [True, False])
def test_model_mode_and_grad_untouched(training):
    model, x, y = _cnn()
    model.train(training)
    model.bn1.eval()  # a deliberately mixed-mode model must come back mixed
    sentinel = {name: torch.full_like(p, 7.0) for name, p in model.named_parameters()
                if name.startswith("conv1")}
    for name, p in model.named_parameters():
        p.grad = sentinel[name].clone() if name in sentinel else None
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = {name: m.training for name, m in model.named_modules()}

    linear_factors(model, x, y, ["fc"])
    conv_per_example_grads(model, x, y, ["conv1.weight", "fc.bias"])
    per_example_grads_loop(model, x, y, ["conv2.weight"])

    assert {name: m.training for name, m in model.named_modules()} == modes
    assert model.training is training and model.bn1.training is False
    for name, p in model.named_parameters():
        if name in sentinel:
            assert torch.equal(p.grad, sentinel[name]), name
        else:
            assert p.grad is None, name
    for k, v in model.state_dict().items():  # batch-norm running stats are not updated either
        assert torch.equal(v, before[k]), k


def test_eval_mode_is_used_even_if_model_is_training():
    """In train mode batch norm would use batch statistics and couple the records; the results must
    equal those of the same model put in eval mode beforehand."""
    model, x, y = _cnn()
    model.train()
    a = linear_factors(model, x, y, ["fc"], batch_size=10, dtype=None)
    b = conv_per_example_grads(model, x, y, ["conv1.weight"], chunk_size=10, dtype=None)
    model.eval()
    a2 = linear_factors(model, x, y, ["fc"], batch_size=37, dtype=None)
    b2 = conv_per_example_grads(model, x, y, ["conv1.weight"], chunk_size=37, dtype=None)
    np.testing.assert_allclose(a["delta"]["fc"], a2["delta"]["fc"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(b["conv1.weight"], b2["conv1.weight"], rtol=0, atol=1e-12)


def test_frozen_parameters_still_give_factors():
    model = _fc()
    for p in model.parameters():
        p.requires_grad_(False)
    x, y = _fc_data()
    fac = linear_factors(model, x, y, ["fc1", "fc5"], dtype=None)
    for p in model.parameters():
        p.requires_grad_(True)
    ref = per_example_grads_loop(model, x, y, ["fc1.bias", "fc5.bias"])
    np.testing.assert_allclose(fac["delta"]["fc1"], ref["fc1.bias"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(fac["delta"]["fc5"], ref["fc5.bias"], rtol=0, atol=1e-10)


# ---------------------------------------------------------------------------------------- errors
def test_clear_errors_for_bad_names():
    model = _fc()
    x, y = _fc_data()
    with pytest.raises(ValueError, match=r"\['act'\].*nn.Linear layers are \['fc1', 'fc2'"):
        linear_factors(model, x, y, ["fc5", "act"])
    with pytest.raises(ValueError, match="fc9"):
        linear_factors(model, x, y, ["fc9"])
    with pytest.raises(ValueError, match=r"fc1\.kernel.*parameters are \['fc1.weight'"):
        conv_per_example_grads(model, x, y, ["fc1.kernel"])
    with pytest.raises(ValueError, match="fc1.kernel"):
        per_example_grads_loop(model, x, y, ["fc1.kernel"])
    with pytest.raises(ValueError, match="records"):
        linear_factors(model, x, y[:-1], ["fc5"])
