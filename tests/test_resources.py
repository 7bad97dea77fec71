"""The resource model (deepleak/resources.py): its layer shapes are the models' own, its feature
widths what the extractor writes, its attack models Table XIV's, and its estimates scale with the
work: twice the records or epochs cost about twice the time, bigger networks cost more."""
import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from deepleak import attack, features, models, resources, variants
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]

# Small versions of every architecture (the paper's CIFAR networks cost seconds per record here).
NORMALISE = {"mean": [0.5], "std": [0.25]}
SMALL = {
    "fc": ({"arch": "fc", "hidden": [32, 16, 12], "activation": "tanh"}, 40, 7),
    "convnet": ({"arch": "convnet", "channels": [4, 8], "hidden": [16], "normalise": NORMALISE},
                [1, 12, 12], 10),
    "alexnet": ({"arch": "alexnet"}, [3, 32, 32], 10),
    "resnet_basic": ({"arch": "resnet", "depth": 8, "block": "basic"}, [3, 32, 32], 10),
    "resnet_bottleneck": ({"arch": "resnet", "depth": 11, "block": "bottleneck"}, [3, 32, 32], 10),
    "densenet_bc": ({"arch": "densenet", "depth": 10, "growth_rate": 4, "block": "bottleneck"},
                    [3, 32, 32], 10),
    "densenet_basic": ({"arch": "densenet", "depth": 7, "growth_rate": 4, "block": "basic"},
                       [3, 32, 32], 10),
}
HP = {"component_widths": [8, 4], "gradient_widths": [6, 4], "kernels": 3,
      "encoder_widths": [8, 4], "dropout": 0.2, "init_std": 0.01}


def build(name):
    spec, shape, n_classes = SMALL[name]
    return models.build_model(spec, shape, n_classes, seed=0), resources.network(
        spec, shape, n_classes), shape, n_classes


def records(shape, n_classes, n=3, seed=0):
    rng = np.random.default_rng(seed)
    shape = [shape] if isinstance(shape, int) else shape
    X = rng.integers(0, 2 if len(shape) == 1 else 256, (n, *shape)).astype(np.uint8)
    return X, np.arange(n) % n_classes


@pytest.mark.parametrize("name", sorted(SMALL))
def test_layer_shapes_are_the_models(name):
    net, model, shape, _ = build(name)
    x = torch.zeros(1, *([shape] if isinstance(shape, int) else shape))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net.eval()(x)
    assert model.macs == counter.get_total_flops() // 2
    assert model.params == sum(p.numel() for p in net.parameters())
    assert [layer.name for layer in model.layers] == list(net.layer_names)
    modules = dict(net.named_modules())
    for layer in model.layers:
        module = modules[models.layer_module(net, layer.name)]
        if isinstance(module, nn.Linear):
            assert (layer.kind, layer.grad_in, layer.grad_out) == (
                "linear", module.in_features, module.out_features)
        else:
            k = module.kernel_size[0] * module.kernel_size[1]
            assert (layer.kind, layer.grad_in, layer.grad_out, layer.bias) == (
                "conv", module.in_channels * k, module.out_channels, module.bias is not None)


@pytest.mark.parametrize("name,mode", [(n, "channel_norms") for n in sorted(SMALL)]
                         + [("convnet", "kernel")])
def test_feature_widths_are_what_the_extractor_writes(name, mode):
    net, model, shape, n_classes = build(name)
    layers = min(4, len(model.layers))
    # A small cap, so that conv outputs are stored as per-channel means where they are large.
    cap = 200
    X, y = records(shape, n_classes)
    feats = features.extract(net, X, y, gradient_layers=layers, conv_gradient=mode,
                             max_output_features=cap)
    written = {k: int(np.prod(v.shape[1:])) for k, v in feats.items()}
    expected = resources.feature_widths(model, n_classes, layers, mode, cap)
    assert written == {k: v for k, v in expected.items()
                       if not k.endswith("#rows") and k != "records"}


@pytest.mark.parametrize("name", ["fc", "convnet"])
@pytest.mark.parametrize("variant", ["black_box", "gradients_1", "gradients_2",
                                     "gradients_all_outputs_all"])
@pytest.mark.parametrize("observations", [1, 2])
def test_attack_model_parameters_are_table_xiv_models(name, variant, observations):
    net, model, shape, n_classes = build(name)
    X, y = records(shape, n_classes)
    layers = min(4, len(model.layers))
    feats = features.extract(net, X, y, gradient_layers=layers)
    if observations > 1:
        feats = {k: np.stack([v] * observations, 1) if k != "label" else v
                 for k, v in feats.items()}
    spec = variants.VARIANTS[variant].resolve(list(net.layer_names), layers)
    dims = attack.input_dims(attack.gather_inputs(feats, spec))
    real = attack.AttackModel(spec, dims, n_classes, HP, observations)
    widths = resources.feature_widths(model, n_classes, layers)
    estimated = resources.attack_net(spec, widths, n_classes, HP, observations)
    assert estimated.params == sum(p.numel() for p in real.parameters())


def config(profile="config/config.yaml"):
    return resources.profile_config(ROOT, profile)


def double_records(cfg, dataset):
    """Every record count of the stand-alone scenario doubled (Figure 3's tracked records too)."""
    cfg = copy.deepcopy(cfg)
    sizes = cfg["datasets"][dataset]["standalone"]["sizes"]
    sizes.update({k: 2 * v for k, v in sizes.items()})
    cfg["standalone"]["track_records"] *= 2
    return cfg


