"""The resource model (deepleak/resources.py) as tables: what each job of a profile is estimated to
cost, and how the estimates compare with a measured run.

    python benchmarks/resource_model.py [--configfile config/paper.yaml] [--benchmarks DIR]
                                        [--out results/resource_estimate.md]
    python benchmarks/resource_model.py --measure
    python benchmarks/resource_model.py --calibrate --benchmarks DIR

The default mode plans the profile's DAG (`snakemake -n --verbose`, so the jobs, their threads and
their resources are exactly the workflow's) and writes the estimate per rule, the CIFAR-100 jobs'
GPU estimates and feature-file sizes, and the total. With ``--benchmarks DIR`` (the benchmark files
of a run of config/config.yaml, the layout of logs/) it adds the predicted against the measured
wall time and peak memory of every step of that run, flagging any more than 3x apart.

``--measure`` times a few CPU forward / backward batches of each CIFAR-100 network of
config/paper.yaml (under a minute; run it under `nice`), checks the model's MAC count against
torch's FlopCounterMode, and times start-ups and the archive reader: the COSTS entries marked as
measured by --measure. ``--calibrate`` fits the COSTS entries marked as fitted on a run of
config/config.yaml (its benchmark files, ``--benchmarks DIR``: non-negative least squares of every
job's wall time, relative errors) and prints them.
"""
from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from deepleak import resources, rule_costs  # noqa: E402

# The estimate's CIFAR feature files are sized for every CIFAR-100 image, members or not.
CIFAR_RECORDS = 60_000
# Steps more than this factor from their measurement are flagged (the model's stated accuracy).
TOLERANCE = 3.0


# --------------------------------------------------------------------------------------------------
# The profile as Snakemake plans it
# --------------------------------------------------------------------------------------------------
def load_config(configfile: str) -> dict:
    return resources.profile_config(ROOT, configfile)


def plan(configfile: str, cores: int) -> list[dict]:
    """Every job of the profile's DAG (all of them: ``--forceall``) with the threads it gets on
    ``cores`` cores and the resources its rule declares."""
    cmd = [sys.executable, "-m", "snakemake", "-n", "--forceall", "--verbose", "--cores",
           str(cores), "--configfile", configfile]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"planning {configfile} failed:\n{(out.stdout + out.stderr)[-3000:]}")
    return [j for j in rule_costs.job_blocks(out.stdout + out.stderr) if j["output"]]


def estimates(configfile: str, cores: int) -> pd.DataFrame:
    """One row per job: rule, wildcards, threads, the estimate and what the rule asks for."""
    config = load_config(configfile)
    rows = []
    for job in plan(configfile, cores):
        est = resources.estimate(config, job["rule"], job["wildcards"])
        rows.append({
            "rule": job["rule"], "dataset": job["wildcards"].get("dataset", ""),
            "wildcards": ", ".join(f"{k}={v}" for k, v in job["wildcards"].items()),
            "threads": job["threads"], "gpu": est.gpu, "cpu_core_s": est.cpu_core_s,
            "cpu_wall_s": est.cpu_wall_s(job["threads"]), "gpu_s": est.gpu_s if est.gpu else 0.0,
            "mem_mb": est.mem_mb, "cpu_mem_mb": est.cpu_mem_mb,
            "device_mem_mb": est.device_mem_mb,
            "output_mb": est.output_bytes / 1e6,
            "request_mem_mb": int(job["resources"]["mem_mb"]),
            "request_runtime_min": int(job["resources"]["runtime"]),
            "benchmark": job["benchmark"], "estimate": est})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------------
def _hours(s: float) -> str:
    return f"{s / 3600:,.2f}" if s >= 36 else f"{s / 3600:.3f}"


def table(df: pd.DataFrame, columns: dict[str, str]) -> list[str]:
    lines = ["| " + " | ".join(columns.values()) + " |", "|" + "---|" * len(columns)]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(r[c]) for c in columns) + " |")
    return lines


