"""The resource model: what each job of the DAG costs, from the config alone.

Every rule's ``threads:`` and ``resources:`` (``mem_mb``, ``runtime`` in minutes, ``gpu``) come from
here (workflow/rules/common.smk, ``job_resources``), and benchmarks/resource_model.py tabulates the
paper profile with it. It imports neither torch nor Snakemake: the rule files call it while the DAG
is planned.

A job costs a start-up (Python, torch, its inputs) plus its work. The work is counted from the
networks' layer shapes in multiply-accumulates (MACs) and divided by a throughput measured for the
stage and architecture (:data:`COSTS`):

- train, per record and epoch: a forward and backward pass of each training record (3 forward
  passes' MACs) and the evaluation forward pass over the training and test sets that
  ``training.fit`` makes every epoch;
- features, per record: one forward pass keeping every layer output, then a forward and backward
  pass for the per-example gradients (``features.extract``; :data:`FEATURE_PASSES`);
- attack, per record and epoch of the attack model: Table XIV's attack model, whose MACs follow
  from the widths of the features it reads (a gradient component is n_in x kernels wide), for its
  training, validation and test records;
- federated, per record and round: each party's local epoch and the evaluations, as train, plus the
  observers' features at the observed rounds, as features.

Minibatches of small models cost more than their MACs (Python, kernel dispatch, the optimizer
step): train, attack and federated jobs add a measured overhead per optimizer step. Memory is the
start-up's resident set plus the arrays a job holds: the dataset, its float32 copies, the model with
its gradients and Adam moments, one minibatch's activations, and the feature arrays it reads or
writes (:func:`feature_widths`, the layout ``features.extract`` writes).

On a GPU (jobs with ``gpu=1``) the time is an estimate from the counted FLOPs at an assumed
sustained throughput (``COSTS["gpu_flops_per_s"]``), not a measurement.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from deepleak import federated_runs, finetune, registry, variants

# --------------------------------------------------------------------------------------------------
# The measured constants: one table. Each was measured on 2026-12-03 on a 2-core AMD EPYC VM with
# torch 2.14.1 (CPU), in one of two ways:
# - "fitted": on the reference run, the benchmark files (Snakemake `benchmark:`, read with
#   deepleak.rule_costs) of a full run of config/config.yaml (`--cores 2`, jobs side by side), by
#   `python benchmarks/resource_model.py --calibrate --benchmarks DIR`: a non-negative least-squares
#   fit of every job's wall time (relative errors; jobs 3x slower than the first fit, which ran
#   beside others on too few cores, left out of the second);
# - "measured": by `python benchmarks/resource_model.py --measure` (nice 10, one thread, CPU
#   seconds of the process, so other jobs on the machine do not inflate them): one training step
#   and one feature extraction of each network of config/paper.yaml, start-ups, the archive reader.
# --------------------------------------------------------------------------------------------------
COSTS = {
    # Start-up of a job that imports torch: interpreter, torch, reading its inputs, writing its
    # outputs (fitted; importing torch alone: 2.6 CPU s measured). Its resident set: the smallest
    # peak RSS of a torch job in the reference run (purchase100's features_target: 892 MB).
    "torch_start_s": 3.8,
    "torch_start_mb": 900,
    # A job without torch (tables, figures, splits): numpy, pandas, matplotlib (measured).
    "light_start_s": 1.0,
    "light_start_mb": 160,
    # CPU throughput, MACs per core-second, by (stage, architecture). fc, convnet and the attack
    # model (an FC network whatever the target): fitted (Purchase100 / Texas100 FC nets, the
    # Fashion-MNIST convnet; --measure gives 2.5e10 for Purchase100's FC training, a cross-check).
    # alexnet, resnet, densenet: measured on config/paper.yaml's AlexNet, ResNet-164 (bottleneck)
    # and DenseNet-BC-190 (k = 40). The convnet's feature jobs are too short to fit (start-up is
    # nearly all of them): its training rate stands in.
    "cpu_macs_per_s": {
        ("train", "fc"): 2.25e10,
        ("train", "convnet"): 1.39e9,
        ("train", "alexnet"): 1.85e10,
        ("train", "resnet"): 1.05e10,
        ("train", "densenet"): 1.8e10,
        ("features", "fc"): 8.2e10,
        ("features", "convnet"): 1.39e9,
        ("features", "alexnet"): 5.5e9,
        ("features", "resnet"): 1.37e10,
        ("features", "densenet"): 2.53e10,
        ("attack", "fc"): 8.2e9,
    },
    # Seconds per optimizer step beyond its MACs (Python, dispatch, the optimizer): fitted (train:
    # 0, the FC nets' batches of 128 hide it; attack: every attack job's batches of 64; federated:
    # the 13 simulations, whose parties train in batches of 32 / 64 with a fresh optimizer and a
    # model copy every round).
    "step_s": {"train": 0.0, "attack": 0.0021, "federated": 0.0059},
    # How much a second thread adds: k threads run (1 + (k - 1) x this) times as fast as one. An
    # assumption for torch's CPU kernels on large matrices, not a measurement (the reference run ran
    # every job at 1 or 2 threads on 2 cores); it only matters for profiles with more threads.
    "thread_efficiency": 0.7,
    # Reading a real archive (rule prepare_dataset): bytes of 0/1 text per CPU-second, and the peak
    # memory per byte of text (the text, the uint8 matrix, block temporaries). Measured on a
    # generated Texas100-shaped archive of 2,000 records (the fast reader, deepleak/datasets.py).
    "parse_bytes_per_s": 1.46e8,
    "parse_mb_per_text_mb": 3.0,
    # Generating a stand-in (rule generate_standin_<data>), seconds per generated value (record x
    # feature), by generator (the registry's `standin`): fitted on the two jobs (the Purchase100
    # generator clusters its records with k-means). A generator not listed costs the dearest.
    "standin_s_per_value": {"purchase_standin": 2.0e-6, "texas_standin": 2.3e-8},
    # GPU jobs: an assumed sustained fp32 throughput, 30 % of an NVIDIA A100's 19.5 TFLOPS peak
    # (FLOPs = 2 x MACs). Convolution-heavy training at batch 64-128 sustains about this; small
    # models sustain less, hence a per-step overhead (kernel launches and the loss's host
    # synchronisation every step). Both assumed, not measured: no GPU was at hand.
    "gpu_flops_per_s": 0.30 * 19.5e12,
    "gpu_step_s": 0.001,
    # Host memory a CUDA context adds to a job (assumed; its activations live on the GPU).
    "cuda_context_mb": 1500,
}

# A record's features cost at most this many forward passes: one keeping every layer output, then
# a forward and a backward pass (about three) for the per-example gradients (features.extract).
# The backward pass stops at the deepest gradient layer, so it is less for most networks: the CPU
# rates, measured per these units, absorb that; the GPU estimate keeps the upper bound.
FEATURE_PASSES = 4
# A training record costs a forward and a backward pass, about three forward passes.
TRAIN_PASSES = 3
# DP-SGD with ghost clipping (Opacus, deepleak/dp.py): a forward pass, a backward pass for the
# per-example norms, a second backward pass with the clipping factors: about five forward passes.
# Measured on the Purchase100 FC net: an epoch about 3x a plain one (the second pass, the norms and
# Opacus's hooks); five passes and the training rate bound it.
DP_TRAIN_PASSES = 5

# What a job asks the scheduler for, beyond its estimate: the estimate is within a factor of about
# 3 of the measured times (benchmarks/resource_model.py), so 3x the time and 1.5x the memory, never
# under the minimum; a retry (the SLURM profile's `retries`) asks for `attempt` times as much.
REQUEST = {"time_factor": 3.0, "mem_factor": 1.5, "min_runtime_min": 10, "min_mem_mb": 1000}

# Bytes per stored number: features are float32, labels and record ids int64.
FLOAT_BYTES, INT_BYTES = 4, 8


# --------------------------------------------------------------------------------------------------
# Networks: MACs, parameters, activations and the attack's layers, from the layer shapes
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layer:
    """One of a model's attack layers (its ``layer_names``) and the module its gradient is read
    from (deepleak/models.py, deepleak/cnn.py)."""

    name: str
    kind: str        # "linear" or "conv": how its gradient is stored
    out: int         # numbers in its output per record (C x H x W, or the width)
    channels: int    # output channels (conv) or width (linear)
    grad_in: int     # linear: input width; conv: C_in x kh x kw of the gradient's module
    grad_out: int    # output channels / width of the gradient's module
    bias: bool       # whether that module has a bias


@dataclass
class Net:
    """Per record: forward MACs, parameters, activations a training step keeps; the attack
    layers."""

    macs: int = 0
    params: int = 0
    activations: int = 0
    layers: list[Layer] = field(default_factory=list)

    def conv(self, c_in, c_out, k, h, w, stride=1, pad=0, bias=False):
        """Add a k x k convolution on a [c_in, h, w] map; return its output's (h, w)."""
        h2, w2 = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
        self.macs += c_in * k * k * c_out * h2 * w2
        self.params += c_in * k * k * c_out + (c_out if bias else 0)
        self.activations += c_out * h2 * w2
        return h2, w2

    def linear(self, n_in, n_out):
        self.macs += n_in * n_out
        self.params += n_in * n_out + n_out
        self.activations += n_out


