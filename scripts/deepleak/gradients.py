"""Per-example gradients of the target model's loss, fast: the attack feature dL/dW_i of every
chosen layer (§II-A, Fig. 1).

The white-box attack needs dL_i/dW for every record i and every chosen layer. A per-record backward
pass (what the authors' released code and ML Privacy Meter do) is far too slow, and materialising
every layer's gradient costs ~5.3 MB per record for the Purchase FC model
(float32, 1.3M weights). So:

* **Linear layers** (:func:`linear_factors`): for ``out = h_in @ W.T + b`` the per-example gradient
  is an outer product, ``dL_i/dW = delta_i (x) h_in_i`` with ``delta_i = dL_i/d out_i``, and
  ``dL_i/db = delta_i``. One batched forward pass (forward hooks capture every chosen layer's input
  and output) and one backward pass of the *summed* loss w.r.t. the captured outputs yield both
  factors for every record and every layer. Summing is exact because the model runs in eval mode (no
  batch statistics, no dropout), so record i's loss depends only on record i and d(sum_j L_j)/d
  out_i = dL_i/d out_i. We keep the factors (n_in + n_out numbers instead of n_in * n_out) and
  derive from them:

  - the gradient norm, ``||dL/dW||_F = ||delta|| * ||h_in||`` (:func:`linear_grad_norm`; the
    last-layer gradient norm of Figs 2-4);
  - the paper's gradient component, a convolution of the gradient matrix with kernels spanning one
    row (Table XIV), computed exactly from the factors (:func:`gradient_component_conv`);
  - the full matrix only where really needed (:func:`materialise_linear`: tests, small layers).

* **Other layers** (conv kernels, ...): :func:`conv_per_example_grads` uses ``torch.func``
  (``functional_call`` + ``vmap`` over ``grad``) in chunks, so memory stays bounded;
  :func:`conv_grad_features` gets them for whole chunks from one forward and backward pass (unfolded
  inputs, the conv analogue of the linear factors) and reduces each chunk at once to what the attack
  stores for a conv layer.

* :func:`per_example_grads_loop` is the slow reference (one backward pass per record); the test
  suite checks every fast path against it.

Return types: :func:`linear_factors`, :func:`conv_per_example_grads` and
:func:`per_example_grads_loop` return **numpy arrays** (ready for ``np.savez``), by default float32;
pass ``dtype=None`` to keep the model's own precision (the tests do, with a float64 model).
:func:`linear_grad_norm`, :func:`materialise_linear` and :func:`gradient_component_conv` accept
numpy arrays or torch tensors and return the same kind (``gradient_component_conv`` is
differentiable: it runs inside the attack model).

Nothing here knows about Snakemake; no function modifies the model (its training mode is restored
and no parameter ``.grad`` is touched).
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepleak.variants import CONV_GRADIENT_MODES

__all__ = [
    "linear_factors",
    "linear_grad_norm",
    "materialise_linear",
    "gradient_component_conv",
    "conv_per_example_grads",
    "per_example_grads_loop",
    "conv_grad_features",
    "CONV_GRADIENT_MODES",
]


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` (and every submodule) in eval mode, then restore each module's previous mode.

    Eval mode is what makes per-example gradients well defined (no dropout noise, batch norm uses
    its running statistics, so records are independent). Submodule modes are restored one by one
    because a model may deliberately mix modes (e.g. frozen batch norm inside a training model).
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, was_training in modes:
            m.training = was_training


def _model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        return p.device, p.dtype
    for b in model.buffers():
        return b.device, b.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def _as_inputs(x, y, model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn ``x``, ``y`` (numpy or torch) into tensors on the model's device; float inputs take the
    model's dtype (so a ``.double()`` model gets float64 inputs)."""
    device, dtype = _model_device_dtype(model)
    x = torch.as_tensor(x, device=device)
    if x.is_floating_point() or x.dtype == torch.bool:
        x = x.to(dtype)
    y = torch.as_tensor(y, device=device).long()
    if y.dim() != 1:
        raise ValueError(f"y must be a 1-d vector of class indices, got shape {tuple(y.shape)}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} records but y has {y.shape[0]} labels")
    return x, y


def _logits(out) -> torch.Tensor:
    """A target model's forward may return ``logits`` or ``(logits, activations)``."""
    return out[0] if isinstance(out, (tuple, list)) else out


def _to_numpy(t: torch.Tensor, dtype) -> np.ndarray:
    a = t.detach().cpu().numpy()
    return a if dtype is None else a.astype(dtype, copy=False)