def per_rule(df: pd.DataFrame) -> pd.DataFrame:
    g = df.groupby("rule", sort=False)
    out = pd.DataFrame({
        "jobs": g.size(), "threads": g["threads"].max(),
        "cpu_h": g["cpu_core_s"].sum().map(_hours),
        "max_job_cpu_h": g["cpu_core_s"].max().map(_hours),
        "peak_gb": (g["mem_mb"].max() / 1000).map("{:,.1f}".format),
        "gpu_jobs": g["gpu"].sum(), "gpu_h": g["gpu_s"].sum().map(_hours),
        "request_gb": (g["request_mem_mb"].max() / 1000).map("{:,.1f}".format),
        "request_h": (g["request_runtime_min"].max() / 60).map("{:,.1f}".format)})
    order = df.groupby("rule", sort=False)["cpu_core_s"].sum().sort_values(ascending=False).index
    return out.loc[order].reset_index()


def cifar_jobs(df: pd.DataFrame, config: dict) -> tuple[list[str], float]:
    """Lines on the image-model GPU jobs: time, memory, feature files; their total GPU seconds."""
    gpu = df[df["gpu"] == 1].copy()
    if gpu.empty:
        return ["No job of this profile asks for a GPU."], 0.0
    gpu["gflop_per_record"] = [
        f"{2 * resources.network(config['datasets'][d]['model'], resources._shape(config, d), resources._data(config, d).n_classes).macs / 1e9:.3f}"  # noqa: E501
        for d in gpu["dataset"]]
    gpu["cpu_h"] = gpu["cpu_core_s"].map(_hours)
    gpu["gpu_h"] = gpu["gpu_s"].map(_hours)
    gpu["host_gb"] = (gpu["mem_mb"] / 1000).map("{:,.1f}".format)
    gpu["gpu_mem_gb"] = (gpu["device_mem_mb"] / 1000).map("{:,.1f}".format)
    lines = table(gpu, {"rule": "rule", "wildcards": "job", "gflop_per_record":
                        "forward GFLOP / record", "cpu_h": "CPU core-h", "gpu_h": "GPU h (est.)",
                        "host_gb": "host GB", "gpu_mem_gb": "GPU GB"})
    return lines, float(gpu["gpu_s"].sum())


def feature_sizes(config: dict) -> list[str]:
    """The stand-alone feature file of every image model at CIFAR_RECORDS records, and its bound."""
    st = config["standalone"]
    lines = ["| dataset | model | numbers / record | bytes / record | at 60,000 records | bound "
             "/ record |", "|---|---|---|---|---|---|"]
    for d in st["datasets"]:
        if resources._data(config, d).kind != "image":
            continue
        net = resources._net(config, d)
        n_classes = resources._data(config, d).n_classes
        widths = resources.feature_widths(net, n_classes, st["gradient_layers"],
                                          st["conv_gradient"], st["max_output_features"])
        per_record = resources.feature_bytes(widths)
        # No layer output is stored with more than max(max_output_features, C) numbers and no conv
        # gradient with more than 2 C_out + 1 (channel_norms), whatever the maps' resolution.
        cap = st["max_output_features"] or max(layer.out for layer in net.layers)
        bound = 4 * (sum(max(cap, layer.channels) if layer.kind == "conv" else layer.out
                         for layer in net.layers)
                     + sum(2 * layer.grad_out + 1 if layer.kind == "conv"
                           else layer.grad_in + layer.grad_out + 1
                           for layer in net.layers[len(net.layers) - st["gradient_layers"]:])
                     + n_classes + 3) + 16
        numbers = sum(v for k, v in widths.items() if not k.endswith("#rows"))
        arch = config["datasets"][d]["model"]
        name = arch["arch"] + (f"-{arch['depth']}" if "depth" in arch else "")
        lines.append(f"| {d} | {name} | {numbers:,} | {per_record:,} | "
                     f"{per_record * CIFAR_RECORDS / 1e6:,.0f} MB | {bound:,} |")
    return lines


