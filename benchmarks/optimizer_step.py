"""The Adam update of DeepLeak's models: torch's per-tensor loop (its CPU default), the multi-tensor
``foreach`` update (bit-identical to the loop) and the ``fused`` kernel DeepLeak uses (equal to
float precision, tests/test_training.py), measured alternately in one run. Then what the first
optimizer costs a job: building and stepping it in a fresh interpreter (after ``import torch``),
torch.optim's Adam against deepleak/optim.py's, which makes the same update without importing
torch's compiler (tests/test_optim.py), alternately.

    python benchmarks/optimizer_step.py [--repeats 5] [--steps 20] [--threads 1]

Models: the Texas100 target (6169 -> 1024 -> 512 -> 256 -> 128 -> 100, Tanh; its first layer holds
6.3 M of its 7.1 M weights) and the Purchase100 target (600 -> ... -> 100), one training step of a
batch of 128 (the default profile's), forward, backward and update.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from deepleak import models  # noqa: E402

MODES = {"loop (torch default)": {"foreach": False}, "foreach": {"foreach": True},
         "fused (DeepLeak)": {"fused": True}}


def seconds_per_step(net, X, y, kwargs, steps: int) -> float:
    net = copy.deepcopy(net)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, **kwargs)

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(X), y).backward()
        opt.step()

    step()  # the optimizer's state is allocated at the first step
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
FIRST_STEP = {
    "torch.optim.Adam(fused=True)": "torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)",
    "deepleak.optim.Adam": "optim.Adam(net.parameters(), lr=1e-3)",
}


def first_step_seconds(build: str) -> float:
    """Seconds to build an optimizer and take its first step, in a fresh interpreter that has
    imported torch and deepleak.optim already (what a job has done before it trains)."""
    code = ("import sys, time, torch; sys.path.insert(0, %r); from deepleak import optim\n"
            "net = torch.nn.Linear(8, 2); net(torch.randn(4, 8)).sum().backward()\n"
            "t = time.perf_counter(); opt = %s; opt.step()\n"
            "print(time.perf_counter() - t)" % (str(SCRIPTS), build))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    spec = {"arch": "fc", "hidden": [1024, 512, 256, 128], "activation": "tanh"}
    print(f"Adam step, batch 128, {args.threads} thread(s), median of {args.repeats} alternating "
          f"repeats of {args.steps} steps")
    for name, n_in, density in (("Texas100", 6169, 0.0035), ("Purchase100", 600, 0.3)):
        net = models.build_model(spec, n_in, 100)
        X = (torch.rand(128, n_in) < density).float()
        y = torch.randint(0, 100, (128,))
        times = {mode: [] for mode in MODES}
        for _ in range(args.repeats):
            for mode, kwargs in MODES.items():
                times[mode].append(seconds_per_step(net, X, y, kwargs, args.steps))
        base = statistics.median(times["loop (torch default)"])
        for mode, ts in times.items():
            t = statistics.median(ts)
            print(f"  {name:12s} {mode:22s} {t * 1000:7.1f} ms/step   speed-up x{base / t:.2f}")
    print(f"First optimizer of a job (build + one step, fresh interpreter), median of "
          f"{args.repeats} alternating runs")
    times = {name: [] for name in FIRST_STEP}
    for _ in range(args.repeats):
        for name, build in FIRST_STEP.items():
            times[name].append(first_step_seconds(build))
    base = statistics.median(times[next(iter(FIRST_STEP))])
    for name, ts in times.items():
        t = statistics.median(ts)
        print(f"  {name:30s} {t:6.2f} s   speed-up x{base / t:.1f}")


if __name__ == "__main__":
    main()
