"""Reference models of the calibrated attacks (deepleak/calibration.py): N models of the target's
architecture and training recipe, model k on the pool records where row k of the IN/OUT mask is set,
each then summarised by its per-record statistics (the models themselves are not kept).

The FC and small-CNN models train together as batched models (deepleak/batched.py: K models as
one, stacked state under torch.vmap), at most ``per_batch`` at a time to bound memory; the others
(and any model when ``batched`` is off) one after the other as ``training.fit`` trains the target
(without its per-epoch evaluation). Both give model k
the initial weights ``models.build_model(..., seed=seeds[k])`` and the batch order of
``Generator().manual_seed(seeds[k])``, so a batched model equals the one trained alone up to float
summation order (tests/test_calibration.py).

A DP target's reference models (``private``) are trained by the DP target's own recipe,
deepleak/dp.py ``fit_private``: the same noise multiplier (the target's, given, not searched
again), clipping norm, Poisson sample rate (as many records as the target, so the same batch size
gives the same rate) and epochs, one after the other (Opacus trains one model); each model's
privacy record (sigma, clipping norm, sample rate, steps, the accountant's epsilon) is kept in the
summary.

An audit's reference models (:func:`trained_statistics`) are the user's model trained by the user's
own training function (deepleak/audit_model.py ``train_model``), one after the other, and
summarised the same way.
"""
from __future__ import annotations

import logging
import time

import numpy as np

from deepleak import calibration

log = logging.getLogger(__name__)

BATCHED_ARCHS = ("fc", "convnet")


def _as_tensors(X, y, device):
    import torch

    return (torch.as_tensor(np.asarray(X), dtype=torch.float32, device=device),
            torch.as_tensor(np.asarray(y), dtype=torch.long, device=device))


def train_batched(model_cfg: dict, in_features, n_classes: int, Xs, ys, train: dict,
                  seeds: list[int], device: str = "cpu", checkpoint=None):
    """K models trained as one (deepleak/batched.py); returns (a net of the architecture, the
    Stack holding the K trained models, the [epochs, K] training losses)."""
    import torch

    from deepleak import batched, models, training

    dev = training.resolve_device(device)
    nets = [models.build_model(model_cfg, in_features, n_classes, seed=s).to(dev) for s in seeds]
    stack = batched.Stack.of(nets)
    data = [_as_tensors(X, y, dev) for X, y in zip(Xs, ys, strict=True)]
    pool = batched.Pool([X for X, _ in data], [y for _, y in data])
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    losses = batched.fit(stack, pool, train, gens,
                         training.augmentation(train.get("augment", "none")), checkpoint)
    return nets[0], stack, losses


def train_one(model_cfg: dict, in_features, n_classes: int, X, y, train: dict, seed: int,
              device: str = "cpu", checkpoint=None):
    """One model alone, as ``training.fit`` trains the target (its optimizer, learning-rate
    milestones, augmentation and batch order from ``seed``), without its per-epoch evaluation,
    which a reference model does not need (nor does ``batched.fit`` make it)."""
    from deepleak import models, training

    net = models.build_model(model_cfg, in_features, n_classes, seed=seed)
    net, _ = training.fit(net, X, y, None, None, train=train, seed=seed, device=device,
                          history=False, checkpoint=checkpoint)
    return net.to(training.resolve_device(device)).eval()


def train_private(model_cfg: dict, in_features, n_classes: int, X, y, X_out, y_out,
                  train: dict, seed: int, private: dict, device: str = "cpu", checkpoint=None):
    """One model trained by DP-SGD as the DP target is (deepleak/dp.py ``fit_private``):
    ``private`` = {"dp": the config's dp section, "level": the target's level, "noise_multiplier":
    the target's sigma}. Its history's test columns are on ``X_out`` (pool records it did not train
    on). ``checkpoint``: resumed per epoch (``fit_private``). Returns (the model, its privacy
    record)."""
    from deepleak import dp, models, training

    net = models.build_model(model_cfg, in_features, n_classes, seed=seed)
    net, _, privacy = dp.fit_private(net, X, y, X_out, y_out, train=train, dp=private["dp"],
                                     level=private["level"], seed=seed, device=device,
                                     noise_multiplier=private["noise_multiplier"],
                                     checkpoint=checkpoint)
    return net.to(training.resolve_device(device)).eval(), privacy