def comparison(benchmarks: str, cores: int = 2) -> tuple[list[str], pd.DataFrame]:
    """Predicted against measured wall time and peak memory per step of a default-profile run."""
    jobs = estimates("config/config.yaml", cores)
    measured = rule_costs.read(benchmarks).set_index("file")
    rows = []
    for _, j in jobs.iterrows():
        key = str(Path(j["benchmark"]).relative_to("benchmarks")) if j["benchmark"] else None
        if key not in measured.index:
            continue
        m = measured.loc[key]
        step, _ = rule_costs.step_of(Path(key))
        rows.append({"step": step, "dataset": j["dataset"], "threads": j["threads"],
                     "measured_s": m["seconds"], "predicted_s": j["cpu_wall_s"],
                     "measured_mb": m["max_rss_mb"], "predicted_mb": j["cpu_mem_mb"]})
    df = pd.DataFrame(rows)
    g = df.groupby("step")
    steps = pd.DataFrame({"jobs": g.size(), "measured_s": g["measured_s"].sum(),
                          "predicted_s": g["predicted_s"].sum(),
                          "measured_mb": g["measured_mb"].max(),
                          "predicted_mb": g["predicted_mb"].max()})
    steps["time_ratio"] = steps["predicted_s"] / steps["measured_s"]
    steps["mem_ratio"] = steps["predicted_mb"] / steps["measured_mb"]
    steps = steps.sort_values("measured_s", ascending=False).reset_index()
    out = steps.copy()
    for c in ("measured_s", "predicted_s", "measured_mb", "predicted_mb"):
        out[c] = out[c].map("{:,.0f}".format)
    for c in ("time_ratio", "mem_ratio"):
        out[c] = [f"**{v:.2f}**" if not 1 / TOLERANCE <= v <= TOLERANCE else f"{v:.2f}"
                  for v in steps[c]]
    lines = table(out, {"step": "step", "jobs": "jobs", "measured_s": "measured s",
                        "predicted_s": "predicted s", "time_ratio": "predicted / measured",
                        "measured_mb": "measured peak MB", "predicted_mb": "predicted MB",
                        "mem_ratio": "predicted / measured"})
    total = steps["predicted_s"].sum() / steps["measured_s"].sum()
    lines += ["", f"All {len(df)} jobs: {steps['measured_s'].sum():,.0f} s measured, "
              f"{steps['predicted_s'].sum():,.0f} s predicted (x{total:.2f}); "
              f"{int(((steps['time_ratio'] > TOLERANCE) | (steps['time_ratio'] < 1 / TOLERANCE)).sum())}"  # noqa: E501
              f" of {len(steps)} steps' times and "
              f"{int(((steps['mem_ratio'] > TOLERANCE) | (steps['mem_ratio'] < 1 / TOLERANCE)).sum())}"  # noqa: E501
              f" of their memories are more than {TOLERANCE:g}x off (bold)."]
    return lines, df


