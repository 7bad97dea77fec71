"""What the attack model (§III-E, Table XIV) costs on a CPU beyond its arithmetic, measured side by
side in one run on synthetic features of the Purchase100 target's shapes (600 -> 1024 -> 512 -> 256
-> 128 -> 100) with a planted membership signal, the default profile's attack model and records
(2,400 training, 600 validation):

1. Subnormal floats. Whole fits (deepleak/attack.py ``fit_supervised``), torch's default against
   subnormals flushed to zero (deepleak/training.py ``flush_denormals``, what every rule script
   runs), alternately; with each fit's validation AUC, which differ by float rounding only.
2. Dropout masks. One training step, against the same step with every mask drawn beforehand (the
   masks are applied, only the sampling is gone), subnormals flushed in both.
3. One mask of the widest dropout input drawn by torch's Bernoulli sampler (what ``nn.Dropout``
   calls) and as uniform draws compared with p: another random stream, so a sampler swap would
   change every attack's numbers, not only their rounding.

    python benchmarks/attack_step.py [--epochs 30] [--repeats 3] [--steps 30] [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from deepleak import attack, metrics, training  # noqa: E402
from deepleak.variants import AttackFeatures  # noqa: E402

# The Purchase100 target's linear layers, from the output: (name, inputs, outputs).
LAYERS = {"fc5": (128, 100), "fc4": (256, 128), "fc3": (512, 256), "fc2": (1024, 512)}
VARIANTS = {"black-box (last output)": AttackFeatures(outputs=("fc5",)),
            "last-layer gradient": AttackFeatures(gradients=("fc5",)),
            "fourth-to-last-layer gradient": AttackFeatures(gradients=("fc2",)),
            "gradients of the last four layers": AttackFeatures(gradients=tuple(LAYERS))}
N_TRAIN, N_VAL = 2400, 600


def planted(features: AttackFeatures, n: int, rng: np.random.Generator):
    """Features [n, 1, d] of half members, half non-members: members' output gradients and losses
    smaller (a fitted model's), hidden inputs tanh-like."""
    member = (np.arange(n) % 2 == 0).astype(np.int64)
    scale = np.where(member == 1, 0.7, 1.0)[:, None, None]
    x = {}
    for name in features.outputs:
        x[f"out/{name}"] = rng.normal(size=(n, 1, LAYERS[name][1])) * scale
    for name in features.gradients:
        n_in, n_out = LAYERS[name]
        x[f"h_in/{name}"] = np.tanh(rng.normal(size=(n, 1, n_in)))
        x[f"delta/{name}"] = rng.normal(size=(n, 1, n_out)) * scale / n_out
    x["loss"] = np.abs(rng.normal(size=(n, 1, 1))) * scale
    x["label"] = rng.integers(0, 100, n)
    return {k: v.astype(np.float32) if k != "label" else v for k, v in x.items()}, member


def timed_fit(flush: bool, data, hp: dict, features: AttackFeatures) -> tuple[float, float]:
    torch.set_flush_denormal(flush)
    (tr, tr_member), (va, va_member) = data
    t = time.process_time()
    model, std, _ = attack.fit_supervised(tr, tr_member, va, va_member, features, 100, hp, seed=1)
    seconds = time.process_time() - t
    auc = metrics.evaluate(attack.predict(model, std(va)), va_member, n_bootstrap=0)["auc"]
    return seconds, auc


class PresampledDropout(nn.Module):
    """Dropout whose masks were drawn before the timed steps: the same multiply, no sampling."""

    def __init__(self, p: float):
        super().__init__()
        self.p, self.masks, self.i = p, [], 0

    def forward(self, x):
        if self.i == len(self.masks):
            self.masks.append(torch.empty_like(x).bernoulli_(1 - self.p) / (1 - self.p))
        self.i += 1
        return x * self.masks[self.i - 1]


def presample(model: nn.Module) -> list[PresampledDropout]:
    swapped = []
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.Dropout):
                swapped.append(PresampledDropout(child.p))
                setattr(module, name, swapped[-1])
    return swapped


