"""Attack features of a target model on a set of records (SPEC.md 2.1).

For each record (x, y) and one model snapshot: the logits, the per-example cross-entropy loss, the label,
the output of every layer, and for the chosen layers the per-example gradient of the loss, stored as its
two factors (DESIGN.md 4.1): ``h_in/<layer>`` (the layer's input) and ``delta/<layer>`` (dL/d output),
whose outer product is dL/dW. ``grad_norm/<layer>`` is ||dL/dW||. Everything comes from batched forward
and backward passes: there is no loop over records.

Layers are named by the model (``fc1`` ... ``fc5``); ``layer_names[-k]`` is the paper's "k-th to last".
"""
from __future__ import annotations

import numpy as np
import torch

from deepleak import gradients


def extract(net, X, y, *, gradient_layers: int, batch_size: int = 1024) -> dict[str, np.ndarray]:
    """Features of ``net`` on (X, y); gradients for the last ``gradient_layers`` layers."""
    net.eval()
    names = list(net.layer_names)
    grad_names = names[len(names) - gradient_layers:]
    X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    parts: dict[str, list[np.ndarray]] = {}

    def add(key, value):
        parts.setdefault(key, []).append(np.asarray(value, dtype=np.float32))

    for start in range(0, len(X), batch_size):
        xb, yb = X[start: start + batch_size], y[start: start + batch_size]
        with torch.no_grad():
            _, outs = net(xb, return_activations=True)
        for name, out in zip(names, outs):
            add(f"out/{name}", out.flatten(1).numpy())
        f = gradients.linear_factors(net, xb, yb, grad_names)
        add("logits", f["logits"])
        add("loss", f["loss"])
        for name in grad_names:
            add(f"h_in/{name}", f["h_in"][name])
            add(f"delta/{name}", f["delta"][name])
            add(f"grad_norm/{name}", gradients.linear_grad_norm(f["h_in"][name], f["delta"][name]))
    feats = {k: np.concatenate(v) for k, v in parts.items()}
    feats["label"] = y.numpy().astype(np.int64)
    feats["correct"] = (feats["logits"].argmax(1) == feats["label"]).astype(np.float32)
    return feats


def layer_from_end(names: list[str], k: int) -> str:
    """The paper's "k-th to last" layer (k = 1 is the output layer)."""
    if not 1 <= k <= len(names):
        raise ValueError(f"layer {k} from the end does not exist; the model has {len(names)} layers "
                         f"({names})")
    return names[-k]


def rows_of(records: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Row positions of record ``ids`` in a feature file whose sorted record ids are ``records``."""
    pos = np.searchsorted(records, ids)
    if (pos >= len(records)).any() or (records[np.minimum(pos, len(records) - 1)] != ids).any():
        raise KeyError("some requested records have no features; rerun the extract_features rule")
    return pos


def take(feats: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[rows] for k, v in feats.items()}