def _fc(d, n_classes, hidden):
    net = Net()
    widths = [d, *hidden, n_classes]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=False)):
        net.linear(a, b)
        net.activations += b  # the non-linearity's output
        net.layers.append(Layer(f"fc{i + 1}", "linear", b, b, a, b, True))
    return net


def _convnet(shape, n_classes, channels, hidden):
    net = Net()
    c, h, w = shape
    for i, out in enumerate(channels):
        net.conv(c, out, 3, h, w, pad=1, bias=True)
        net.activations += out * h * w + out * (h // 2) * (w // 2)  # ReLU, max-pool
        grad_in, (c, h, w) = 9 * c, (out, h // 2, w // 2)
        net.layers.append(Layer(f"conv{i + 1}", "conv", c * h * w, c, grad_in, out, True))
    widths = [c * h * w, *hidden, n_classes]
    for j, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=False)):
        net.linear(a, b)
        net.layers.append(Layer(f"fc{j + 1}", "linear", b, b, a, b, True))
    return net


def _alexnet(shape, n_classes):
    """bearpaw's CIFAR AlexNet (deepleak/cnn.py AlexNet)."""
    net = Net()
    c, h, w = shape
    plan = [(64, 11, 4, 5, True), (192, 5, 1, 2, True), (384, 3, 1, 1, False),
            (256, 3, 1, 1, False), (256, 3, 1, 1, True)]  # (out, kernel, stride, pad, pool after)
    for i, (out, k, s, p, pool) in enumerate(plan):
        h, w = net.conv(c, out, k, h, w, stride=s, pad=p, bias=True)
        net.activations += out * h * w  # ReLU
        grad_in = c * k * k
        c = out
        if pool:
            h, w = h // 2, w // 2
            net.activations += c * h * w
        net.layers.append(Layer(f"conv{i + 1}", "conv", c * h * w, c, grad_in, out, True))
    net.linear(c * h * w, n_classes)
    net.layers.append(Layer("fc", "linear", n_classes, n_classes, c * h * w, n_classes, True))
    return net


def _batch_norm(net, c, h, w):
    net.params += 2 * c
    net.activations += 2 * c * h * w  # normalised output and the ReLU after it


def _resnet(shape, n_classes, depth, block):
    """bearpaw's CIFAR ResNet (deepleak/cnn.py ResNet); a stage's gradient is its last conv's."""
    per, expansion = {"basic": (6, 1), "bottleneck": (9, 4)}[block]
    n = (depth - 2) // per
    net = Net()
    c, h, w = shape
    h, w = net.conv(c, 16, 3, h, w, pad=1)
    _batch_norm(net, 16, h, w)
    net.layers.append(Layer("conv1", "conv", 16 * h * w, 16, c * 9, 16, False))
    inplanes = 16
    for stage, planes in enumerate((16, 32, 64)):
        for b in range(n):
            stride = 2 if stage and b == 0 else 1
            h_in, w_in = h, w
            if block == "bottleneck":
                net.conv(inplanes, planes, 1, h, w)
                _batch_norm(net, planes, h, w)
                h, w = net.conv(planes, planes, 3, h, w, stride=stride, pad=1)
                _batch_norm(net, planes, h, w)
                net.conv(planes, planes * 4, 1, h, w)
                last_in = planes
            else:
                h, w = net.conv(inplanes, planes, 3, h, w, stride=stride, pad=1)
                _batch_norm(net, planes, h, w)
                net.conv(planes, planes, 3, h, w, pad=1)
                last_in = planes * 9
            _batch_norm(net, planes * expansion, h, w)
            if stride != 1 or inplanes != planes * expansion:
                net.conv(inplanes, planes * expansion, 1, h_in, w_in, stride=stride)
                _batch_norm(net, planes * expansion, h, w)
            inplanes = planes * expansion
        net.layers.append(Layer(f"layer{stage + 1}", "conv", inplanes * h * w, inplanes, last_in,
                                inplanes, False))
    net.linear(inplanes, n_classes)
    net.layers.append(Layer("fc", "linear", n_classes, n_classes, inplanes, n_classes, True))
    return net