def report(configfile: str, benchmarks: str | None, out: Path, cores: int) -> None:
    config = load_config(configfile)
    df = estimates(configfile, cores)
    c = resources.COSTS
    gpu_lines, gpu_total = cifar_jobs(df, config)
    cpu_only = df[df["gpu"] == 0]
    lines = [
        f"# Resource estimate: {configfile}", "",
        "Generated by `python benchmarks/resource_model.py` from the resource model "
        "(scripts/deepleak/resources.py) on the DAG Snakemake plans for this profile (every job, "
        f"at most {cores} threads each). Estimates, not measurements: CPU times from throughputs "
        "measured on a 2-core VM (COSTS), with k threads running "
        f"1 + (k - 1) x {c['thread_efficiency']} times as fast as one; GPU times are **estimates "
        f"from counted FLOPs at an assumed sustained {c['gpu_flops_per_s'] / 1e12:.2f} TFLOPS** "
        "(30 % of an NVIDIA A100's 19.5 TFLOPS fp32 peak) plus "
        f"{c['gpu_step_s'] * 1e3:g} ms per optimizer step. A job asks for "
        f"{resources.REQUEST['time_factor']:g}x its estimated time (at least "
        f"{resources.REQUEST['min_runtime_min']} minutes) and "
        f"{resources.REQUEST['mem_factor']:g}x its memory, times the attempt.", "",
        "## Totals", "",
        f"- {len(df)} jobs; {int(df['gpu'].sum())} ask for a GPU.",
        f"- GPU jobs on one GPU: **{gpu_total / 3600:,.1f} GPU-hours (estimate)**.",
        f"- The other {len(cpu_only)} jobs on CPUs: {cpu_only['cpu_core_s'].sum() / 3600:,.1f} "
        "core-hours; the longest one "
        f"{cpu_only['cpu_wall_s'].max() / 3600:,.1f} h at its threads.",
        f"- Every job on CPUs alone (device: cpu): {df['cpu_core_s'].sum() / 3600:,.0f} "
        "core-hours.", "",
        "## Per rule", "",
        "CPU h: core-hours of the rule's jobs run on a CPU; peak GB: the largest job's estimated "
        "resident memory; GPU h: the GPU jobs' estimate; request: the largest job's "
        "`resources: mem_mb` and `runtime` (first attempt).", "",
        *table(per_rule(df), {"rule": "rule", "jobs": "jobs", "threads": "threads",
                              "cpu_h": "CPU h", "max_job_cpu_h": "largest job CPU h",
                              "peak_gb": "peak GB", "gpu_jobs": "GPU jobs", "gpu_h": "GPU h",
                              "request_gb": "request GB", "request_h": "request h"}), "",
        "## The GPU jobs", "",
        "Forward GFLOP per record counted from the layer shapes (equal to torch's "
        "FlopCounterMode, tests/test_resources.py); CPU core-h: the same job on CPUs; GPU GB: "
        "weights, optimizer state and one batch's activations (training.evaluate's 2,048-record "
        "batches are the peak for the large networks).", "",
        *gpu_lines, "",
        f"## Stand-alone feature files of the image models at {CIFAR_RECORDS:,} records", "",
        "`conv_gradient: channel_norms` stores a conv layer's per-example gradient as one norm "
        "per output channel (and its bias gradient when it has one); layer outputs above "
        "`max_output_features` numbers as per-channel means. The bound per record holds whatever "
        "the maps' resolution: 4 bytes x (sum over layers of max(max_output_features, C) for "
        "conv layers and the width for linear ones + sum over gradient layers of 2 C_out + 1, or "
        "n_in + n_out + 1 for a linear one + classes + 3) + 16 bytes of label and record id.", "",
        *feature_sizes(config), ""]
    if benchmarks:
        comp, _ = comparison(benchmarks)
        lines += ["## Predicted against measured: config/config.yaml", "",
                  f"Benchmark files of a run of the default profile (`{Path(benchmarks).name}/`, "
                  "2 cores, jobs side by side); the prediction on the CPU, at the threads the "
                  "workflow now gives each job. Peak memory is Snakemake's sampled maximum RSS. "
                  "A job that ran with more threads than were free (a 2-thread job beside another "
                  "on 2 cores) measures slower than any throughput predicts: torch's threads spin "
                  "against the other job's.", "", *comp, ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"\nwrote {out}")


# --------------------------------------------------------------------------------------------------
# --calibrate: fit COSTS on a measured run of config/config.yaml
# --------------------------------------------------------------------------------------------------
FIXED_UNITS = ("start:light",)  # measured by --measure, not identifiable from a run


