#!/usr/bin/env python
"""Benchmark: K models trained one after the other vs K trained as one batched model
(deepleak/batched.py).

A script, not a test: it prints seconds, ratios and the largest parameter difference, and asserts
nothing about time (the machines are shared and noisy, so both variants run in the same process,
alternately, and the ratio is the number to read). It counts the process's CPU seconds by default
(``--clock wall`` for elapsed time): with one thread that is what the work costs, whereas elapsed
time on a shared machine includes waiting for a core.

Sections (sizes, models and training settings read from the config, default config/config.yaml;
random 0/1 records of the stand-ins' widths and densities, deepleak/datasets.py):

  federated  one FedAvg round's local training (§II-B) for K = 2, 4, 5 parties of the Purchase100
             and Texas100 federated sizes (federated.per_dataset.<dataset>: party_train, train):
             each party loads its start model, gets a fresh optimizer and trains one epoch in its
             own batch order. Columns: sequential (training.train_epoch per party), batched
             (batched.train_epoch, the library's vmap path) and grouped (the same step with the FC
             forward pass written as one torch.baddbmm per layer instead of vmap: the "grouped
             matmul" alternative, measured here only).
  simulate   federated.simulate end to end (passive run, 4 parties, --simulate-rounds rounds;
             evaluation included, which batching does not touch), batched=False vs True.
  adam       one Adam update of K stacked models (K = --parties, the dataset's FC model): the
             element-wise update batched.Adam makes (seven passes over each stacked tensor)
             against one pass of the fused kernel torch.optim.Adam(fused=True) runs (which
             deepleak/optim.py runs for one model), on the stack's transposed weights.
  pair       a target and a shadow model (§III-B, the stand-alone scenario's target_train and
             shadow_train, datasets.<dataset>.train) trained together vs one after the other,
             --pair-epochs epochs each.

Usage (from the repository root):
  PYTHONPATH=scripts .venv/bin/python benchmarks/batched_training.py --threads 1
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))  # works without PYTHONPATH

from deepleak import batched, datasets, federated, models, training  # noqa: E402

# Record width and mean share of ones of each stand-in (deepleak/datasets.py).
WIDTH = {"purchase100": (datasets.PURCHASE_DEFAULTS["n_items"],
                         datasets.PURCHASE_DEFAULTS["density"]),
         "texas100": (datasets.TEXAS_DEFAULTS["n_features"], 30 / 6169)}
N_CLASSES = 100


def records(dataset: str, n: int, seed: int):
    width, density = WIDTH[dataset]
    g = torch.Generator().manual_seed(seed)
    X = (torch.rand(n, width, generator=g) < density).float()
    return X, torch.randint(0, N_CLASSES, (n,), generator=g)


def net_factory(model_cfg: dict, dataset: str):
    return lambda: models.build_model(model_cfg, WIDTH[dataset][0], N_CLASSES)


def gens(seeds):
    return [torch.Generator().manual_seed(s) for s in seeds]


CLOCK = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCK["cpu"]


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def max_diff(a: list[dict], b: list[dict]) -> float:
    return max(float((x[k] - y[k]).abs().max()) for x, y in zip(a, b, strict=True) for k in x)


def grouped_logits(stack: batched.Stack, X: torch.Tensor) -> torch.Tensor:
    """FCNet's forward pass on the stacked state as one batched matrix product per layer."""
    net, h = stack.net, X
    for i, name in enumerate(net.layer_names):
        W, b = stack.params[f"{name}.weight"], stack.params[f"{name}.bias"]
        h = torch.baddbmm(b.unsqueeze(1), h, W.transpose(1, 2))
        if i < len(net.layer_names) - 1:
            h = net.act(h)
    return h