def _densenet(shape, n_classes, depth, k, block, compression):
    """bearpaw's CIFAR DenseNet (deepleak/cnn.py DenseNet); a dense block's gradient is its last
    layer's last conv's, a transition's its conv's."""
    n = (depth - 4) // {"bottleneck": 6, "basic": 3}[block]
    net = Net()
    c, h, w = shape
    planes = 2 * k
    net.conv(c, planes, 3, h, w, pad=1)
    net.layers.append(Layer("conv1", "conv", planes * h * w, planes, c * 9, planes, False))
    for i in (1, 2, 3):
        for _ in range(n):
            _batch_norm(net, planes, h, w)
            if block == "bottleneck":
                net.conv(planes, 4 * k, 1, h, w)
                _batch_norm(net, 4 * k, h, w)
                net.conv(4 * k, k, 3, h, w, pad=1)
                last_in = 4 * k * 9
            else:
                net.conv(planes, k, 3, h, w, pad=1)
                last_in = planes * 9
            planes += k
            net.activations += planes * h * w  # torch.cat makes a new map every layer
        net.layers.append(Layer(f"dense{i}", "conv", planes * h * w, planes, last_in, k, False))
        if i < 3:
            _batch_norm(net, planes, h, w)
            out = planes // compression
            net.conv(planes, out, 1, h, w)
            h, w = h // 2, w // 2
            net.activations += out * h * w
            net.layers.append(Layer(f"trans{i}", "conv", out * h * w, out, planes, out, False))
            planes = out
    _batch_norm(net, planes, h, w)
    net.linear(planes, n_classes)
    net.layers.append(Layer("fc", "linear", n_classes, n_classes, planes, n_classes, True))
    return net


def network(spec: dict, shape, n_classes: int) -> Net:
    """The shapes of the model a config entry's ``model`` builds (deepleak/models.py build_model)
    for records of ``shape`` (a width, or [C, H, W])."""
    arch = spec["arch"]
    if arch == "fc":
        width = shape if isinstance(shape, int) else math.prod(shape)
        return _fc(width, n_classes, spec["hidden"])
    if arch == "convnet":
        return _convnet(tuple(shape), n_classes, spec["channels"], spec.get("hidden", (128,)))
    if arch == "alexnet":
        return _alexnet(tuple(shape), n_classes)
    if arch == "resnet":
        return _resnet(tuple(shape), n_classes, spec["depth"], spec.get("block", "bottleneck"))
    if arch == "densenet":
        return _densenet(tuple(shape), n_classes, spec["depth"], spec["growth_rate"],
                         spec.get("block", "bottleneck"), spec.get("compression", 2))
    raise ValueError(f"the resource model knows no architecture {arch!r} (deepleak/resources.py "
                     "network); add its layer shapes there")


# --------------------------------------------------------------------------------------------------
# Feature files and attack models
# --------------------------------------------------------------------------------------------------
def feature_widths(net: Net, n_classes: int, gradient_layers: int,
                   conv_gradient: str = "channel_norms",
                   max_output_features: int | None = 4096) -> dict[str, int]:
    """Numbers per record of each array ``features.extract`` writes (its keys), for one snapshot.

    A conv layer's output above ``max_output_features`` numbers is stored as its per-channel mean
    (C numbers); a conv layer's gradient as ``channel_norms`` (per output channel its
    weight-gradient norm, and its bias gradient when it has one) or ``kernel`` (C_in x kh x kw x
    C_out numbers); a linear layer's as its factors h_in and delta."""
    widths = {}
    for layer in net.layers:
        big = max_output_features is not None and layer.out > max_output_features
        summarised = layer.kind == "conv" and layer.out != layer.channels and big
        widths[f"out/{layer.name}"] = layer.channels if summarised else layer.out
    widths.update({"logits": n_classes, "loss": 1, "label": 1, "correct": 1, "records": 1})
    for layer in net.layers[len(net.layers) - gradient_layers:]:
        widths[f"grad_norm/{layer.name}"] = 1
        if layer.kind == "linear":
            widths[f"h_in/{layer.name}"] = layer.grad_in
            widths[f"delta/{layer.name}"] = layer.grad_out
        elif conv_gradient == "kernel":
            widths[f"conv_grad_kernel/{layer.name}"] = layer.grad_in * layer.grad_out
            widths[f"conv_grad_kernel/{layer.name}#rows"] = layer.grad_in
        else:
            widths[f"conv_grad_channel_norms/{layer.name}"] = layer.grad_out * (1 + layer.bias)
    return widths


def feature_bytes(widths: dict[str, int], observations: int = 1) -> int:
    """Bytes per record of a feature file: float32 arrays, int64 labels and record ids (stored
    once, whatever the number of snapshots)."""
    ints = ("label", "records")
    floats = sum(v for k, v in widths.items() if k not in ints and not k.endswith("#rows"))
    return observations * FLOAT_BYTES * floats + INT_BYTES * len(ints)


def _fc_stack(widths) -> tuple[int, int]:
    """(MACs, parameters) of linear layers of these widths (deepleak/attack.py fc_stack)."""
    pairs = list(zip(widths[:-1], widths[1:], strict=False))
    return sum(a * b for a, b in pairs), sum(a * b + b for a, b in pairs)


@dataclass(frozen=True)
class AttackNet:
    """An attack model, per record: forward MACs, parameters, the activations a training step keeps
    and the numbers it reads (all observations)."""

    macs: int
    params: int
    activations: int
    inputs: int


def _gradient_component(name: str, widths: dict[str, int], hp: dict) -> tuple[int, int, int]:
    """(MACs, parameters, activations) of one gradient component (deepleak/attack.py)."""
    gw, kernels = list(hp["gradient_widths"]), hp["kernels"]
    if f"conv_grad_channel_norms/{name}" in widths:  # FC layers on the per-channel summary
        macs, params = _fc_stack([widths[f"conv_grad_channel_norms/{name}"], *gw])
        return macs, params, sum(gw)
    if f"conv_grad_kernel/{name}" in widths:  # the whole n_in x n_out matrix, times the kernels
        rows = widths[f"conv_grad_kernel/{name}#rows"]
        cols = widths[f"conv_grad_kernel/{name}"] // rows
        conv = rows * cols * kernels
    else:  # the factors: h_in (x) (K delta), never the matrix (Table XIV, deepleak/gradients.py)
        rows, cols = widths[f"h_in/{name}"], widths[f"delta/{name}"]
        conv = kernels * cols + rows * kernels
    macs, params = _fc_stack([rows * kernels, *gw])
    # The n_in x kernels map is kept three times: the convolution, its ReLU, its dropout.
    return conv + macs, kernels * (cols + 1) + params, 3 * rows * kernels + sum(gw)