def calibrate(benchmarks: str, cores: int = 2) -> None:
    from scipy.optimize import nnls

    jobs = estimates("config/config.yaml", cores)
    measured = rule_costs.read(benchmarks).set_index("file")
    rows, y, names = [], [], []
    for _, j in jobs.iterrows():
        key = str(Path(j["benchmark"]).relative_to("benchmarks")) if j["benchmark"] else None
        if key not in measured.index:
            continue
        est, wall = j["estimate"], float(measured.loc[key, "seconds"])
        sp = resources.speedup(j["threads"])
        row = {u: n if u.startswith("start:") else n / sp for u, n in est.work.items()}
        rows.append(row)
        y.append(wall)
        names.append(key)
    units = sorted({u for r in rows for u in r if u not in FIXED_UNITS})
    A = np.array([[r.get(u, 0.0) for u in units] for r in rows])
    fixed = np.array([sum(r.get(u, 0.0) * resources.unit_cost(u) for u in FIXED_UNITS)
                      for r in rows])
    y = np.array(y)
    scale = np.where(A.max(axis=0) > 0, A.max(axis=0), 1.0)
    keep = np.ones(len(y), bool)
    # Two passes: jobs more than TOLERANCE x slower than the first fit ran beside others on too few
    # cores (their epochs' times in the logs jump 20x), so the second fit leaves them out.
    for _ in range(2):
        w = 1 / y[keep]  # relative errors
        x, _ = nnls((A[keep] / scale) * w[:, None], (y[keep] - fixed[keep]) * w)
        x = x / scale
        pred = A @ x + fixed
        keep = pred * TOLERANCE > y
    print(f"{len(y)} jobs, {int((~keep).sum())} left out as contended; fitted / measured of the "
          f"rest: median {np.median(pred[keep] / y[keep]):.2f}, range "
          f"{np.min(pred[keep] / y[keep]):.2f} - {np.max(pred[keep] / y[keep]):.2f}")
    for i in np.argsort(-np.abs(np.log(pred / y)))[:8]:
        print(f"    {names[i]}: measured {y[i]:.1f} s, fitted {pred[i]:.1f} s")
    for u, v in zip(units, x, strict=True):
        kind, _, rest = u.partition(":")
        if kind == "macs":
            print(f"  {u}: {1 / v if v else math.inf:.3g} MACs per core-second")
        else:
            print(f"  {u}: {v:.3g} s per unit")


# --------------------------------------------------------------------------------------------------
# --measure: the CIFAR networks' CPU throughput, start-ups, the archive reader
# --------------------------------------------------------------------------------------------------
def _child(code: str) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of ``python -c code``."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code + "; import resource; print(resource."
                          "getrusage(resource.RUSAGE_SELF).ru_maxrss)"], check=True, cwd=ROOT,
                         capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu, int(out.stdout.split()[-1]) / 1024


def _cpu_seconds(fn) -> float:
    """CPU seconds of this process spent in ``fn()``: unlike wall time, not inflated when other
    jobs share the cores (the machine this ran on was shared)."""
    start = time.process_time()
    fn()
    return time.process_time() - start


# Batches timed per network: (training step, feature extraction); one of each, under a minute in
# all on a small CPU. The FC net is Purchase100's, a cross-check of the rate --calibrate fits.
MEASURE_BATCHES = {"fc": (128, 1024), "alexnet": (32, 16), "resnet": (4, 4), "densenet": (1, 1)}


