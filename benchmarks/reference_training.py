#!/usr/bin/env python
"""Benchmark: the calibrated attacks' N reference models (deepleak/references.py) trained as one
batched model (deepleak/batched.py) vs one after the other (training.fit), side by side in one run.

A script, not a test: it prints seconds, the ratio sequential / batched, the largest difference of
the two runs' statistics and the machine's load average before and after (the machines are shared:
read the ratio, measured in one process with the two variants alternating, not the seconds). It
counts the process's CPU seconds (``--clock wall`` for elapsed time).

Sizes, model and training settings are the default profile's Purchase100 stand-alone ones (config
``datasets.purchase100``: target_train records per model, its train section), on random 0/1 records
of the stand-in's width and density (deepleak/datasets.py); ``--epochs`` shortens training (the
ratio is per step), ``--models`` sets N.

Usage (from the repository root):
  PYTHONPATH=scripts .venv/bin/python benchmarks/reference_training.py --threads 1 --models 8
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))  # works without PYTHONPATH

from deepleak import calibration, datasets, references  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(ROOT / "config/config.yaml"))
    ap.add_argument("--models", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = yaml.safe_load(Path(args.config).read_text())["datasets"]["purchase100"]
    train = {**cfg["train"], "epochs": args.epochs}
    n_train = cfg["standalone"]["sizes"]["target_train"]
    width, density = datasets.PURCHASE_DEFAULTS["n_items"], datasets.PURCHASE_DEFAULTS["density"]
    rng = np.random.default_rng(0)
    X = (rng.random((2 * n_train, width)) < density).astype(np.float32)
    y = rng.integers(0, 100, 2 * n_train)
    mask = calibration.reference_mask(2 * n_train, args.models, seed=1)
    kw = dict(model_cfg=cfg["model"], in_features=width, n_classes=100, X=X, y=y, mask=mask,
              pool=np.arange(2 * n_train), records=np.arange(200), train=train,
              seeds=list(range(args.models)))
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    load_before = os.getloadavg()
    seconds = {"sequential": [], "batched": []}
    training = {"sequential": [], "batched": []}
    stats = {}
    for _ in range(args.repeats):
        for name, batched in (("sequential", False), ("batched", True)):
            start = clock()
            stats[name], summary = references.statistics(**kw, batched=batched,
                                                         per_batch=args.models)
            seconds[name].append(clock() - start)
            training[name].append(summary["train_seconds" if args.clock == "wall"
                                          else "train_cpu_seconds"])
    load_after = os.getloadavg()
    best = {k: min(v) for k, v in seconds.items()}
    best_training = {k: min(v) for k, v in training.items()}
    diff = max(float(np.abs(stats["sequential"][k] - stats["batched"][k]).max())
               for k in stats["batched"])
    print(f"{args.models} Purchase100 reference models, {n_train} records each, {args.epochs} "
          f"epochs, batch {train['batch_size']}, {args.threads} thread(s), {args.clock} seconds "
          f"(best of {args.repeats}; training and statistics, then training alone):")
    print(f"  sequential {best['sequential']:.1f} s, batched {best['batched']:.1f} s, ratio "
          f"sequential / batched {best['sequential'] / best['batched']:.2f}")
    print(f"  training alone: sequential {best_training['sequential']:.1f} s, batched "
          f"{best_training['batched']:.1f} s, ratio "
          f"{best_training['sequential'] / best_training['batched']:.2f}")
    print(f"  largest difference of their statistics: {diff:.2e}")
    # The ceiling of any batching: both variants do the same multiply-adds, so batched / sequential
    # can be at most the machine's best float32 matrix-product rate over the rate sequential
    # training already reaches.
    macs = training_macs(cfg["model"], width, 100) * n_train * args.epochs * args.models
    achieved = macs / best_training["sequential"] / 1e9
    peak = gemm_rate(clock) / 1e9
    print(f"  multiply-adds of training: {macs / 1e9:.0f} G; sequential reaches "
          f"{achieved:.1f} GMAC/s, a large float32 matrix product {peak:.1f} GMAC/s on "
          f"{args.threads} thread(s): no batching of the same arithmetic can be more than "
          f"{peak / achieved:.2f}x faster here")
    print(f"  load average (1, 5, 15 min) before {load_before}, after {load_after}; "
          f"{os.cpu_count()} CPUs")


def training_macs(model_cfg: dict, width: int, n_classes: int) -> int:
    """Multiply-adds of one training step per record of the FC model: the forward pass, and the
    backward pass's weight gradients and input gradients (none for the first layer's input)."""
    widths = [width, *model_cfg["hidden"], n_classes]
    forward = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))
    return forward + 2 * forward - widths[0] * widths[1]


def gemm_rate(clock, n: int = 2048, repeats: int = 5) -> float:
    """Multiply-adds per second of the best of ``repeats`` n x n float32 matrix products."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        torch.mm(a, b)
        best = min(best, clock() - start)
    return n ** 3 / best


if __name__ == "__main__":
    main()