def attack_net(spec: variants.AttackFeatures, widths: dict[str, int], n_classes: int, hp: dict,
               observations: int = 1) -> AttackNet:
    """Table XIV's attack model on the features ``spec`` reads (deepleak/attack.py AttackModel):
    an FC component per output and for the loss, one for the label, a gradient component per
    layer, all shared by the T ``observations``, then the encoder."""
    cw = list(hp["component_widths"])
    macs = params = act = 0
    for key in [f"out/{n}" for n in spec.outputs] + (["loss"] if spec.loss else []):
        m, p = _fc_stack([widths[key], *cw])
        macs, params, act = macs + m, params + p, act + sum(cw)
    for name in spec.gradients:
        m, p, a = _gradient_component(name, widths, hp)
        macs, params, act = macs + m, params + p, act + a
    per_obs = cw[-1] * (len(spec.outputs) + spec.loss) + hp["gradient_widths"][-1] * len(
        spec.gradients)
    label = _fc_stack([n_classes, *cw]) if spec.label else (0, 0)
    encoder = _fc_stack([per_obs * observations + (cw[-1] if spec.label else 0),
                         *hp["encoder_widths"], 1])
    inputs = observations * sum(widths[k] for k in spec.keys(widths) if k != "label") + 1
    return AttackNet(macs=macs * observations + label[0] + encoder[0],
                     params=params + label[1] + encoder[1],
                     activations=act * observations + sum(hp["encoder_widths"]), inputs=inputs)


# --------------------------------------------------------------------------------------------------
# A job's estimate
# --------------------------------------------------------------------------------------------------
def unit_cost(unit: str) -> float:
    """CPU seconds of one unit of work (:data:`COSTS`). Units: ``start:torch`` / ``start:light``
    (one per job), ``macs:<stage>:<arch>`` (multiply-accumulates), ``steps:<stage>`` (optimizer
    steps), ``text_bytes`` (archive text parsed), ``standin:<generator>`` (stand-in values
    generated)."""
    kind, _, rest = unit.partition(":")
    try:
        if kind == "start":
            return COSTS[f"{rest}_start_s"]
        if kind == "macs":
            stage, arch = rest.split(":")
            return 1.0 / COSTS["cpu_macs_per_s"][(stage, arch)]
        if kind == "steps":
            return COSTS["step_s"][rest]
        if kind == "text_bytes":
            return 1.0 / COSTS["parse_bytes_per_s"]
        if kind == "standin":
            known = COSTS["standin_s_per_value"]
            return known.get(rest, max(known.values()))
    except KeyError:
        pass
    raise ValueError(f"the resource model has no cost for {unit!r}; measure it "
                     "(benchmarks/resource_model.py) and add it to COSTS in deepleak/resources.py")


@dataclass
class Estimate:
    """What one job costs: its work in units (:func:`unit_cost`), its peak resident memory, whether
    it runs on a GPU, the feature file it writes and, for a GPU job, the memory its GPU needs."""

    work: dict[str, float]
    mem_mb: float
    gpu: int = 0
    output_bytes: int = 0
    device_mem_mb: float = 0.0
    # The resident memory of a GPU job run on a CPU instead (device auto without a GPU), whose
    # activations then live in host memory; None: ``mem_mb``.
    cpu_mem: float | None = None

    @property
    def cpu_mem_mb(self) -> float:
        """Peak resident memory when the job runs on a CPU."""
        return self.mem_mb if self.cpu_mem is None else self.cpu_mem

    def seconds(self, prefix: str = "") -> float:
        """CPU seconds of the units whose name starts with ``prefix`` (all: core-seconds)."""
        return sum(n * unit_cost(u) for u, n in self.work.items() if u.startswith(prefix))

    @property
    def cpu_core_s(self) -> float:
        """CPU time of the job run on a CPU: core-seconds, whatever its threads."""
        return self.seconds()

    @property
    def gpu_s(self) -> float:
        """Wall seconds on one GPU: the start-up, the counted FLOPs (2 per MAC) at the assumed
        sustained throughput and a launch overhead per optimizer step (:data:`COSTS`)."""
        flops = sum(2 * n for u, n in self.work.items() if u.startswith("macs:"))
        steps = sum(n for u, n in self.work.items() if u.startswith("steps:"))
        return (self.seconds("start:") + flops / COSTS["gpu_flops_per_s"]
                + steps * COSTS["gpu_step_s"])

    def cpu_wall_s(self, threads: int) -> float:
        """Wall seconds on ``threads`` CPU cores (the start-up is serial)."""
        serial = self.seconds("start:")
        return serial + (self.cpu_core_s - serial) / speedup(threads)

    def wall_s(self, threads: int) -> float:
        """Wall seconds where the scheduler runs it: on its GPU if it asks for one, else on
        ``threads`` CPU cores."""
        return self.gpu_s if self.gpu else self.cpu_wall_s(threads)

    def runtime_min(self, threads: int, attempt: int = 1) -> int:
        """Minutes to ask the scheduler for (``resources: runtime``)."""
        minutes = math.ceil(self.wall_s(threads) * REQUEST["time_factor"] / 60)
        return max(REQUEST["min_runtime_min"], minutes) * attempt

    def request_mem_mb(self, attempt: int = 1, cap: int | None = None) -> int:
        """Megabytes to ask the scheduler for (``resources: mem_mb``), in whole 100 MB, at most
        ``cap`` (the config's ``node_mem_mb``: a request no node can meet would wait forever)."""
        mb = max(REQUEST["min_mem_mb"], self.mem_mb * REQUEST["mem_factor"]) * attempt
        mb = int(math.ceil(mb / 100) * 100)
        return mb if cap is None else min(mb, int(cap))


def speedup(threads: int) -> float:
    """How many times faster than one thread ``threads`` threads run (``thread_efficiency``)."""
    return 1 + (max(1, threads) - 1) * COSTS["thread_efficiency"]


def threads_for(estimate: Estimate, threads: int, over_s: float = 1800) -> int:
    """Threads of a job whose torch work is small models in small batches (attack models, the
    federated parties' epochs): one, where a second thread buys little and two one-thread jobs
    share a small machine better, unless one thread would take more than ``over_s`` seconds (the
    paper profile's attack models with 1,000 kernels), then the config's ``threads``."""
    return threads if estimate.cpu_core_s > over_s else 1


def _mb(n_bytes: float) -> float:
    return n_bytes / 1e6


# --------------------------------------------------------------------------------------------------
# The config's view of a dataset
# --------------------------------------------------------------------------------------------------
def uses_gpu(config: dict, dataset: str) -> int:
    """1 for jobs that run torch on a GPU: device cuda, or device auto for the image models (the
    rule then uses a GPU if one is visible; `--resources gpu=N` caps how many such jobs run at
    once)."""
    return int(config["device"] == "cuda"
               or (config["device"] == "auto" and _data(config, dataset).kind == "image"))


def _data(config: dict, dataset: str) -> registry.Dataset:
    return registry.DATASETS[config["datasets"][dataset].get("data", dataset)]


def _shape(config: dict, dataset: str):
    layout = _data(config, dataset).layout
    return layout.shape if isinstance(layout, registry.ImageLayout) else layout.n_features


def _record_bytes(config: dict, dataset: str) -> int:
    """Bytes of one record in dataset.npz (uint8 0/1 features or pixels)."""
    return math.prod(_shape(config, dataset)) if isinstance(_shape(config, dataset), tuple) \
        else _shape(config, dataset)