@pytest.mark.parametrize("rule,wildcards", [
    ("train_model", {"dataset": "texas100", "model": "target"}),
    ("extract_features", {"dataset": "texas100", "model": "target"}),
    ("attack_gradients", {"dataset": "texas100"}),
    ("extract_features", {"dataset": "fashion_mnist", "model": "shadow"}),
])
def test_twice_the_records_cost_about_twice_the_time(rule, wildcards):
    cfg = config()
    once = resources.estimate(cfg, rule, wildcards)
    twice = resources.estimate(double_records(cfg, wildcards["dataset"]), rule, wildcards)
    for unit, n in once.work.items():
        # About: minibatches are whole.
        assert twice.work[unit] == pytest.approx(n if unit.startswith("start:") else 2 * n,
                                                 rel=0.03), unit
    # The start-up does not double.
    assert 1.2 < twice.cpu_core_s / once.cpu_core_s < 2.05
    assert twice.mem_mb > once.mem_mb


def test_more_epochs_and_rounds_cost_more_in_proportion():
    cfg = config()
    longer = copy.deepcopy(cfg)
    longer["datasets"]["purchase100"]["train"]["epochs"] *= 2
    longer["federated"]["per_dataset"]["purchase100"]["rounds"] *= 2
    for rule, wc in (("train_model", {"dataset": "purchase100", "model": "shadow"}),
                     ("federated_simulate", {"dataset": "purchase100", "run": "parties2"})):
        a, b = (resources.estimate(c, rule, wc) for c in (cfg, longer))
        assert 1.5 < b.cpu_core_s / a.cpu_core_s <= 2.0, rule


def test_bigger_networks_cost_more():
    cfg = config("config/paper.yaml")
    cost = {d: resources.estimate(cfg, "train_model", {"dataset": d, "model": "target"})
            for d in ("cifar100_alexnet", "cifar100_resnet", "cifar100_densenet")}
    order = ["cifar100_alexnet", "cifar100_resnet", "cifar100_densenet"]
    for small, big in zip(order, order[1:], strict=False):
        assert cost[small].cpu_core_s < cost[big].cpu_core_s
        assert cost[small].gpu_s < cost[big].gpu_s
        assert cost[small].device_mem_mb < cost[big].device_mem_mb
    wide = copy.deepcopy(cfg)
    wide["datasets"]["purchase100"]["model"]["hidden"] = [2048, 1024, 512, 256]
    for rule, wc in (("train_model", {"dataset": "purchase100", "model": "target"}),
                     ("extract_features", {"dataset": "purchase100", "model": "target"}),
                     ("attack_gradients", {"dataset": "purchase100"})):
        assert resources.estimate(wide, rule, wc).cpu_core_s > resources.estimate(
            cfg, rule, wc).cpu_core_s, rule


def test_more_kernels_make_the_attack_dearer_and_bigger():
    cfg = config()
    wide = copy.deepcopy(cfg)
    wide["attack_model"]["kernels"] *= 10
    a, b = (resources.estimate(c, "attack_gradients", {"dataset": "purchase100"})
            for c in (cfg, wide))
    assert b.cpu_core_s > 3 * a.cpu_core_s and b.mem_mb > a.mem_mb


def test_gpu_jobs_are_the_image_models_torch_jobs_under_device_auto():
    cfg = config("config/paper.yaml")
    for d in ("cifar100_resnet", "purchase100"):
        image = d.startswith("cifar")
        for rule in ("train_model", "extract_features"):
            est = resources.estimate(cfg, rule, {"dataset": d, "model": "target"})
            assert est.gpu == image
            # On its GPU the job takes the GPU estimate; without one, the CPU's.
            assert est.wall_s(8) == (est.gpu_s if image else est.cpu_wall_s(8))
        assert resources.estimate(cfg, "attack_gradients", {"dataset": d}).gpu == 0
    cpu = copy.deepcopy(cfg)
    cpu["device"] = "cpu"
    assert resources.estimate(cpu, "train_model", {"dataset": "cifar100_resnet",
                                                   "model": "target"}).gpu == 0


def test_requests_carry_the_margins_and_grow_with_each_attempt():
    est = resources.Estimate(work={"start:torch": 1, "macs:train:fc": 1e14}, mem_mb=5000)
    first, second = est.runtime_min(2), est.runtime_min(2, attempt=2)
    assert first >= est.cpu_wall_s(2) * resources.REQUEST["time_factor"] / 60
    assert second == 2 * first
    assert est.request_mem_mb() >= 5000 * resources.REQUEST["mem_factor"]
    assert est.request_mem_mb(2) >= 2 * est.request_mem_mb() - 100
    tiny = resources.Estimate(work={"start:light": 1}, mem_mb=10)
    assert tiny.runtime_min(1) == resources.REQUEST["min_runtime_min"]
    assert tiny.request_mem_mb() == resources.REQUEST["min_mem_mb"]
    # More threads, less wall time, never less than the start-up.
    assert est.cpu_wall_s(8) < est.cpu_wall_s(1)
    assert est.cpu_wall_s(64) > resources.COSTS["torch_start_s"]


def test_threads_only_for_long_small_model_jobs():
    short = resources.Estimate(work={"start:torch": 1, "steps:attack": 10}, mem_mb=1)
    long = resources.Estimate(work={"start:torch": 1, "macs:attack:fc": 1e15}, mem_mb=1)
    assert resources.threads_for(short, 8) == 1
    assert resources.threads_for(long, 8) == 8


def test_unknown_architectures_and_costs_say_what_to_do():
    with pytest.raises(ValueError, match="resources.py network"):
        resources.network({"arch": "vgg"}, [3, 32, 32], 10)
    with pytest.raises(ValueError, match="benchmarks/resource_model.py"):
        resources.unit_cost("macs:train:vgg")
    with pytest.raises(ValueError, match="estimate.. in deepleak/resources.py"):
        resources.estimate(config(), "train_something_new", {"dataset": "purchase100"})
