"""How hard is an offline stand-in? Generate one, train the paper's FC model on it, print accuracy.

The paper's fully connected models reach 100% train / 80% test on Purchase100 (20,000 training
records) and 81.6% / 52% on Texas100 (10,000), Table VIII; the stand-ins' default parameters in
``deepleak.datasets`` were tuned with this script so that the same model lands near those numbers.

Training follows the paper's FC recipe (§III-B; Tanh and batch 128 from the authors' lineage):
FCNet(in, 100, hidden=(1024, 512, 256, 128), tanh), Adam lr 1e-3, batch 128, cross-entropy.
Records are shuffled (seeded) before the train/test split. Both the last epoch and the epoch with
the best test accuracy (the paper's selection rule) are reported. Torch and k-means run on
``--threads`` threads (default 1).

Examples (the runs behind the defaults' comments in deepleak/datasets.py)::

    python benchmarks/standin_accuracy.py --dataset purchase100 --n-train 20000 --n-test 50000 \
        --epochs 30
    python benchmarks/standin_accuracy.py --dataset texas100 --n-train 10000 --n-test 57330 \
        --n-records 67330 --epochs 20 --eval-every 5
    python benchmarks/standin_accuracy.py --dataset texas100 --n-train 3000 --n-test 3000 \
        --epochs 30 --eval-every 5 --param rho=0.3 --param blank=0.1
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from deepleak import datasets  # noqa: E402
from deepleak.models import FCNet  # noqa: E402


def parse_param(text: str):
    key, _, value = text.partition("=")
    if not key or not value:
        raise argparse.ArgumentTypeError(f"--param wants key=value, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


@torch.no_grad()
def accuracy(net, X, y, batch=4096):
    net.eval()
    correct = sum((net(X[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
                  for i in range(0, len(X), batch))
    net.train()
    return correct / len(X)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=["purchase100", "texas100"], required=True)
    ap.add_argument("--n-train", type=int, required=True)
    ap.add_argument("--n-test", type=int, required=True)
    ap.add_argument("--n-records", type=int, default=None,
                    help="records in the generated archive (default n-train + n-test)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0, help="generator seed")
    ap.add_argument("--train-seed", type=int, default=0, help="split / init / batch-order seed")
    ap.add_argument("--param", type=parse_param, action="append", default=[],
                    help="generator parameter override, key=value (repeatable)")
    ap.add_argument("--threads", type=int, default=1, help="torch and k-means threads")
    ap.add_argument("--archive", default=None,
                    help="reuse this archive if it exists (else generate it there)")
    ap.add_argument("--eval-every", type=int, default=1)
    ap.add_argument("--json", default=None, help="append the summary as one JSON line to this file")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    params = dict(args.param)
    n_records = args.n_records or args.n_train + args.n_test
    tmpdir = None
    if args.archive is None:
        tmpdir = tempfile.TemporaryDirectory()
        archive = Path(tmpdir.name) / f"{args.dataset}.tgz"
    else:
        archive = Path(args.archive)
    t0 = time.time()
    summary = None
    if not archive.exists():
        with threadpool_limits(limits=args.threads):
            summary = datasets.generate_standin(args.dataset, archive, n_records=n_records,
                                                seed=args.seed, **params)
        shown = {k: v for k, v in summary.items() if k not in ("params", "path")}
        print(f"generated {archive} in {time.time() - t0:.1f}s: {json.dumps(shown)}", flush=True)
    t1 = time.time()
    X, y = datasets.load_archive(args.dataset, archive)
    print(f"loaded {X.shape} in {time.time() - t1:.1f}s, density {X.mean():.4f}", flush=True)
    if args.n_train + args.n_test > len(X):
        ap.error(f"n-train + n-test = {args.n_train + args.n_test} exceeds the {len(X)} records")

    rng = np.random.default_rng(args.train_seed)
    order = rng.permutation(len(X))
    tr, te = order[:args.n_train], order[args.n_train:args.n_train + args.n_test]
    Xtr, ytr = torch.as_tensor(X[tr], dtype=torch.float32), torch.as_tensor(y[tr])
    Xte, yte = torch.as_tensor(X[te], dtype=torch.float32), torch.as_tensor(y[te])
    del X

    torch.manual_seed(args.train_seed)
    gen = torch.Generator().manual_seed(args.train_seed)
    net = FCNet(Xtr.shape[1], 100, hidden=(1024, 512, 256, 128), activation="tanh")
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    history = []
    t2 = time.time()
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(len(Xtr), generator=gen)
        for i in range(0, len(Xtr), 128):
            idx = perm[i:i + 128]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(Xtr[idx]), ytr[idx]).backward()
            opt.step()
        if epoch % args.eval_every == 0 or epoch == args.epochs:
            row = {"epoch": epoch, "train_acc": accuracy(net, Xtr, ytr),
                   "test_acc": accuracy(net, Xte, yte)}
            history.append(row)
            print(f"epoch {epoch:3d}  train {row['train_acc']:.4f}  test {row['test_acc']:.4f}  "
                  f"({time.time() - t2:.0f}s)", flush=True)
    best = max(history, key=lambda r: r["test_acc"])
    result = {
        "dataset": args.dataset, "n_records": n_records,
        "n_train": args.n_train, "n_test": args.n_test,
        "epochs": args.epochs, "seed": args.seed, "params": params,
        "last": history[-1], "best_test_epoch": best,
        "train_seconds": round(time.time() - t2, 1),
    }
    print("RESULT " + json.dumps(result), flush=True)
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(result) + "\n")
    if tmpdir is not None:
        tmpdir.cleanup()
    return result


if __name__ == "__main__":
    main()
