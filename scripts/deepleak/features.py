"""Attack features of a target model on a set of records (paper §II-A, Fig. 1).

For each record (x, y) and one model snapshot: the logits, the per-example cross-entropy loss, the
label, the output of every layer, and for the chosen layers the per-example gradient of the loss,
stored as its two factors (smaller than the matrix): ``h_in/<layer>`` (the layer's input) and
``delta/<layer>`` (dL/d output), whose outer product is dL/dW. ``grad_norm/<layer>`` is ||dL/dW||.
Everything comes from batched forward and backward passes: there is no loop over records.

Layers are named by the model (``fc1`` ... ``fc5``); ``layer_names[-k]`` is the paper's "k-th to
last". Conv layers (image models) store a bounded reduction of their per-example gradient instead of
factors (``conv_grad_<mode>/<layer>``, deepleak/gradients.py ``conv_grad_features``).
"""
from __future__ import annotations

import numpy as np
import torch

from deepleak import gradients


def extract(net, X, y, *, gradient_layers: int, batch_size: int = 1024,
            conv_gradient: str = "channel_norms", max_output_features: int | None = None,
            chunk_size: int = 64, device: str = "cpu", report: dict | None = None
            ) -> dict[str, np.ndarray]:
    """Features of ``net`` on (X, y); gradients for the last ``gradient_layers`` layers.

    Linear layers give their gradient factors (``h_in/``, ``delta/``). Conv layers (image models,
    deepleak/cnn.py) give ``conv_grad_<conv_gradient>/<layer>``, their per-example gradient reduced
    chunk by chunk as ``gradients.conv_grad_features`` describes (the paper is silent on conv
    gradients; see README, 'Where the paper is silent'), so storage per record stays bounded. A
    layer output with a spatial extent of more than ``max_output_features`` numbers is stored as
    its per-channel spatial mean (global average pooling, what the networks' own heads compute).
    ``report``, when given, is filled with what was stored how. The model runs in eval mode on
    ``device``: no dropout, batch norm with its running statistics, and no augmentation (§III-A).
    """
    from torch import nn

    from deepleak import models, training

    dev = training.resolve_device(device)
    net.to(dev).eval()
    names = list(net.layer_names)
    grad_names = names[len(names) - gradient_layers:]
    modules = dict(net.named_modules())
    grad_module = {name: models.layer_module(net, name) for name in grad_names}
    linear = [n for n in grad_names if isinstance(modules[grad_module[n]], nn.Linear)]
    conv = [n for n in grad_names if n not in linear]
    X = np.asarray(X)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    parts: dict[str, list[np.ndarray]] = {}
    summarised: dict[str, str] = {}

    def add(key, value):
        parts.setdefault(key, []).append(np.asarray(value, dtype=np.float32))

    for start in range(0, len(X), batch_size):
        xb = torch.as_tensor(X[start: start + batch_size], dtype=torch.float32, device=dev)
        yb = y[start: start + batch_size].to(dev)
        with torch.no_grad():
            _, outs = net(xb, return_activations=True)
        for name, out in zip(names, outs, strict=True):
            if (out.dim() == 4 and max_output_features is not None
                    and out[0].numel() > max_output_features):
                out = out.mean((2, 3))
                summarised[name] = "per-channel spatial mean"
            add(f"out/{name}", out.flatten(1).cpu().numpy())
        f = gradients.linear_factors(net, xb, yb, [grad_module[n] for n in linear])
        add("logits", f["logits"])
        add("loss", f["loss"])
        for name in linear:
            h_in, delta = f["h_in"][grad_module[name]], f["delta"][grad_module[name]]
            add(f"h_in/{name}", h_in)
            add(f"delta/{name}", delta)
            add(f"grad_norm/{name}", gradients.linear_grad_norm(h_in, delta))
        if conv:
            c = gradients.conv_grad_features(net, xb, yb, [grad_module[n] for n in conv],
                                             mode=conv_gradient, chunk_size=chunk_size)
            for name in conv:
                add(f"conv_grad_{conv_gradient}/{name}", c["feature"][grad_module[name]])
                add(f"grad_norm/{name}", c["norm"][grad_module[name]])
    feats = {k: np.concatenate(v) for k, v in parts.items()}
    feats["label"] = y.numpy().astype(np.int64)
    feats["correct"] = (feats["logits"].argmax(1) == feats["label"]).astype(np.float32)
    if report is not None:
        report.update(
            output_summary=summarised,
            gradient_features={**{n: "factors h_in, delta (exact)" for n in linear},
                               **{n: f"conv_grad_{conv_gradient}" for n in conv}},
            gradient_modules=grad_module)
    return feats


def layer_from_end(names: list[str], k: int) -> str:
    """The paper's "k-th to last" layer (k = 1 is the output layer)."""
    if not 1 <= k <= len(names):
        raise ValueError(f"layer {k} from the end does not exist; the model has {len(names)} "
                         f"layers ({names})")
    return names[-k]


def rows_of(records: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Row positions of record ``ids`` in a feature file whose sorted record ids are ``records``."""
    pos = np.searchsorted(records, ids)
    if (pos >= len(records)).any() or (records[np.minimum(pos, len(records) - 1)] != ids).any():
        raise KeyError("some requested records have no features; rerun the extract_features rule")
    return pos


def take(feats: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[rows] for k, v in feats.items()}


def labelled(feats: dict[str, np.ndarray], member_ids: np.ndarray, nonmember_ids: np.ndarray):
    """Feature rows of ``member_ids`` then ``nonmember_ids``, their membership bits (1 = member) and
    the record ids, in that order."""
    ids = np.concatenate([member_ids, nonmember_ids])
    member = np.r_[np.ones(len(member_ids)), np.zeros(len(nonmember_ids))].astype(np.int64)
    return take(feats, rows_of(feats["records"], ids)), member, ids