def _out_dtype(dtype, model: nn.Module):
    """numpy dtype of the arrays we return: ``dtype``, or the model's own precision when None."""
    if dtype is not None:
        return np.dtype(dtype)
    return torch.empty((), dtype=_model_device_dtype(model)[1]).numpy().dtype


def _lib(a):
    """numpy or torch namespace matching ``a`` (so the factor utilities work on both)."""
    return torch if isinstance(a, torch.Tensor) else np


# --------------------------------------------------------------------------------------------------
# linear layers: factored per-example gradients
# --------------------------------------------------------------------------------------------------
def linear_factors(model: nn.Module, x, y, layers: Sequence[str], *, batch_size: int = 1024,
                   dtype=np.float32) -> dict:
    """Per-example gradient factors of the cross-entropy loss for the chosen ``nn.Linear`` layers.

    One forward and one backward pass per batch of ``batch_size`` records covers every layer in
    ``layers``: forward hooks capture each layer's input ``h_in`` and output ``z``,
    and ``torch.autograd.grad(sum_i L_i, [z, ...])`` gives ``delta_i = dL_i/dz_i`` (exact because
    the model runs in eval mode, so records are independent). The per-example gradients are then
    ``dL_i/dW = outer(delta_i, h_in_i)`` (shape of ``W``: [n_out, n_in]) and ``dL_i/db = delta_i``.

    Args:
        model: the target model; ``model(x)`` returns logits (or ``(logits, activations)``). Put
            in eval mode for the call; every module's mode is restored afterwards. Parameter
            ``.grad`` is not touched (we differentiate w.r.t. the layer outputs, not via
            ``.backward()``).
        x: inputs [n, ...] (numpy or torch).
        y: integer class labels [n].
        layers: names of ``nn.Linear`` submodules (as in ``model.named_modules()``, e.g. ``"fc5"``).
        batch_size: records per forward/backward pass (bounds memory; does not change the result).
        dtype: numpy dtype of the returned arrays (float32 for saving); None keeps the model's
            precision.

    Returns:
        dict of numpy arrays:
          ``"logits"`` [n, C]; ``"loss"`` [n] (per-example cross-entropy);
          ``"h_in"``  {layer: [n, n_in]}  (the layer's input);
          ``"delta"`` {layer: [n, n_out]} (dL_i / d(layer output)_i, i.e. the bias gradient).
    """
    layers = list(layers)
    modules = dict(model.named_modules())
    linear_names = [name for name, m in modules.items() if isinstance(m, nn.Linear)]
    bad = [name for name in layers if not isinstance(modules.get(name), nn.Linear)]
    if bad:
        raise ValueError(f"layer(s) {bad} are not nn.Linear modules of {type(model).__name__}; "
                         f"its nn.Linear layers are {linear_names}")
    if len(set(layers)) != len(layers):
        raise ValueError(f"duplicate layer names in {layers}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")

    x, y = _as_inputs(x, y, model)
    n = x.shape[0]
    out_dtype = _out_dtype(dtype, model)
    # Preallocated outputs: filled batch by batch, so peak memory is one copy of the result.
    res = {
        "logits": None,
        "loss": np.empty(n, dtype=out_dtype),
        "h_in": {name: np.empty((n, modules[name].in_features), dtype=out_dtype)
                 for name in layers},
        "delta": {name: np.empty((n, modules[name].out_features), dtype=out_dtype)
                  for name in layers},
    }

    captured: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def make_hook(name):
        def hook(module, args, output):
            if name in captured:
                raise RuntimeError(f"layer {name!r} was called twice in one forward pass (shared "
                                   "weights); its per-example gradient is not one outer product")
            h_in = args[0]
            if h_in.dim() != 2:
                raise ValueError(f"layer {name!r} received input of shape {tuple(h_in.shape)}; "
                                 "linear_factors needs [batch, in_features] (flatten first)")
            captured[name] = (h_in, output)
        return hook

    handles = [modules[name].register_forward_hook(make_hook(name)) for name in layers]
    try:
        with _eval_mode(model), torch.enable_grad():
            for start in range(0, n, batch_size):
                stop = min(start + batch_size, n)
                xb = x[start:stop]
                if xb.is_floating_point():
                    # Ensures every layer output is in the autograd graph even if the model's
                    # parameters are frozen (requires_grad=False); no gradient w.r.t. x is
                    # computed (autograd.grad runs only the nodes the requested outputs need).
                    xb = xb.detach().requires_grad_(True)
                captured.clear()
                logits = _logits(model(xb))
                missing = [name for name in layers if name not in captured]
                if missing:
                    raise RuntimeError(f"layer(s) {missing} were not called in the model's "
                                       "forward pass")
                loss = F.cross_entropy(logits, y[start:stop], reduction="none")
                outputs = [captured[name][1] for name in layers]
                # Summed loss: d(sum_j L_j)/dz_i = dL_i/dz_i in eval mode. autograd.grad (not
                # .backward) leaves parameter .grad alone and only runs the part of the graph these
                # outputs need.
                deltas = torch.autograd.grad(loss.sum(), outputs)
                if res["logits"] is None:
                    res["logits"] = np.empty((n, logits.shape[1]), dtype=out_dtype)
                res["logits"][start:stop] = _to_numpy(logits, out_dtype)
                res["loss"][start:stop] = _to_numpy(loss, out_dtype)
                for name, d in zip(layers, deltas, strict=True):
                    res["h_in"][name][start:stop] = _to_numpy(captured[name][0], out_dtype)
                    res["delta"][name][start:stop] = _to_numpy(d, out_dtype)
    finally:
        for h in handles:
            h.remove()
        captured.clear()
    if res["logits"] is None:  # n == 0: no batch ran; an empty pass gives the number of classes
        with torch.no_grad(), _eval_mode(model):
            res["logits"] = _to_numpy(_logits(model(x)), out_dtype)
    return res