def federated_round(cfg, dataset: str, K: int, repeats: int) -> dict:
    fed = cfg["federated"]["per_dataset"][dataset]
    train, n = fed["train"], fed["sizes"]["party_train"]
    make_net = net_factory(cfg["datasets"][dataset]["model"], dataset)
    data = [records(dataset, n, seed=k) for k in range(K)]
    torch.manual_seed(0)
    starts = [federated.state_of(make_net()) for _ in range(K)]  # each party its own start
    seeds = [federated.sub_seed(0, "round", 1, "party", k) for k in range(K)]
    net = make_net()
    out_seq, out_bat = [], []

    def sequential():
        out_seq.clear()
        for k, gen in enumerate(gens(seeds)):
            net.load_state_dict(starts[k])
            opt = training.make_optimizer(net, train)
            training.train_epoch(net, opt, *data[k], train["batch_size"], gen)
            out_seq.append(federated.state_of(net))

    stack = batched.Stack(net, starts)
    pool = batched.Pool([X for X, _ in data], [y for _, y in data])

    def one_batched(grouped: bool):
        for k in range(K):
            stack.load(k, starts[k])
        if grouped:
            stack.logits = lambda X: grouped_logits(stack, X)
        try:
            opt = batched.make_optimizer(stack, train)
            batched.train_epoch(stack, opt, pool, train["batch_size"], gens(seeds))
        finally:
            stack.__dict__.pop("logits", None)
        out_bat[:] = [stack.state(k) for k in range(K)]

    times = {"sequential": [], "batched": [], "grouped": []}
    variants = {"sequential": sequential, "batched": lambda: one_batched(False),
                "grouped": lambda: one_batched(True)}
    for fn in variants.values():  # warm-up
        fn()
    for _ in range(repeats):  # alternately, so that a load spike hits every variant alike
        for name, fn in variants.items():
            times[name].append(median_time(fn, 1))
    sequential()
    one_batched(False)
    diff = max_diff(out_seq, out_bat)
    return {k: statistics.median(v) for k, v in times.items()} | {"diff": diff}


def rounding_reference(cfg, dataset: str, K: int = 2) -> dict:
    """How far float32 rounding alone moves one round's parties: sequential float32 and batched
    float32, each against sequential float64 (the same epoch, exact up to float64)."""
    fed = cfg["federated"]["per_dataset"][dataset]
    train, n = fed["train"], fed["sizes"]["party_train"]
    make_net = net_factory(cfg["datasets"][dataset]["model"], dataset)
    data = [records(dataset, n, seed=k) for k in range(K)]
    torch.manual_seed(0)
    starts = [federated.state_of(make_net()) for _ in range(K)]

    def sequential(dtype):
        out = []
        for k, gen in enumerate(gens(range(K))):
            net = make_net().to(dtype)
            net.load_state_dict(starts[k])
            opt = training.make_optimizer(net, train)
            training.train_epoch(net, opt, data[k][0].to(dtype), data[k][1], train["batch_size"],
                                 gen)
            out.append({name: v.double() for name, v in net.state_dict().items()})
        return out

    exact = sequential(torch.float64)
    stack = batched.Stack(make_net(), starts)
    batched.train_epoch(stack, batched.make_optimizer(stack, train),
                        batched.Pool([X for X, _ in data], [y for _, y in data]),
                        train["batch_size"], gens(range(K)))
    bat = [{name: v.double() for name, v in stack.state(k).items()} for k in range(K)]
    return {"sequential": max_diff(sequential(torch.float32), exact),
            "batched": max_diff(bat, exact)}