def seconds_per_step(model, x, target, steps: int, presampled) -> float:
    opt = training.make_optimizer(model, {"optimizer": "adam", "lr": 1e-3})
    model.train()
    t = time.process_time()
    for _ in range(steps):
        for d in presampled:
            d.i = 0
        opt.zero_grad(set_to_none=True)
        nn.functional.mse_loss(torch.sigmoid(model(x)), target).backward()
        opt.step()
    return (time.process_time() - t) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--epochs", type=int, default=None, help="default: the profile's")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    hp = dict(yaml.safe_load((ROOT / "config/config.yaml").read_text())["attack_model"])
    hp["epochs"] = args.epochs or hp["epochs"]
    rng = np.random.default_rng(0)
    print(f"1. whole attack-model fits ({hp['epochs']} epochs, {N_TRAIN} training records, "
          f"{hp['kernels']} kernels, {args.threads} thread(s)); CPU seconds, median of "
          f"{args.repeats} alternating repeats; validation AUC")
    print(f"{'variant':36s} {'default':>9s} {'flushed':>9s} {'speed-up':>9s} {'AUC':>15s}")
    data = {}
    for label, features in VARIANTS.items():
        tr, va = planted(features, N_TRAIN, rng), planted(features, N_VAL, rng)
        data[label] = tr[0]
        runs = {False: [], True: []}
        for _ in range(args.repeats):
            for flush in runs:
                runs[flush].append(timed_fit(flush, (tr, va), hp, features))
        d, f = (statistics.median(s for s, _ in runs[k]) for k in (False, True))
        auc = f"{runs[False][0][1]:.4f} / {runs[True][0][1]:.4f}"
        print(f"{label:36s} {d:9.1f} {f:9.1f} {d / f:9.2f} {auc:>15s}")

    torch.set_flush_denormal(True)
    b = hp["batch_size"]
    target = torch.cat([torch.ones(b // 2), torch.zeros(b // 2)])
    print(f"\n2. one training step (batch {b}, subnormals flushed); CPU ms per step, median of "
          f"{args.repeats} alternating repeats of {args.steps} steps")
    print(f"{'variant':36s} {'DeepLeak':>9s} {'masks drawn before':>19s} {'sampling share':>15s}")
    for label, features in VARIANTS.items():
        arrays = data[label]
        std = attack.Standardiser.fit(arrays, hp["input_scaling"])
        x = {k: v[:b] for k, v in std(arrays).items()}
        dims = attack.input_dims(arrays)
        plain = attack.AttackModel(features, dims, 100, hp)
        fast = attack.AttackModel(features, dims, 100, hp)
        fast.load_state_dict(plain.state_dict())
        swapped = presample(fast)
        seconds_per_step(fast, x, target, 1, swapped)  # draws the masks
        times = {"plain": [], "fast": []}
        for _ in range(args.repeats):
            times["plain"].append(seconds_per_step(plain, x, target, args.steps, []))
            times["fast"].append(seconds_per_step(fast, x, target, args.steps, swapped))
        p, q = (statistics.median(times[k]) for k in ("plain", "fast"))
        print(f"{label:36s} {p * 1e3:9.2f} {q * 1e3:19.2f} {1 - q / p:15.0%}")

    width = LAYERS["fc2"][0] * hp["kernels"]
    x = torch.randn(b, width)
    draws = {"bernoulli_ (nn.Dropout)": lambda: torch.empty_like(x).bernoulli_(1 - hp["dropout"]),
             "rand_like >= p (another stream)": lambda: torch.rand_like(x) >= hp["dropout"]}
    print(f"\n3. one mask of {b} x {width} (the fourth-to-last-layer component's dropout input)")
    times = {k: [] for k in draws}
    for _ in range(args.repeats):
        for k, draw in draws.items():
            t = time.process_time()
            for _ in range(args.steps):
                draw()
            times[k].append((time.process_time() - t) / args.steps)
    base = statistics.median(times["bernoulli_ (nn.Dropout)"])
    for k, v in times.items():
        print(f"{k:36s} {statistics.median(v) * 1e3:7.2f} ms  x{base / statistics.median(v):.2f}")


if __name__ == "__main__":
    main()