def linear_grad_norm(h_in, delta, include_bias: bool = False):
    """Frobenius norm of each record's linear-layer gradient from its factors, [n].

    ``||delta (x) h_in||_F = ||delta|| * ||h_in||`` (for the last layer, the norm of
    Figs 2-4, this is ``||softmax(z) - onehot(y)|| * ||h_penultimate||``). With ``include_bias``
    the bias gradient (= delta) is counted too: ``sqrt(||h_in||^2 + 1) * ||delta||``, the norm of
    the gradient w.r.t. ``[W | b]``.
    Accepts numpy arrays or torch tensors, returns the same kind.
    """
    xp = _lib(h_in)
    h_sq = (h_in * h_in).sum(1)
    if include_bias:
        h_sq = h_sq + 1
    return xp.sqrt(h_sq) * xp.sqrt((delta * delta).sum(1))


def materialise_linear(h_in, delta):
    """Full per-example weight gradients ``delta (x) h_in``, [n, n_out, n_in] (the shape of ``W``).

    For tests and small layers only: this is exactly the memory cost the factors avoid.
    Accepts numpy arrays or torch tensors, returns the same kind.
    """
    return delta[:, :, None] * h_in[:, None, :]


def gradient_component_conv(h_in, delta, kernels, bias=None):
    """The paper's gradient-component convolution, computed from the factors, [n, n_in, K].

    Table XIV: the gradient matrix is a 1-channel image of shape n_in x n_out (row i = input unit i,
    i.e. ``G = dL/dW.T = h_in (x) delta``), convolved with K kernels of size 1 x n_out, stride 1,
    so output[i, k] = sum_j G[i, j] * kernels[k, j] + bias[k] = h_in[i] * (delta . kernels[k]) +
    bias[k]. Hence the result is ``h_in[:, :, None] * (delta @ kernels.T)[:, None, :] + bias``:
    O(n_out * K + n_in * K) per record instead of O(n_in * n_out * K), and the matrix is never
    built. Equals ``nn.Conv2d(1, K, (1, n_out))`` on the [n, 1, n_in, n_out] image, output permuted
    from [n, K, n_in, 1] to [n, n_in, K], with ``kernels = conv.weight.view(K, n_out)`` and
    ``bias = conv.bias``.

    Args:
        h_in: [n, n_in] layer inputs; delta: [n, n_out] output gradients; kernels: [K, n_out];
        bias: [K] or None.
    Works on torch tensors (differentiable w.r.t. ``kernels`` and ``bias``: used inside the attack
    model's forward) and on numpy arrays.
    """
    if kernels.shape[-1] != delta.shape[-1]:
        raise ValueError(f"kernels have width {kernels.shape[-1]} but delta has {delta.shape[-1]} "
                         "output units; the paper's kernels span one full row (1 x n_out)")
    out = h_in[:, :, None] * (delta @ kernels.T)[:, None, :]
    return out if bias is None else out + bias