def n_records(config: dict, dataset: str) -> int:
    """Records in the dataset.npz a job loads whole (deepleak/config_checks.py fits the sizes in
    them)."""
    cfg, data = config["datasets"][dataset], _data(config, dataset)
    if cfg["source"] == "synthetic":  # the stand-in the entry named after its data generates
        return config["datasets"][cfg.get("data", dataset)]["standin"]["n_records"]
    if cfg["subset"]:
        return cfg["subset"]["train"] + cfg["subset"]["test"]
    layout = data.layout
    if isinstance(layout, registry.ImageLayout):
        return layout.n_train + layout.n_test
    # An archive of unknown size holds at least the stand-alone scenario's records.
    return layout.n_records or sum(cfg["standalone"]["sizes"].values())


def _net(config: dict, dataset: str) -> Net:
    return network(config["datasets"][dataset]["model"], _shape(config, dataset),
                   _data(config, dataset).n_classes)


def _arch(config: dict, dataset: str) -> str:
    return config["datasets"][dataset]["model"]["arch"]


def _base_mb(config: dict, dataset: str) -> float:
    """A torch job's start-up and the whole dataset.npz it loads."""
    return COSTS["torch_start_mb"] + _mb(n_records(config, dataset) * _record_bytes(config,
                                                                                      dataset))


# --------------------------------------------------------------------------------------------------
# Stages
# --------------------------------------------------------------------------------------------------
def train_estimate(config: dict, dataset: str, n_train: int, n_test: int, train: dict,
                   track: int = 0, pretrained: bool = False, record_passes: int = TRAIN_PASSES
                   ) -> Estimate:
    """``training.fit`` of the dataset's model on ``n_train`` records for ``train["epochs"]``,
    evaluated on the training and ``n_test`` test records every epoch (and before the first), with
    ``track`` members' and non-members' last-layer gradient norms (Figure 3)."""
    net, arch = _net(config, dataset), _arch(config, dataset)
    epochs = 0 if pretrained else train["epochs"]
    passes = (epochs * record_passes * n_train
              + (epochs + 1) * (n_train + n_test + 2 * track * TRAIN_PASSES))
    gpu = uses_gpu(config, dataset)
    # A training step keeps every activation of its batch; training.evaluate runs batches of 2,048
    # records without gradients, holding about two layer outputs at a time.
    activations = FLOAT_BYTES * max(train["batch_size"] * net.activations,
                                    2048 * 2 * max(layer.out for layer in net.layers))
    state = 16 * net.params  # weights, gradients, two Adam moments (or SGD's momentum)
    host = (_base_mb(config, dataset)
            + _mb((n_train + n_test) * _record_bytes(config, dataset) * FLOAT_BYTES) + _mb(state))
    return Estimate(
        work={"start:torch": 1, f"macs:train:{arch}": passes * net.macs,
              "steps:train": epochs * math.ceil(n_train / train["batch_size"])},
        mem_mb=host + (COSTS["cuda_context_mb"] if gpu else _mb(activations)), gpu=gpu,
        device_mem_mb=_mb(state + activations) if gpu else 0.0, cpu_mem=host + _mb(activations))


def features_estimate(config: dict, dataset: str, n_records: int, gradient_layers: int,
                      snapshots: int = 1, conv_gradient: str = "channel_norms",
                      max_output_features: int | None = 4096) -> Estimate:
    """``features.extract`` on ``n_records`` records of each of ``snapshots`` models."""
    net, arch = _net(config, dataset), _arch(config, dataset)
    widths = feature_widths(net, _data(config, dataset).n_classes, gradient_layers, conv_gradient,
                            max_output_features)
    per_record = feature_bytes(widths, snapshots)
    batch = min(n_records, config["datasets"][dataset]["features"]["batch_size"])
    gpu = uses_gpu(config, dataset)
    # The graph of one batch's forward and backward pass for the gradients (the pass keeping the
    # layer outputs holds only those).
    activations = FLOAT_BYTES * batch * net.activations
    host = (_base_mb(config, dataset) + _mb(n_records * _record_bytes(config, dataset))
            + _mb(2 * n_records * per_record))  # the per-batch parts, then their concatenation
    return Estimate(
        work={"start:torch": 1,
              f"macs:features:{arch}": snapshots * n_records * FEATURE_PASSES * net.macs},
        mem_mb=host + (COSTS["cuda_context_mb"] if gpu else _mb(activations)), gpu=gpu,
        output_bytes=n_records * per_record, cpu_mem=host + _mb(activations),
        device_mem_mb=_mb(FLOAT_BYTES * net.params + activations) if gpu else 0.0)


@dataclass(frozen=True)
class AttackRun:
    """One attack model trained in a job: its network, the records it trains on per epoch (the
    balanced batches'), validates on every epoch and scores once, its epochs and batch size."""

    net: AttackNet
    train: int
    val: int
    test: int
    epochs: int
    batch: int


def attack_estimate(config: dict, runs: list[AttackRun], feature_files_bytes: float) -> Estimate:
    """Attack models trained one after the other in one job (deepleak/attack.py fit_supervised),
    after loading ``feature_files_bytes`` of features."""
    macs = sum(r.epochs * (TRAIN_PASSES * r.train + r.val) * r.net.macs + r.test * r.net.macs
               for r in runs)
    steps = sum(r.epochs * math.ceil(r.train / r.batch) for r in runs)
    # One model at a time: its inputs, gathered then standardised (two float32 copies), its
    # weights, gradients, Adam moments and the best epoch's copy, one batch's activations.
    peak = max(_mb(2 * FLOAT_BYTES * r.net.inputs * (r.train + r.val + r.test)
                   + 5 * FLOAT_BYTES * r.net.params + 3 * FLOAT_BYTES * r.batch
                   * r.net.activations) for r in runs)
    return Estimate(work={"start:torch": 1, "macs:attack:fc": macs, "steps:attack": steps},
                    mem_mb=COSTS["torch_start_mb"] + _mb(feature_files_bytes) + peak)


def _known(n: int, validation_fraction: float) -> tuple[int, int]:
    """(train, validation) of ``n`` known records (deepleak/splits.py)."""
    val = int(round(n * validation_fraction))
    return n - val, val