def statistics(model_cfg: dict, in_features, n_classes: int, X, y, mask: np.ndarray,
               pool: np.ndarray, records: np.ndarray, train: dict, seeds: list[int], *,
               batched: bool = True, per_batch: int = 16, device: str = "cpu",
               batching: dict | None = None, private: dict | None = None,
               checkpoint=None) -> tuple[dict[str, np.ndarray], dict]:
    """Train the N reference models of ``mask`` ([N, len(pool)]; model k on ``pool[mask[k]]``)
    and return the statistics of each on ``records`` ({statistic: [N, len(records)]},
    deepleak.calibration.model_statistics) and a summary (how they trained, their loss, and their
    accuracy on their OUT pool records).

    ``private``: train each model by DP-SGD (:func:`train_private`; never batched), and keep its
    privacy record in the summary's ``privacy`` list.

    ``checkpoint`` (deepleak/checkpoint.py): saved after each batch of models (the statistics so
    far) and, through a child checkpoint, after each epoch of the batch in training; a rerun
    resumes both."""
    X, y = np.asarray(X), np.asarray(y)
    n_models = len(mask)
    use_batched = batched and model_cfg["arch"] in BATCHED_ARCHS and private is None
    feature_opts = {k: v for k, v in (batching or {}).items() if k in ("batch_size", "chunk_size")}
    stats: dict[str, list[np.ndarray]] = {}
    summary = {"batched": use_batched, "models": n_models, "train_seconds": 0.0,
               "train_cpu_seconds": 0.0, "out_accuracy": [], "train_loss": [],
               **({"privacy": []} if private is not None else {})}

    def observe(net, k):
        _observe(net, X, y, records, pool[~mask[k]], stats, summary, device, feature_opts)

    step, done = (per_batch if use_batched else 1), 0
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None and saved["step"] == step:
        stats, summary, done = saved["stats"], saved["summary"], saved["done"]
        log.info("resuming after %d of %d reference models (%s)", done, n_models, checkpoint.path)
    for start in range(done, n_models, step):
        ks = list(range(start, min(n_models, start + step)))
        inner = checkpoint.child(f"models{start}") if checkpoint is not None else None
        began, began_cpu = time.perf_counter(), time.process_time()
        if use_batched:
            net, stack, losses = train_batched(model_cfg, in_features, n_classes,
                                               [X[pool[mask[k]]] for k in ks],
                                               [y[pool[mask[k]]] for k in ks], train,
                                               [seeds[k] for k in ks], device, inner)
            summary["train_seconds"] += time.perf_counter() - began
            summary["train_cpu_seconds"] += time.process_time() - began_cpu
            summary["train_loss"] += losses[-1].tolist() if len(losses) else [None] * len(ks)
            for i, k in enumerate(ks):
                observe(stack.load_into(i, net), k)
        else:
            (k,) = ks
            if private is None:
                net = train_one(model_cfg, in_features, n_classes, X[pool[mask[k]]],
                                y[pool[mask[k]]], train, seeds[k], device, inner)
            else:
                out = pool[~mask[k]]
                net, privacy = train_private(model_cfg, in_features, n_classes, X[pool[mask[k]]],
                                             y[pool[mask[k]]], X[out], y[out], train, seeds[k],
                                             private, device, inner)
                summary["privacy"].append(privacy)
            summary["train_seconds"] += time.perf_counter() - began
            summary["train_cpu_seconds"] += time.process_time() - began_cpu
            summary["train_loss"].append(None)
            observe(net, k)
        log.info("reference models %d-%d of %d trained (%s), %.1f s so far", ks[0], ks[-1],
                 n_models, "batched" if use_batched else "alone", summary["train_seconds"])
        if checkpoint is not None:
            checkpoint.save({"step": step, "done": ks[-1] + 1, "stats": stats,
                             "summary": summary})
            inner.remove()
    return {k: np.stack(v) for k, v in stats.items()}, summary


def _observe(net, X, y, records, out, stats: dict, summary: dict, device: str, feature_opts: dict
             ) -> None:
    """Add one trained model's statistics on ``records`` to ``stats`` and its accuracy on ``out``
    (pool records it did not train on) to ``summary``."""
    import torch

    s = calibration.model_statistics(net, X[records], y[records], device=device, **feature_opts)
    for key, v in s.items():
        stats.setdefault(key, []).append(v)
    with torch.no_grad():
        Xo, yo = _as_tensors(X[out], y[out], next(net.parameters()).device)
        acc = float((net.eval()(Xo).argmax(1) == yo).float().mean())
    summary["out_accuracy"].append(acc)


def trained_statistics(train_model, X, y, mask: np.ndarray, pool: np.ndarray,
                       records: np.ndarray, seeds: list[int], *, device: str = "cpu",
                       feature_opts: dict | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """As :func:`statistics`, for reference models that someone else's code trains:
    ``train_model(X_k, y_k, seed_k)`` returns model k trained on ``pool[mask[k]]``, readable by
    deepleak/features.py (``layer_names``, ``forward(x, return_activations=True)``, as the audit's
    hooked models are). One model at a time; each is summarised and dropped before the next.
    ``feature_opts``: batch_size, chunk_size, max_output_features of the statistics' pass."""
    X, y = np.asarray(X), np.asarray(y)
    stats: dict[str, list[np.ndarray]] = {}
    summary = {"batched": False, "models": len(mask), "train_seconds": 0.0,
               "train_cpu_seconds": 0.0, "out_accuracy": [], "train_loss": [None] * len(mask)}
    for k in range(len(mask)):
        began, began_cpu = time.perf_counter(), time.process_time()
        net = train_model(X[pool[mask[k]]], y[pool[mask[k]]], seeds[k])
        summary["train_seconds"] += time.perf_counter() - began
        summary["train_cpu_seconds"] += time.process_time() - began_cpu
        _observe(net, X, y, records, pool[~mask[k]], stats, summary, device, feature_opts or {})
        log.info("reference model %d of %d trained and summarised, %.1f s of training so far",
                 k + 1, len(mask), summary["train_seconds"])
    return {k: np.stack(v) for k, v in stats.items()}, summary