# --------------------------------------------------------------------------------------------------
# arbitrary parameters: torch.func, and the per-record reference loop
# --------------------------------------------------------------------------------------------------
def _check_param_names(model: nn.Module, param_names: Sequence[str]) -> dict[str, nn.Parameter]:
    params = dict(model.named_parameters())
    bad = [p for p in param_names if p not in params]
    if bad:
        raise ValueError(f"parameter(s) {bad} not found in {type(model).__name__}; "
                         f"its parameters are {list(params)}")
    if len(set(param_names)) != len(param_names):
        raise ValueError(f"duplicate parameter names in {list(param_names)}")
    return params


def conv_per_example_grads(model: nn.Module, x, y, param_names: Sequence[str], *,
                           chunk_size: int = 64, dtype=np.float32) -> dict:
    """Per-example gradients of arbitrary parameters (conv kernels, ...) with ``torch.func``.

    ``vmap(grad_and_value(loss_of_one_record))`` over chunks of ``chunk_size`` records:
    memory is bounded by one chunk's gradients plus the result. Parameters not in
    ``param_names`` and buffers (e.g. batch-norm running statistics) enter as constants. For
    ``nn.Linear`` layers prefer :func:`linear_factors` (measured: vmap over all FC layers is
    slower than even the loop on CPU).

    In float32, a record evaluated inside a vmapped chunk and alone may round differently (~1e-7);
    at a near-tie of a non-differentiable op (max-pool, ReLU at 0) that can route the gradient
    through another unit, so rare records may differ from :func:`per_example_grads_loop` by
    O(gradient). Both are valid; in float64 they agree (the benchmark shows this).

    Returns:
        dict of numpy arrays: ``name -> [n, *param.shape]`` for every name in ``param_names``, and
        ``"loss"`` [n] (per-example cross-entropy). ``dtype`` as in :func:`linear_factors`.
    """
    from torch.func import functional_call, grad_and_value, vmap

    param_names = list(param_names)
    if "loss" in param_names:
        raise ValueError("a parameter named 'loss' would clash with the returned per-example loss")
    params = _check_param_names(model, param_names)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    x, y = _as_inputs(x, y, model)
    n = x.shape[0]
    out_dtype = _out_dtype(dtype, model)

    wanted = {k: params[k].detach() for k in param_names}
    # Everything else is a constant of the per-record function (detached: no graph, no .grad).
    fixed = {k: v.detach() for k, v in params.items() if k not in wanted}
    fixed.update({k: v.detach() for k, v in model.named_buffers()})

    def loss_one(w: dict, xi: torch.Tensor, yi: torch.Tensor) -> torch.Tensor:
        # vmap strips the batch dimension; the model expects one, so add a batch of one record.
        logits = _logits(functional_call(model, {**fixed, **w}, (xi.unsqueeze(0),)))
        return F.cross_entropy(logits, yi.unsqueeze(0))

    per_example = vmap(grad_and_value(loss_one), in_dims=(None, 0, 0))

    res = {k: np.empty((n, *params[k].shape), dtype=out_dtype) for k in param_names}
    res["loss"] = np.empty(n, dtype=out_dtype)
    with _eval_mode(model):
        for start in range(0, n, chunk_size):
            stop = min(start + chunk_size, n)
            grads, loss = per_example(wanted, x[start:stop], y[start:stop])
            for k in param_names:
                res[k][start:stop] = _to_numpy(grads[k], out_dtype)
            res["loss"][start:stop] = _to_numpy(loss, out_dtype)
    return res


def per_example_grads_loop(model: nn.Module, x, y, param_names: Sequence[str], *,
                           dtype=None) -> dict:
    """Reference: one forward and backward pass per record, as the authors' released code and ML
    Privacy Meter do. Slow by design; used by the tests and the benchmark to check the fast
    paths.

    Uses ``torch.autograd.grad`` (no parameter ``.grad`` accumulation) in eval mode (restored
    after).

    Returns:
        dict of numpy arrays: ``name -> [n, *param.shape]`` and ``"loss"`` [n]. ``dtype=None``
        (default) keeps the model's precision.
    """
    param_names = list(param_names)
    if "loss" in param_names:
        raise ValueError("a parameter named 'loss' would clash with the returned per-example loss")
    params = _check_param_names(model, param_names)
    x, y = _as_inputs(x, y, model)
    n = x.shape[0]
    out_dtype = _out_dtype(dtype, model)
    targets = [params[k] for k in param_names]
    frozen = [k for k, p in zip(param_names, targets, strict=True) if not p.requires_grad]
    if frozen:
        raise ValueError(f"parameter(s) {frozen} have requires_grad=False; the reference loop "
                         "differentiates w.r.t. the parameters themselves")
    res = {k: np.empty((n, *params[k].shape), dtype=out_dtype) for k in param_names}
    res["loss"] = np.empty(n, dtype=out_dtype)
    with _eval_mode(model), torch.enable_grad():
        for i in range(n):  # the one deliberate loop over records: this is the slow reference
            loss = F.cross_entropy(_logits(model(x[i:i + 1])), y[i:i + 1])
            grads = torch.autograd.grad(loss, targets)
            for k, g in zip(param_names, grads, strict=True):
                res[k][i] = _to_numpy(g, out_dtype)
            res["loss"][i] = loss.item()
    return res