def measure(threads: int, configfile: str = "config/paper.yaml") -> None:
    import torch
    from deepleak import features, models, training
    from torch.utils.flop_counter import FlopCounterMode

    torch.set_num_threads(threads)
    config = load_config(configfile)
    print(f"torch {torch.__version__}, {threads} thread(s); rates in MACs per CPU-second")
    for name, code in (("torch", "import torch, numpy"),
                       ("light", "import numpy, pandas, matplotlib; matplotlib.use('Agg'); "
                                 "import matplotlib.pyplot")):
        wall, cpu, rss = _child(code)
        print(f"start-up {name}: {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {rss:.0f} MB")
    st = config["standalone"]
    for d, cfg in config["datasets"].items():
        arch = cfg["model"]["arch"]
        if arch not in MEASURE_BATCHES or (arch == "fc" and d != "purchase100"):
            continue
        shape = resources._shape(config, d)
        shape = list(shape) if isinstance(shape, tuple) else [shape]
        n_classes = resources._data(config, d).n_classes
        net = models.build_model(cfg["model"], shape if len(shape) > 1 else shape[0], n_classes,
                                 seed=0)
        model = resources.network(cfg["model"], shape if len(shape) > 1 else shape[0], n_classes)
        # Counting torch's FLOPs of one record is also the networks' warm-up.
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            net.eval()(torch.zeros(1, *shape))
        counted = counter.get_total_flops() / 2
        b_train, b_feat = MEASURE_BATCHES[arch]
        gen = torch.Generator().manual_seed(0)
        x = torch.randint(0, 2 if arch == "fc" else 256, (b_train, *shape), generator=gen).float()
        y = torch.randint(0, n_classes, (b_train,), generator=gen)
        opt = training.make_optimizer(net, cfg["train"])
        net.train()

        def step(net=net, opt=opt, x=x, y=y):
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()

        steps = 10 if arch == "fc" else 1
        t_train = _cpu_seconds(lambda step=step, steps=steps: [step() for _ in range(steps)])
        xs = x[:b_feat].numpy().astype(np.uint8) if b_feat <= b_train else \
            np.random.default_rng(0).integers(0, 2, (b_feat, *shape)).astype(np.uint8)
        ys = np.arange(len(xs)) % n_classes
        kw = dict(gradient_layers=st["gradient_layers"], conv_gradient=st["conv_gradient"],
                  max_output_features=st["max_output_features"], **cfg.get("features", {}))
        t_feat = _cpu_seconds(lambda net=net, xs=xs, ys=ys, kw=kw: features.extract(
            net.eval(), xs, ys, **kw))
        rate_train = resources.TRAIN_PASSES * steps * b_train * model.macs / t_train
        rate_feat = resources.FEATURE_PASSES * len(xs) * model.macs / t_feat
        print(f"{d} ({arch}): forward MACs per record {model.macs:,} (model), {counted:,.0f} "
              f"(FlopCounterMode); {steps} training step(s) of {b_train}: {t_train:.2f} CPU s -> "
              f"{rate_train:.3g}; features of {len(xs)}: {t_feat:.2f} CPU s -> {rate_feat:.3g}")
    # The archive reader on a generated Texas100-shaped archive.
    import tempfile
    import tracemalloc

    from deepleak import datasets

    rng = np.random.default_rng(0)
    n, width = 2000, resources._shape(config, "texas100")
    X = (rng.random((n, width)) < 0.1).astype(np.uint8)
    labels = rng.integers(0, 100, n)
    with tempfile.TemporaryDirectory() as tmp:
        path = datasets.write_archive("texas100", Path(tmp) / "dataset_texas.tgz", X, labels)
        tracemalloc.start()
        cpu = _cpu_seconds(lambda: datasets.load_archive("texas100", path))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    text = 2 * n * width
    print(f"archive reader: {text / 1e6:.0f} MB of text in {cpu:.2f} CPU s -> {text / cpu:.3g} "
          f"bytes per CPU-second; peak {peak / text:.2f} bytes per text byte")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--configfile", default="config/paper.yaml")
    ap.add_argument("--benchmarks", help="benchmark files of a run of config/config.yaml")
    ap.add_argument("--out", default=str(ROOT / "results" / "resource_estimate.md"))
    ap.add_argument("--cores", type=int, default=64,
                    help="cores of the planned machine (caps each job's threads)")
    ap.add_argument("--measure", action="store_true", help="time the CIFAR networks on the CPU")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for --measure")
    ap.add_argument("--calibrate", action="store_true",
                    help="fit COSTS on --benchmarks (a run of config/config.yaml)")
    args = ap.parse_args()
    if args.measure:
        measure(args.threads)
    elif args.calibrate:
        if not args.benchmarks:
            sys.exit("--calibrate needs --benchmarks DIR: the benchmark files of a run of "
                     "config/config.yaml")
        calibrate(args.benchmarks)
    else:
        report(args.configfile, args.benchmarks, Path(args.out), args.cores)


if __name__ == "__main__":
    main()
