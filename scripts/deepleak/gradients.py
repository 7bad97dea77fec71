"""Per-example gradients of the target model's loss, fast (DESIGN.md 4.1, SPEC.md 2.1 item 4).

The white-box attack needs dL_i/dW for every record i and every chosen layer. A per-record backward
pass (what the authors' code and ML Privacy Meter do, SPEC.md 7) is far too slow, and materialising
every layer's gradient costs ~5.3 MB per record for the Purchase FC model
(/work/shared/ENVIRONMENT.md). So:

* **Linear layers** (:func:`linear_factors`): for ``out = h_in @ W.T + b`` the per-example gradient
  is an outer product, ``dL_i/dW = delta_i (x) h_in_i`` with ``delta_i = dL_i/d out_i``, and
  ``dL_i/db = delta_i``. One batched forward pass (forward hooks capture every chosen layer's input
  and output) and one backward pass of the *summed* loss w.r.t. the captured outputs yield both
  factors for every record and every layer. Summing is exact because the model runs in eval mode (no
  batch statistics, no dropout), so record i's loss depends only on record i and d(sum_j L_j)/d
  out_i = dL_i/d out_i. We keep the factors (n_in + n_out numbers instead of n_in * n_out) and
  derive from them:

  - the gradient norm, ``||dL/dW||_F = ||delta|| * ||h_in||`` (:func:`linear_grad_norm`, SPEC.md
    2.5);
  - the paper's gradient component, a convolution of the gradient matrix with kernels spanning one
    row (SPEC.md 2.2), computed exactly from the factors (:func:`gradient_component_conv`);
  - the full matrix only where really needed (:func:`materialise_linear`: tests, small layers).

* **Other layers** (conv kernels, ...): :func:`conv_per_example_grads` uses ``torch.func``
  (``functional_call`` + ``vmap`` over ``grad``) in chunks, so memory stays bounded.

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

__all__ = [
    "linear_factors",
    "linear_grad_norm",
    "materialise_linear",
    "gradient_component_conv",
    "conv_per_example_grads",
    "per_example_grads_loop",
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
    ``layers`` (DESIGN.md 4.1): forward hooks capture each layer's input ``h_in`` and output ``z``,
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

    ``||delta (x) h_in||_F = ||delta|| * ||h_in||`` (SPEC.md 2.5: for the last layer this is
    ``||softmax(z) - onehot(y)|| * ||h_penultimate||``). With ``include_bias`` the bias gradient
    (= delta) is counted too: ``sqrt(||h_in||^2 + 1) * ||delta||``, the norm of the gradient w.r.t.
    ``[W | b]``.
    Accepts numpy arrays or torch tensors, returns the same kind.
    """
    xp = _lib(h_in)
    h_sq = (h_in * h_in).sum(1)
    if include_bias:
        h_sq = h_sq + 1
    return xp.sqrt(h_sq) * xp.sqrt((delta * delta).sum(1))


def materialise_linear(h_in, delta):
    """Full per-example weight gradients ``delta (x) h_in``, [n, n_out, n_in] (the shape of ``W``).

    For tests and small layers only: this is exactly the memory cost the factors avoid (DESIGN.md
    4.1). Accepts numpy arrays or torch tensors, returns the same kind.
    """
    return delta[:, :, None] * h_in[:, None, :]


def gradient_component_conv(h_in, delta, kernels, bias=None):
    """The paper's gradient-component convolution, computed from the factors, [n, n_in, K].

    SPEC.md 2.2: the gradient matrix is a 1-channel image of shape n_in x n_out (row i = input unit
    i, i.e. ``G = dL/dW.T = h_in (x) delta``), convolved with K kernels of size 1 x n_out, stride 1,
    so output[i, k] = sum_j G[i, j] * kernels[k, j] + bias[k] = h_in[i] * (delta . kernels[k]) +
    bias[k]. Hence the result is ``h_in[:, :, None] * (delta @ kernels.T)[:, None, :] + bias``:
    O(n_out * K + n_in * K) per record instead of O(n_in * n_out * K), and the matrix is never built
    (DESIGN.md 4.1). Equals ``nn.Conv2d(1, K, (1, n_out))`` on the [n, 1, n_in, n_out] image, output
    permuted from [n, K, n_in, 1] to [n, n_in, K], with ``kernels = conv.weight.view(K, n_out)`` and
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

    ``vmap(grad_and_value(loss_of_one_record))`` over chunks of ``chunk_size`` records (DESIGN.md
    4.1): memory is bounded by one chunk's gradients plus the result. Parameters not in
    ``param_names`` and buffers (e.g. batch-norm running statistics) enter as constants. For
    ``nn.Linear`` layers prefer :func:`linear_factors` (ENVIRONMENT.md: vmap over all FC layers is
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
    """Reference: one forward and backward pass per record, as the authors' code and ML Privacy
    Meter do (SPEC.md 7). Slow by design; used by the tests and the benchmark to check the fast
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