# --------------------------------------------------------------------------------------------------
# conv layers: per-example gradients reduced chunk by chunk (bounded memory and storage)
# --------------------------------------------------------------------------------------------------
# How the attack sees a conv layer's gradient (config ``standalone.conv_gradient``). The paper is
# silent (README, 'Where the paper is silent'), and a full per-example gradient is far too big to
# store for every record (AlexNet's conv5: 256 x 256 x 3 x 3 = 0.59M numbers per record):
#
# - ``channel_norms``: per output channel c, ||dL/dW_c|| (the norm over its C_in x kh x kw kernel)
#   and, when the layer has a bias, dL/db_c (exact: the bias gradient is C_out numbers). 1-2 numbers
#   per output channel, fed to an FC gradient component. The per-channel norms are the conv analogue
#   of the paper's observation that gradient *magnitudes* separate members (Figs 2-4).
# - ``kernel``: the whole weight gradient as the n_in x n_out matrix the paper's gradient component
#   convolves for FC layers (n_in = C_in * kh * kw, the im2col rows; n_out = C_out), so the same
#   1 x n_out kernels apply. Only for small layers: refused above KERNEL_MAX_FLOATS per record.
KERNEL_MAX_FLOATS = 1 << 16


def _conv_grads_unfold(model: nn.Module, x: torch.Tensor, y: torch.Tensor, modules: Sequence[str]):
    """Per-example weight and bias gradients of conv layers from one batched forward and backward
    pass.

    As :func:`linear_factors` does for linear layers: forward hooks capture each conv layer's input
    ``h`` and output ``z``; ``autograd.grad(sum_i L_i, z)`` gives ``delta_i = dL_i/dz_i`` (exact in
    eval mode). A conv layer is a linear layer applied at every output position to the unfolded
    (im2col) input, so ``dL_i/dW = sum_positions delta_i (x) unfold(h_i)``, one batched matrix
    product [C_out, L] @ [L, C_in*kh*kw] per record, and ``dL_i/db = sum_positions delta_i``.
    Returns ``{module: (dW [n, C_out, C_in*kh*kw], db [n, C_out] or None)}`` as tensors.
    """
    named = dict(model.named_modules())
    captured: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def make_hook(name):
        def hook(module, args, output):
            if name in captured:
                raise RuntimeError(f"conv layer {name!r} was called twice in one forward pass "
                                   "(shared weights); use method='vmap'")
            captured[name] = (args[0], output)
        return hook

    handles = [named[m].register_forward_hook(make_hook(m)) for m in modules]
    try:
        with _eval_mode(model), torch.enable_grad():
            xb = x.detach().requires_grad_(True) if x.is_floating_point() else x
            loss = F.cross_entropy(_logits(model(xb)), y, reduction="none")
            deltas = torch.autograd.grad(loss.sum(), [captured[m][1] for m in modules])
    finally:
        for h in handles:
            h.remove()
    out = {}
    for m, delta in zip(modules, deltas, strict=True):
        conv, h_in = named[m], captured[m][0].detach()
        cols = F.unfold(h_in, conv.kernel_size, dilation=conv.dilation, padding=conv.padding,
                        stride=conv.stride)  # [n, C_in*kh*kw, L]
        grad_w = torch.bmm(delta.flatten(2), cols.transpose(1, 2))  # [n, C_out, C_in*kh*kw]
        out[m] = (grad_w, delta.sum((2, 3)) if conv.bias is not None else None)
    captured.clear()
    return out