def simulate_run(cfg, dataset: str, rounds: int, repeats: int) -> dict:
    fed = cfg["federated"]["per_dataset"][dataset]
    n, K = fed["sizes"]["party_train"], cfg["federated"]["parties"]
    X, y = records(dataset, K * n + 500, seed=1)
    X, y = X.numpy(), y.numpy()
    parties = [np.arange(k * n, (k + 1) * n) for k in range(K)]
    make_net = net_factory(cfg["datasets"][dataset]["model"], dataset)
    finals = {}

    def run(batched_parties: bool):
        finals[batched_parties], _ = federated.simulate(
            make_net, X, y, parties, run=federated.Run("passive", K), train=fed["train"],
            rounds=rounds, gamma=0.0, target_ids=None, test_ids=np.arange(K * n, K * n + 500),
            observations=None, seed=3, batched=batched_parties)

    run(False)
    run(True)  # warm-up
    seq = [median_time(lambda: run(False), 1) for _ in range(repeats)]
    bat = [median_time(lambda: run(True), 1) for _ in range(repeats)]
    return {"sequential": statistics.median(seq) / rounds,
            "batched": statistics.median(bat) / rounds,
            "diff": max_diff([finals[False]], [finals[True]])}


def adam_step(cfg, dataset: str, K: int, repeats: int, steps: int = 20) -> dict:
    """Seconds per stacked Adam update, fused vs element-wise, on the same gradients."""
    net = net_factory(cfg["datasets"][dataset]["model"], dataset)()
    stack = batched.Stack(net, [net.state_dict()] * K)
    for p in stack.params.values():
        p.grad = torch.randn_like(p) * 1e-3
    opt = batched.make_optimizer(stack, {"optimizer": "adam", "lr": 1e-3})

    @torch.no_grad()
    def fused():
        params = list(stack.params.values())
        for _ in range(steps):
            opt.steps = [s + 1 for s in opt.steps]
            torch._fused_adam_(params, [p.grad for p in params], opt.exp_avg, opt.exp_avg_sq, [],
                               [torch.full((), float(opt.steps[0])) for _ in params],
                               amsgrad=False, lr=opt.lr, beta1=opt.beta1, beta2=opt.beta2,
                               weight_decay=0.0, eps=opt.eps, maximize=False)

    @torch.no_grad()
    def elementwise():
        for _ in range(steps):
            opt.steps = [s + 1 for s in opt.steps]
            for p, m, v, d in zip(opt.params, opt.exp_avg, opt.exp_avg_sq, opt.denom, strict=True):
                opt._update(p, p.grad, m, v, d, opt.steps)

    times = {"fused": [], "elementwise": []}
    for _ in range(repeats):
        for name, fn in (("elementwise", elementwise), ("fused", fused)):
            start = clock()
            fn()
            times[name].append((clock() - start) / steps)
    return {k: statistics.median(v) for k, v in times.items()}