def _supervised(net: AttackNet, members: int, nonmembers: int, test: int, validation: float,
                hp: dict) -> AttackRun:
    """An attack trained on ``members`` / ``nonmembers`` known records (validation included):
    each epoch draws balanced batches, min(members, non-members) of each."""
    (tr_m, va_m), (tr_n, va_n) = _known(members, validation), _known(nonmembers, validation)
    half = hp["batch_size"] // 2
    per_epoch = 2 * half * (min(tr_m, tr_n) // half)
    return AttackRun(net, per_epoch, va_m + va_n, test, hp["epochs"], hp["batch_size"])


# --------------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------------
def _standalone(config, dataset):
    return config["datasets"][dataset]["standalone"]["sizes"]


def _standalone_widths(config, dataset):
    st = config["standalone"]
    return feature_widths(_net(config, dataset), _data(config, dataset).n_classes,
                          st["gradient_layers"], st["conv_gradient"], st["max_output_features"])


def _layer_names(config, dataset):
    return [layer.name for layer in _net(config, dataset).layers]


def _standalone_features(config, dataset, model):
    """Records of a stand-alone feature file (scripts/extract_features.py RECORD_SETS)."""
    s = _standalone(config, dataset)
    if model == "shadow":
        return s["shadow_train"] + s["shadow_test"]
    return (s["attack_train_members"] + s["attack_train_nonmembers"] + s["attack_test_members"]
            + s["attack_test_nonmembers"])


def _variant_net(config, dataset, attack, widths, observations=1):
    variant, _ = variants.variant_of(attack)
    spec = variant.resolve(_layer_names(config, dataset),
                           config["standalone"]["gradient_layers"])
    return attack_net(spec, widths, _data(config, dataset).n_classes, config["attack_model"],
                      observations)


def _attack_group(config, dataset, attacks):
    s, st = _standalone(config, dataset), config["standalone"]
    widths = _standalone_widths(config, dataset)
    fractions = st["knowledge_fractions"]
    runs = []
    for a in attacks:
        _, known = variants.variant_of(a)
        fm, fn = fractions[known] if known is not None else (1.0, 1.0)
        runs.append(_supervised(
            _variant_net(config, dataset, a, widths), int(s["attack_train_members"] * fm),
            int(s["attack_train_nonmembers"] * fn),
            s["attack_test_members"] + s["attack_test_nonmembers"],
            st["validation_fraction"], config["attack_model"]))
    n_file = _standalone_features(config, dataset, "target")
    return attack_estimate(config, runs, n_file * feature_bytes(widths))


def _shadow_attack(config, dataset):
    s, st = _standalone(config, dataset), config["standalone"]
    widths = _standalone_widths(config, dataset)
    run = _supervised(_variant_net(config, dataset, config["shadow_attack"]["attack"], widths),
                      s["shadow_train"], s["shadow_test"],
                      s["attack_test_members"] + s["attack_test_nonmembers"],
                      st["validation_fraction"], config["attack_model"])
    files = sum(_standalone_features(config, dataset, m) for m in ("target", "shadow"))
    return attack_estimate(config, [run], files * feature_bytes(widths))


def _unsupervised_attack(config, dataset):
    s, un = _standalone(config, dataset), config["unsupervised"]
    widths = _standalone_widths(config, dataset)
    encoder = _variant_net(config, dataset, un["attack"], widths)
    decoder = _fc_stack([1, *un["decoder_widths"], len(un["decoder_targets"])])
    net = AttackNet(encoder.macs + decoder[0], encoder.params + decoder[1], encoder.activations,
                    encoder.inputs)
    known = s["attack_train_members"] + s["attack_train_nonmembers"]
    # Every known record each epoch, no validation (no labels); then the test records' codes.
    run = AttackRun(net, known, 0, s["attack_test_members"] + s["attack_test_nonmembers"],
                    un["epochs"], un["batch_size"])
    n_file = _standalone_features(config, dataset, "target")
    return attack_estimate(config, [run], n_file * feature_bytes(widths))


def _baselines(config, dataset):
    widths = _standalone_widths(config, dataset)
    files = sum(_standalone_features(config, dataset, m) for m in ("target", "shadow"))
    return Estimate(work={"start:torch": 1},
                    mem_mb=COSTS["torch_start_mb"] + _mb(files * feature_bytes(widths)))


def _finetune_sizes(config, dataset):
    return config["finetune"]["sizes"][dataset]


def _finetune_records(config, dataset):
    s = _finetune_sizes(config, dataset)
    return len(finetune.POOLS) * (s["attack_known"] + s["attack_test"])


def _finetune_widths(config, dataset):
    return feature_widths(_net(config, dataset), _data(config, dataset).n_classes,
                          config["finetune"]["gradient_layers"])


def _train_finetune(config, dataset):
    """Training on D, then fine-tuning on D_delta, both tested on D-bar (train_finetune.py)."""
    s, ft = _finetune_sizes(config, dataset), config["finetune"]
    d = int(round(s["target_train"] * ft["d_fraction"]))
    phases = [train_estimate(config, dataset, d, s["nonmembers"], config["datasets"][dataset][
        "train"]), train_estimate(config, dataset, s["target_train"] - d, s["nonmembers"],
                                  ft["train"])]
    work = {u: sum(p.work.get(u, 0) for p in phases) for u in phases[0].work}
    work["start:torch"] = 1
    return Estimate(work=work, mem_mb=max(p.mem_mb for p in phases), gpu=phases[0].gpu,
                    device_mem_mb=max(p.device_mem_mb for p in phases),
                    cpu_mem=max(p.cpu_mem_mb for p in phases))


def _finetune_attacks(config, dataset):
    s, ft = _finetune_sizes(config, dataset), config["finetune"]
    widths = _finetune_widths(config, dataset)
    variant = variants.VARIANTS[ft["attack"]]
    spec = variant.resolve(_layer_names(config, dataset), ft["gradient_layers"])
    snapshots = len(finetune.SNAPSHOTS)
    net = attack_net(spec, widths, _data(config, dataset).n_classes, config["attack_model"],
                     snapshots)
    runs = [_supervised(net, s["attack_known"], s["attack_known"], 2 * s["attack_test"],
                        ft["validation_fraction"], config["attack_model"])
            for _ in finetune.TASKS]
    return attack_estimate(config, runs,
                           _finetune_records(config, dataset) * feature_bytes(widths, snapshots))


def _federated(config, dataset):
    fed = config["federated"]
    return fed, fed["per_dataset"][dataset], fed["per_dataset"][dataset]["sizes"]


def _federated_views(config, dataset, run_name):
    """{view: (records, observed rounds)} of a run (deepleak/federated.py observer_views)."""
    fed, cfg, s = _federated(config, dataset)
    run = federated_runs.run_of(run_name, fed["parties"], federated_runs.party_sweep(fed, dataset))
    observed = list(cfg["observed_epochs"])
    extra = sorted({e for es in federated_runs.table12_epoch_sets(fed, dataset) for e in es}) \
        if run_name == "passive" else []
    local = s.get("local_attack_test_members", s["attack_test_members"])
    views = {}
    if run.observer in ("central", "both"):
        watched = run.parties if run.observer == "both" else 1
        central = (s["attack_train_members"] + s["attack_test_members"]
                   + s["attack_train_nonmembers"] + s["attack_test_nonmembers"])
        views.update({f"party{k}": (central, sorted(set(observed) | set(extra)))
                      for k in range(watched)})
    if run.observer in ("local", "both"):
        views["global"] = (s["attack_train_members"] + s["attack_train_nonmembers"] + 2 * local,
                           observed)
    return run, views


def _federated_widths(config, dataset):
    fed = config["federated"]
    layers = max(fed["features"]["gradients"], default=1)
    return feature_widths(_net(config, dataset), _data(config, dataset).n_classes, layers)


def _federated_spec(config, dataset):
    f = config["federated"]["features"]
    variant = variants.Variant(outputs=tuple(f["outputs"]), gradients=tuple(f["gradients"]))
    return variant.resolve(_layer_names(config, dataset), max(f["gradients"], default=1))


def _federated_simulate(config, dataset, run_name):
    fed, cfg, s = _federated(config, dataset)
    run, views = _federated_views(config, dataset, run_name)
    net, arch = _net(config, dataset), _arch(config, dataset)
    rounds, batch, party = cfg["rounds"], cfg["train"]["batch_size"], s["party_train"]
    steps = rounds * run.parties * math.ceil(party / batch)
    # Each round: every party's local epoch, the target party's and the global model's test
    # accuracy, Figure 7's tracked groups (four of track_records).
    train_passes = rounds * (run.parties * TRAIN_PASSES * party + 2 * s["test"]
                             + 4 * fed["track_records"] * TRAIN_PASSES)
    observed = sum(n * len(epochs) for n, epochs in views.values())
    widths = _federated_widths(config, dataset)
    observations = sum(n * feature_bytes(widths, len(e)) for n, e in views.values())
    # The parties' data and the test set as float32, the observation arrays, the model states
    # (the working one, the global one, the running average in float64, the isolated party's).
    mem = (_base_mb(config, dataset)
           + _mb((run.parties * party + s["test"]) * _record_bytes(config, dataset) * FLOAT_BYTES)
           + _mb(observations)
           + _mb(6 * FLOAT_BYTES * net.params + FLOAT_BYTES * batch * net.activations))
    return Estimate(work={"start:torch": 1, f"macs:train:{arch}": train_passes * net.macs,
                          f"macs:features:{arch}": observed * FEATURE_PASSES * net.macs,
                          "steps:federated": steps},
                    mem_mb=mem, output_bytes=observations)


def _federated_attack(config, dataset, run_name):
    fed, cfg, s = _federated(config, dataset)
    run, views = _federated_views(config, dataset, run_name)
    widths = _federated_widths(config, dataset)
    spec, n_classes, hp = _federated_spec(config, dataset), _data(config, dataset).n_classes, \
        config["attack_model"]
    validation = fed["validation_fraction"]
    runs = []
    observed = list(cfg["observed_epochs"])
    local = s.get("local_attack_test_members", s["attack_test_members"])
    for view in views:
        if view == "global":
            sets = [observed]
            test = 2 * local
        else:
            sets = [observed, *(federated_runs.table12_epoch_sets(fed, dataset)
                                if run_name == "passive" else [])]
            sets = list(dict.fromkeys(map(tuple, sets)))
            test = s["attack_test_members"] + s["attack_test_nonmembers"]
        for epoch_set in sets:
            net = attack_net(spec, widths, n_classes, hp, len(epoch_set))
            runs.append(_supervised(net, s["attack_train_members"], s["attack_train_nonmembers"],
                                    test, validation, hp))
    files = sum(n * feature_bytes(widths, len(e)) for n, e in views.values())
    return attack_estimate(config, runs, files)


# ---- Calibrated attacks (LiRA, RMIA; deepleak/calibration.py, deepleak/references.py) ----------
def _calibrated_records(config, dataset):
    """The records each reference model (and the target) is summarised on: the attack-test records
    and RMIA's population."""
    s = _standalone(config, dataset)
    test = s["attack_test_members"] + s["attack_test_nonmembers"]
    return test + config["calibrated"]["population"]


def _train_references(config, dataset):
    """N models trained as the target is (``training.fit``'s passes without its per-epoch
    evaluation; batched or not, the same arithmetic: deepleak/batched.py), then each one's
    statistics on the calibrated records (a feature pass over every layer)."""
    cal, s = config["calibrated"], _standalone(config, dataset)
    n, train = cal["references"], config["datasets"][dataset]["train"]
    one = train_estimate(config, dataset, s["target_train"], 0, train)
    net, arch = _net(config, dataset), _arch(config, dataset)
    stats = features_estimate(config, dataset, _calibrated_records(config, dataset),
                              len(net.layers))
    work = {"start:torch": 1,
            f"macs:train:{arch}": n * TRAIN_PASSES * train["epochs"] * s["target_train"] * net.macs,
            "steps:train": one.work["steps:train"] * n,
            f"macs:features:{arch}": n * stats.work[f"macs:features:{arch}"]}
    together = min(n, cal["per_batch"]) if cal["batched"] else 1
    extra = _mb(together * 16 * net.params)
    return Estimate(work=work, mem_mb=max(one.mem_mb, stats.mem_mb) + extra, gpu=one.gpu,
                    device_mem_mb=one.device_mem_mb + extra if one.gpu else 0.0,
                    cpu_mem=max(one.cpu_mem_mb, stats.cpu_mem_mb) + extra)


def _calibrated(config, rule, dataset):
    if rule == "reference_mask":
        return _light(config, [dataset])
    if rule == "train_references":
        return _train_references(config, dataset)
    if rule == "target_statistics":
        return features_estimate(config, dataset, _calibrated_records(config, dataset),
                                 len(_net(config, dataset).layers))
    # calibrated_attacks, record_risk: numpy on [N, records] statistics, small.
    n = config["calibrated"]["references"] + 1
    return _light(config, [dataset] if rule == "record_risk" else [],
                  read_bytes=8 * 8 * n * _calibrated_records(config, dataset))


CALIBRATED_RULES = ("reference_mask", "train_references", "target_statistics",
                    "calibrated_attacks", "record_risk")
# ---- end of the calibrated attacks' block --------------------------------------------------------


def _prepare_dataset(config, dataset):
    """Reading the raw files into dataset.npz: a real archive's 0/1 text (two bytes a value) is
    parsed at ``parse_bytes_per_s``; images and stand-ins are read as they are."""
    n, width = n_records(config, dataset), _record_bytes(config, dataset)
    tabular = _data(config, dataset).kind == "tabular"
    text = 2 * n * width if tabular and config["datasets"][dataset]["source"] == "real" else 0
    mem = (COSTS["light_start_mb"] + _mb(text) * COSTS["parse_mb_per_text_mb"]
           + _mb(3 * n * width))  # the raw arrays, X and the compressed copy written
    return Estimate(work={"start:light": 1, "text_bytes": text}, mem_mb=mem)


def _light(config, datasets=(), read_bytes: float = 0.0, work: dict | None = None):
    """A job without torch (splits, tables, figures): numpy, pandas, matplotlib, the whole
    dataset.npz of each of ``datasets`` and ``read_bytes`` of other inputs."""
    data = sum(n_records(config, d) * _record_bytes(config, d) for d in datasets)
    return Estimate(work={"start:light": 1, **(work or {})},
                    mem_mb=COSTS["light_start_mb"] + _mb(data + read_bytes))


def _figure_features(config):
    """Bytes of every stand-alone target feature file (Figures 2, 4, 6 read one replicate's)."""
    return sum(_standalone_features(config, d, "target") * feature_bytes(
        _standalone_widths(config, d)) for d in config["standalone"]["datasets"])


def estimate(config: dict, rule: str, wildcards: dict[str, str]) -> Estimate:
    """The estimate of one job: rule ``rule`` with ``wildcards``, under ``config`` (validated, with
    the schema's defaults)."""
    d = wildcards.get("dataset")
    st = config["standalone"]
    if rule == "train_model":
        s = _standalone(config, d)
        key = ("target_train", "target_test") if wildcards["model"] == "target" else (
            "shadow_train", "shadow_test")
        pretrained = wildcards["model"] == "target" and bool(
            config["datasets"][d]["model"]["checkpoint"])
        return train_estimate(config, d, s[key[0]], s[key[1]], config["datasets"][d]["train"],
                              track=st["track_records"], pretrained=pretrained)
    if rule == "extract_features":
        return features_estimate(config, d, _standalone_features(config, d, wildcards["model"]),
                                 st["gradient_layers"], conv_gradient=st["conv_gradient"],
                                 max_output_features=st["max_output_features"])
    if rule.startswith("attack_"):
        return _attack_group(config, d, variants.attacks_of_job(len(st["knowledge_fractions"]),
                                                                rule[len("attack_"):]))
    if rule == "shadow_model_attack":
        return _shadow_attack(config, d)
    if rule == "unsupervised_attack":
        return _unsupervised_attack(config, d)
    if rule == "baselines":
        return _baselines(config, d)
    if rule == "train_finetune":
        return _train_finetune(config, d)
    # DP-SGD targets (deepleak/dp.py): the stand-alone target's training at DP-SGD's passes, its
    # features, and the attacks of dp.attacks with the baselines.
    if rule == "train_dp":
        s = _standalone(config, d)
        return train_estimate(config, d, s["target_train"], s["target_test"],
                              {**config["datasets"][d]["train"], **config["dp"]["train"]},
                              record_passes=DP_TRAIN_PASSES)
    if rule == "dp_features":
        return estimate(config, "extract_features", {**wildcards, "model": "target"})
    if rule == "dp_attacks":
        group = _attack_group(config, d, config["dp"]["attacks"])
        return Estimate(work={**group.work}, mem_mb=max(group.mem_mb, _baselines(config, d).mem_mb))
    # LiRA on the DP targets: dp.references models per level, each a DP target's training (on the
    # target's record count, its OUT pool records evaluated each epoch) and its statistics pass; the
    # DP target's statistics; the attacks (numpy) and the mask as the calibrated stage's.
    if rule == "train_dp_references":
        s, n = _standalone(config, d), config["dp"]["references"]
        one = estimate(config, "train_dp", wildcards)
        stats = _calibrated(config, "target_statistics", d)
        work = {"start:torch": 1, **{k: n * v for k, v in one.work.items() if k != "start:torch"},
                **{k: n * v for k, v in stats.work.items() if k != "start:torch"}}
        return Estimate(work=work, mem_mb=max(one.mem_mb, stats.mem_mb), gpu=one.gpu,
                        device_mem_mb=one.device_mem_mb, cpu_mem=max(one.cpu_mem_mb,
                                                                     stats.cpu_mem_mb))
    if rule in ("dp_reference_mask", "dp_target_statistics", "dp_calibrated_attacks"):
        return _calibrated(config, rule[len("dp_"):], d)
    if rule == "finetune_features":
        return features_estimate(config, d, _finetune_records(config, d),
                                 config["finetune"]["gradient_layers"],
                                 snapshots=len(finetune.SNAPSHOTS))
    if rule == "finetune_attacks":
        return _finetune_attacks(config, d)
    if rule == "federated_simulate":
        return _federated_simulate(config, d, wildcards["run"])
    if rule == "federated_attack":
        return _federated_attack(config, d, wildcards["run"])
    if rule == "prepare_dataset":
        return _prepare_dataset(config, d)
    if rule in CALIBRATED_RULES:
        return _calibrated(config, rule, d)
    if rule in ("make_splits", "finetune_splits", "federated_split"):
        return _light(config, [d])
    if rule.startswith("generate_standin_"):
        name = rule[len("generate_standin_"):]
        values = config["datasets"][name]["standin"]["n_records"] * _record_bytes(config, name)
        generator = _data(config, name).standin.split(":")[-1]
        # The generator's float64 arrays, about eight bytes a value.
        return _light(config, read_bytes=8 * values, work={f"standin:{generator}": values})
    if rule.startswith("fetch_"):
        return _light(config)
    if rule in ("figure2_plot", "figure4_plot", "figure6_plot"):
        return _light(config, read_bytes=_figure_features(config))
    if rule.startswith(("make_", "figure", "roc_")):
        # Tables and the other figures read metrics, scores and histories: small files.
        return _light(config)
    raise ValueError(f"the resource model has no estimate for rule {rule!r}; add one to estimate() "
                     "in deepleak/resources.py (a job without torch: _light)")


# --------------------------------------------------------------------------------------------------
# The jobs Snakemake plans, outside the workflow (benchmarks/resource_model.py, the tests)
# --------------------------------------------------------------------------------------------------
# An audited model (config ``audit``) is the user's: its cost cannot be counted from the config. Its
# jobs' memory, when audit.resources.mem_mb is not given: Python and torch, then per byte of the
# state_dict file the model, its gradients and Adam's two moments (a reference model training), and
# per byte of the data file the data read whole and as float tensors.
AUDIT_MEM = {"base_mb": 1500, "per_model_byte": 4, "per_data_byte": 3}


def audit_mem_mb(state_dict_bytes: int, data_bytes: int) -> float:
    """An audit job's memory estimate (:data:`AUDIT_MEM`), in MB."""
    return AUDIT_MEM["base_mb"] + (AUDIT_MEM["per_model_byte"] * state_dict_bytes
                                   + AUDIT_MEM["per_data_byte"] * data_bytes) / 2**20


def profile_config(root, configfile: str | list[str]) -> dict:
    """The config a run with ``--configfile configfile`` (one file or several, merged in order)
    sees, for tools outside the workflow: config/config.yaml updated by the profile (Snakemake's
    merge), validated with the schema's defaults filled in. (Imports Snakemake, which the workflow
    itself has loaded anyway.)"""
    from pathlib import Path

    import yaml
    from snakemake.utils import update_config, validate

    root = Path(root)
    config = yaml.safe_load((root / "config/config.yaml").read_text())
    for name in [configfile] if isinstance(configfile, str) else configfile:
        update_config(config, yaml.safe_load((root / name).read_text()))
    validate(config, str(root / "workflow/schemas/config.schema.yaml"))
    return config