def conv_grad_features(model: nn.Module, x, y, modules: Sequence[str], *,
                       mode: str = "channel_norms", chunk_size: int = 64, dtype=np.float32,
                       method: str = "unfold") -> dict:
    """Per-example gradient features of conv layers, never holding more than one chunk's gradients.

    For every chunk of ``chunk_size`` records the per-example gradients of each module's weight (and
    bias) are computed, reduced at once as ``mode`` says (``CONV_GRADIENT_MODES``,
    deepleak/variants.py) and dropped. ``method``: ``unfold`` (default) gets every layer's gradients
    from one batched forward and backward pass per chunk (:func:`_conv_grads_unfold`); ``vmap`` uses
    :func:`conv_per_example_grads` (torch.func vmap over grad). Both are exact and checked against
    the per-record loop by the tests; on a CPU ``unfold`` is ~10x faster than ``vmap`` for
    AlexNet-CIFAR, which is slower than even the loop there (benchmarks/per_example_gradients.py,
    ``alexnet``).
    ``unfold`` needs plain convolutions (groups 1, zero padding).

    Returns:
        ``{"norm": {module: [n]}, "feature": {module: array}}``: ``norm`` is ||dL/dW||_F of the
        weight (as :func:`linear_grad_norm` for linear layers); ``feature`` is [n, C_out * (1 +
        has_bias)] (``channel_norms``: per channel its weight-gradient norm, then its bias gradient)
        or [n, C_in * kh * kw, C_out] (``kernel``).
    """
    if mode not in CONV_GRADIENT_MODES:
        raise ValueError(f"conv_gradient is {mode!r}; choose one of {list(CONV_GRADIENT_MODES)}")
    if method not in ("unfold", "vmap"):
        raise ValueError(f"method is {method!r}; choose unfold or vmap")
    named = dict(model.named_modules())
    bad = [m for m in modules if not isinstance(named.get(m), nn.Conv2d)]
    if bad:
        raise ValueError(f"module(s) {bad} are not nn.Conv2d layers of {type(model).__name__}")
    if method == "unfold":
        odd = [m for m in modules if named[m].groups != 1 or named[m].padding_mode != "zeros"]
        if odd:
            raise ValueError(f"conv layer(s) {odd} are grouped or not zero-padded; use "
                             "method='vmap'")
    if len(set(modules)) != len(modules):
        raise ValueError(f"duplicate conv layers in {list(modules)}")
    params = []
    for m in modules:
        params.append(f"{m}.weight")
        if named[m].bias is not None:
            params.append(f"{m}.bias")
        if mode == "kernel" and named[m].weight.numel() > KERNEL_MAX_FLOATS:
            raise ValueError(
                f"conv_gradient: kernel would store {named[m].weight.numel()} numbers per record "
                f"for layer {m} (limit {KERNEL_MAX_FLOATS}); use channel_norms, or fewer "
                "gradient_layers")
    x, y = _as_inputs(x, y, model)
    n = x.shape[0]
    out_dtype = _out_dtype(dtype, model)
    norm, feature = {}, {}
    for m in modules:
        w = named[m].weight
        norm[m] = np.empty(n, dtype=out_dtype)
        width = w.shape[0] * (1 + (named[m].bias is not None))
        feature[m] = (np.empty((n, width), dtype=out_dtype) if mode == "channel_norms" else
                      np.empty((n, w[0].numel(), w.shape[0]), dtype=out_dtype))
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        if method == "unfold":
            grads = _conv_grads_unfold(model, x[start:stop], y[start:stop], modules)
        else:
            g = conv_per_example_grads(model, x[start:stop], y[start:stop], params,
                                       chunk_size=chunk_size, dtype=None)
            grads = {m: (torch.as_tensor(g[f"{m}.weight"]).flatten(2),
                         torch.as_tensor(g[f"{m}.bias"]) if f"{m}.bias" in g else None)
                     for m in modules}
        for m in modules:
            grad_w, grad_b = grads[m]                                          # [c, C_out, rest]
            per_channel = torch.linalg.vector_norm(grad_w, dim=2)              # [c, C_out]
            norm[m][start:stop] = _to_numpy(torch.linalg.vector_norm(per_channel, dim=1), out_dtype)
            if mode == "channel_norms":
                cols = [per_channel] + ([grad_b] if grad_b is not None else [])
                feature[m][start:stop] = _to_numpy(torch.stack(cols, 2).flatten(1), out_dtype)
            else:
                # rows: input units (C_in x kh x kw), columns: output channels
                feature[m][start:stop] = _to_numpy(grad_w.transpose(1, 2), out_dtype)
    return {"norm": norm, "feature": feature}