def pair(cfg, dataset: str, epochs: int, repeats: int) -> dict:
    d = cfg["datasets"][dataset]
    train = {**d["train"], "epochs": epochs}
    sizes = d["standalone"]["sizes"]
    data = [records(dataset, sizes["target_train"], 5), records(dataset, sizes["shadow_train"], 6)]
    make_net = net_factory(d["model"], dataset)
    torch.manual_seed(1)
    starts = [federated.state_of(make_net()) for _ in range(2)]
    seeds = [11, 12]
    outs = {}

    def alone():
        res = []
        for (X, y), start, gen in zip(data, starts, gens(seeds), strict=True):
            net = make_net()
            net.load_state_dict(start)
            opt = training.make_optimizer(net, train)
            for _ in range(epochs):
                training.train_epoch(net, opt, X, y, train["batch_size"], gen)
            res.append(federated.state_of(net))
        outs["alone"] = res

    def together():
        stack = batched.Stack(make_net(), starts)
        batched.fit(stack, batched.Pool([X for X, _ in data], [y for _, y in data]), train,
                    gens(seeds))
        outs["together"] = [stack.state(k) for k in range(2)]

    together()  # warm-up
    t_alone, t_together = [], []
    for _ in range(repeats):
        t_alone.append(median_time(alone, 1))
        t_together.append(median_time(together, 1))
    return {"sequential": statistics.median(t_alone) / epochs,
            "batched": statistics.median(t_together) / epochs,
            "diff": max_diff(outs["alone"], outs["together"])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    ap.add_argument("--datasets", nargs="+", default=["purchase100", "texas100"])
    ap.add_argument("--parties", nargs="+", type=int, default=[2, 4, 5])
    ap.add_argument("--sections", nargs="+", default=["federated", "simulate", "adam", "pair"])
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per variant (median kept)")
    ap.add_argument("--simulate-rounds", type=int, default=2)
    ap.add_argument("--pair-epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the rules use 1)")
    ap.add_argument("--clock", choices=list(CLOCK), default="cpu",
                    help="cpu: the process's CPU seconds (one thread: what the work costs, not "
                         "inflated by waiting for a core on a shared machine); wall: elapsed")
    args = ap.parse_args()
    global clock
    clock = CLOCK[args.clock]
    torch.set_num_threads(args.threads)
    cfg = yaml.safe_load(Path(args.config).read_text())
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.clock} seconds, load "
          f"average at start {load}")
    print("ratio = sequential / batched (> 1: batched is faster); diff = max |parameter| "
          "difference, batched vs sequential")
    if "federated" in args.sections:
        print("\nfederated: seconds per round of local training (K parties, one epoch each)")
        print(f"{'dataset':<12} {'K':>2} {'records':>7} {'sequential':>10} {'batched':>8} "
              f"{'ratio':>6} {'grouped':>8} {'ratio':>6} {'diff':>9}")
        for dataset in args.datasets:
            n = cfg["federated"]["per_dataset"][dataset]["sizes"]["party_train"]
            for K in args.parties:
                r = federated_round(cfg, dataset, K, args.repeats)
                print(f"{dataset:<12} {K:>2} {n:>7} {r['sequential']:>10.3f} {r['batched']:>8.3f} "
                      f"{r['sequential'] / r['batched']:>6.2f} {r['grouped']:>8.3f} "
                      f"{r['sequential'] / r['grouped']:>6.2f} {r['diff']:>9.2e}", flush=True)
        print("float32 rounding for scale: max |parameter| difference from the same round in "
              "float64 (K = 2)")
        for dataset in args.datasets:
            r = rounding_reference(cfg, dataset)
            print(f"{dataset:<12} sequential float32 {r['sequential']:.2e}  batched float32 "
                  f"{r['batched']:.2e}", flush=True)
    if "simulate" in args.sections:
        print(f"\nsimulate: seconds per round of federated.simulate (passive, "
              f"{cfg['federated']['parties']} parties, {args.simulate_rounds} rounds, evaluation "
              f"included)")
        for dataset in args.datasets:
            r = simulate_run(cfg, dataset, args.simulate_rounds, args.repeats)
            print(f"{dataset:<12} sequential {r['sequential']:.3f}  batched {r['batched']:.3f}  "
                  f"ratio {r['sequential'] / r['batched']:.2f}  diff {r['diff']:.2e}", flush=True)
    if "adam" in args.sections:
        print("\nadam: milliseconds per Adam update of K stacked models, element-wise vs fused")
        for dataset in args.datasets:
            for K in args.parties:
                r = adam_step(cfg, dataset, K, args.repeats)
                print(f"{dataset:<12} K {K}  element-wise {r['elementwise'] * 1e3:.2f}  fused "
                      f"{r['fused'] * 1e3:.2f}  ratio {r['elementwise'] / r['fused']:.2f}",
                      flush=True)
    if "pair" in args.sections:
        print("\npair: target and shadow model, seconds per epoch, one after the other vs together")
        for dataset in args.datasets:
            r = pair(cfg, dataset, args.pair_epochs, args.repeats)
            print(f"{dataset:<12} one after the other {r['sequential']:.3f}  together "
                  f"{r['batched']:.3f}  ratio {r['sequential'] / r['batched']:.2f}  "
                  f"diff {r['diff']:.2e}", flush=True)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"\nload average at end {load}")


if __name__ == "__main__":
    main()
