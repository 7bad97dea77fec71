"""Image models (deepleak.cnn) and the conv-layer path of features and attack: per-example conv
gradients against a per-record autograd loop, bearpaw checkpoints, normalisation, augmentation,
official splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from deepleak import (
    attack,
    cnn,
    features,
    files,
    gradients,
    models,
    optim,
    paper,
    splits,
    training,
    variants,
)

torch.set_num_threads(1)

# Each architecture's small variant (the paper's AlexNet is small enough as it is).
SMALL = {
    "alexnet": ({"arch": "alexnet"}, (3, 32, 32)),
    "resnet_bottleneck": ({"arch": "resnet", "depth": 11, "block": "bottleneck"}, (3, 32, 32)),
    "resnet_basic": ({"arch": "resnet", "depth": 8, "block": "basic"}, (3, 32, 32)),
    "densenet_bc": ({"arch": "densenet", "depth": 10, "growth_rate": 4}, (3, 32, 32)),
    "densenet_basic": (
        {"arch": "densenet", "depth": 7, "growth_rate": 4, "block": "basic"},
        (3, 32, 32),
    ),
    "convnet": (
        {
            "arch": "convnet",
            "channels": [4, 6],
            "hidden": [8],
            "normalise": {"mean": [0.3], "std": [0.4]},
        },
        (1, 12, 12),
    ),
}
N = 7  # records; chunks of 3 leave a partial last chunk


def small_model(key, seed=0, n_classes=10):
    spec, shape = SMALL[key]
    torch.manual_seed(seed)
    net = models.build_model(spec, shape, n_classes)
    with torch.no_grad():  # batch norm with non-trivial running statistics: eval mode must use them
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 1.5)
    return net.eval(), shape


def raw_images(shape, n=N, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, *shape), generator=g).double(), torch.randint(
        0, 10, (n,), generator=g
    )


def conv_params(net):
    mods = dict(net.named_modules())
    names = []
    for layer in net.layer_names:
        m = models.layer_module(net, layer)
        if isinstance(mods[m], torch.nn.Conv2d):
            names.append(f"{m}.weight")
            if mods[m].bias is not None:
                names.append(f"{m}.bias")
    return names


@pytest.mark.parametrize("key", sorted(SMALL))
def test_conv_per_example_grads_equal_the_loop(key):
    net, shape = small_model(key)
    net = net.double()
    x, y = raw_images(shape)
    names = conv_params(net)
    assert names, "every image model has conv layers among its attack layers"
    fast = gradients.conv_per_example_grads(net, x, y, names, chunk_size=3, dtype=None)
    ref = gradients.per_example_grads_loop(net, x, y, names)
    for k in names + ["loss"]:
        assert np.abs(fast[k] - ref[k]).max() <= 1e-5 * max(1.0, np.abs(ref[k]).max()), k


@pytest.mark.parametrize("method", ["unfold", "vmap"])
@pytest.mark.parametrize("mode", gradients.CONV_GRADIENT_MODES)
@pytest.mark.parametrize(
    "key", ["alexnet", "resnet_bottleneck", "densenet_bc", "densenet_basic", "convnet"]
)
def test_conv_grad_features_are_reductions_of_the_loop(key, mode, method):
    net, shape = small_model(key)
    net = net.double()
    x, y = raw_images(shape)
    mods = dict(net.named_modules())
    layers = [
        models.layer_module(net, n)
        for n in net.layer_names
        if isinstance(mods[models.layer_module(net, n)], torch.nn.Conv2d)
    ]
    layers = [
        m
        for m in layers
        if mode == "channel_norms" or mods[m].weight.numel() <= gradients.KERNEL_MAX_FLOATS
    ]
    out = gradients.conv_grad_features(
        net, x, y, layers, mode=mode, chunk_size=3, dtype=None, method=method
    )
    ref = gradients.per_example_grads_loop(net, x, y, conv_params(net))
    for m in layers:
        gw = ref[f"{m}.weight"].reshape(N, mods[m].out_channels, -1)
        np.testing.assert_allclose(out["norm"][m], np.sqrt((gw**2).sum((1, 2))), rtol=1e-8)
        if mode == "channel_norms":
            cols = [np.sqrt((gw**2).sum(2))] + ([ref[f"{m}.bias"]] if f"{m}.bias" in ref else [])
            expected = np.stack(cols, axis=2).reshape(N, -1)
        else:
            expected = gw.transpose(0, 2, 1)
        np.testing.assert_allclose(out["feature"][m], expected, rtol=1e-8, atol=1e-12)


def test_kernel_mode_refuses_a_large_layer():
    net, shape = small_model("alexnet")
    x, y = raw_images(shape, n=2)
    with pytest.raises(ValueError, match="channel_norms"):
        gradients.conv_grad_features(net, x.float(), y, ["features.10"], mode="kernel")


# ------------------------------------------------------------------------------------------
# checkpoints
@pytest.mark.parametrize("key", sorted(SMALL))
def test_a_bearpaw_checkpoint_loads_back_with_every_key(key, tmp_path):
    saved, shape = small_model(key, seed=1)
    cnn.save_bearpaw_checkpoint(saved, tmp_path / "ckpt.pth.tar", epoch=164, best_acc=43.87)
    with open(tmp_path / "ckpt.pth.tar", "rb") as f:
        state = torch.load(f, weights_only=True)["state_dict"]
    assert all(k.startswith("module.") for k in state)  # bearpaw's DataParallel layout
    loaded, _ = small_model(key, seed=2)
    digest = files.sha256(tmp_path / "ckpt.pth.tar")
    info = cnn.load_bearpaw_checkpoint(loaded, tmp_path / "ckpt.pth.tar", digest)
    assert info == {"epoch": 164, "best_acc": 43.87}
    for k, v in saved.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k
    x, _ = raw_images(shape, n=3)
    assert torch.equal(saved(x.float()), loaded.eval()(x.float()))


def test_a_pre_0_4_checkpoint_without_batch_norm_counters_loads(tmp_path):
    saved, _ = small_model("resnet_basic", seed=1)
    state = {
        f"module.{k}": v for k, v in saved.state_dict().items() if "num_batches_tracked" not in k
    }
    torch.save({"state_dict": state}, tmp_path / "old.pth.tar")
    loaded, _ = small_model("resnet_basic", seed=2)
    cnn.load_bearpaw_checkpoint(
        loaded, tmp_path / "old.pth.tar", files.sha256(tmp_path / "old.pth.tar")
    )
    assert torch.equal(saved.conv1.weight, loaded.conv1.weight)


def test_a_checkpoint_of_another_architecture_names_missing_and_unexpected_keys(tmp_path):
    other, _ = small_model("resnet_basic")
    cnn.save_bearpaw_checkpoint(other, tmp_path / "basic.pth.tar")
    target, _ = small_model("resnet_bottleneck")
    with pytest.raises(cnn.CheckpointError) as err:
        cnn.load_bearpaw_checkpoint(
            target, tmp_path / "basic.pth.tar", files.sha256(tmp_path / "basic.pth.tar")
        )
    msg = str(err.value)
    assert "missing keys" in msg and "layer1.0.conv3.weight" in msg  # bottleneck has a third conv
    assert "unexpected keys" in msg and "wrong shapes" in msg and "layer1.0.conv1.weight" in msg


def test_checkpoint_sha256_and_format_are_checked(tmp_path):
    net, _ = small_model("convnet")
    cnn.save_bearpaw_checkpoint(net, tmp_path / "c.pth.tar")
    with pytest.raises(cnn.CheckpointError, match="sha256"):
        cnn.load_bearpaw_checkpoint(net, tmp_path / "c.pth.tar", "0" * 64)
    with pytest.raises(cnn.CheckpointError, match="sha256 is not set"):
        cnn.load_bearpaw_checkpoint(net, tmp_path / "c.pth.tar", None)
    torch.save(net.state_dict(), tmp_path / "plain.pt")
    with pytest.raises(cnn.CheckpointError, match="bearpaw's format"):
        cnn.load_bearpaw_checkpoint(net, tmp_path / "plain.pt", files.sha256(tmp_path / "plain.pt"))


def test_paper_sized_models_match_bearpaws_parameter_counts():
    # 2.47M / 1.70M / 25.62M with CIFAR-10's 10 classes (bearpaw's README counts).
    counts = {"alexnet": 2.47, "resnet": 1.70, "densenet": 25.62}
    specs = {
        "alexnet": {"arch": "alexnet"},
        "resnet": {"arch": "resnet", "depth": 164},
        "densenet": {"arch": "densenet", "depth": 190, "growth_rate": 40},
    }
    for name, spec in specs.items():
        with torch.device("meta"):
            net = {
                "alexnet": lambda: cnn.AlexNet(10),
                "resnet": lambda: cnn.ResNet(164, 10),
                "densenet": lambda: cnn.DenseNet(190, 40, 10),
            }[name]()
        n = sum(p.numel() for p in net.parameters()) / 1e6
        assert round(n, 2) == counts[name], (name, spec, n)


# --------------------------------------------------------------------------------- normalisation,
# data
def test_models_normalise_raw_pixels_as_bearpaw_did():
    net, _ = small_model("alexnet")
    x = torch.randint(0, 256, (2, 3, 32, 32)).float()
    mean = torch.tensor(cnn.CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(cnn.CIFAR_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(net.normalise(x), (x / 255 - mean) / std)
    assert not any("normalise" in k for k in net.state_dict())  # bearpaw's keys match exactly


def test_random_crop_flip_is_a_crop_of_the_padded_image():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(1, 256, (16, 3, 8, 8)).float()
    out = cnn.random_crop_flip(x, g, padding=2)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(len(x)):  # a test may loop: each output is one of the 2 x 25 allowed crops
        crops = [padded[i, :, dy : dy + 8, dx : dx + 8] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], c) or torch.equal(out[i], c.flip(2)) for c in crops), i
    again = cnn.random_crop_flip(x, torch.Generator().manual_seed(0), padding=2)
    assert torch.equal(out, again)  # seeded
    assert not torch.equal(out, x)


def test_fit_with_bearpaws_schedule_and_augmentation_runs_and_steps_the_lr():
    net, shape = small_model("convnet")
    x, y = raw_images(shape, n=16)
    train = {
        "optimizer": "sgd",
        "lr": 0.1,
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "batch_size": 8,
        "epochs": 3,
        "lr_milestones": [1, 2],
        "lr_gamma": 0.1,
        "augment": "crop_flip",
    }
    lrs = []
    original = optim.SGD.step

    def spy(self, *a, **k):
        lrs.append(self.lr)
        return original(self, *a, **k)

    optim.SGD.step = spy
    try:
        _, history = training.fit(net.float(), x.float(), y, x.float(), y, train=train, seed=0)
    finally:
        optim.SGD.step = original
    assert len(history) == 4
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_official_splits_draw_members_from_training_images():
    official = np.r_[np.ones(600, bool), np.zeros(200, bool)]
    sizes = {
        "target_train": 300,
        "target_test": 100,
        "attack_train_members": 100,
        "attack_train_nonmembers": 50,
        "attack_test_members": 100,
        "attack_test_nonmembers": 50,
        "shadow_train": 300,
        "shadow_test": 100,
    }
    sets, groups = splits.official_standalone_splits(official, sizes, 0.2, seed=1)
    assert official[sets["members"]].all() and official[sets["shadow_members"]].all()
    assert not official[sets["target_test"]].any() and not official[sets["shadow_nonmembers"]].any()
    splits.check_disjoint(sets, groups)
    assert groups == splits.STANDALONE_DISJOINT
    too_big = dict(sizes, shadow_test=150)
    with pytest.raises(splits.SplitError, match="shadow_overlap"):
        splits.official_standalone_splits(official, too_big, 0.2, seed=1)
    sets, groups = splits.official_standalone_splits(
        official, too_big, 0.2, seed=1, shadow_overlap=True
    )
    splits.check_disjoint(sets, groups)
    assert len(np.intersect1d(sets["target_test"], sets["shadow_nonmembers"])) > 0


def test_table8_reference_for_an_architecture():
    ref = paper.TABLE8.values
    assert ref("cifar100", "densenet")["arch"] == "DenseNet"
    assert [ref("cifar100", "alexnet")[r.name] for r in paper.TABLE8.rows] == [74.2, 74.6, 75.1]
    assert ref("purchase100", "fc")["arch"] == "Fully connected"
    assert ref("fashion_mnist", "convnet") is None


# --------------------------------------------------------------------------------- features and
# attack
def test_features_and_attack_on_a_cnn():
    net, shape = small_model("convnet")
    x, y = raw_images(shape, n=40, seed=3)
    report = {}
    feats = features.extract(
        net,
        x.numpy().astype(np.uint8),
        y.numpy(),
        gradient_layers=3,
        max_output_features=100,
        batch_size=16,
        chunk_size=5,
        report=report,
    )
    # conv1 output is 4 x 6 x 6 = 144 > 100 numbers: stored as 4 channel means; conv2 (6 x 3 x 3)
    # whole.
    assert feats["out/conv1"].shape == (40, 4) and feats["out/conv2"].shape == (40, 54)
    assert report["output_summary"] == {"conv1": "per-channel spatial mean"}
    assert feats["conv_grad_channel_norms/conv2"].shape == (40, 12)  # 6 channels x (norm, bias)
    assert {"h_in/fc1", "delta/fc2", "grad_norm/conv2"} <= set(feats)
    ref = gradients.per_example_grads_loop(net, x.float(), y, ["conv2.weight"])
    np.testing.assert_allclose(
        feats["grad_norm/conv2"],
        np.sqrt((ref["conv2.weight"].reshape(40, -1) ** 2).sum(1)),
        rtol=1e-4,
    )

    spec = variants.VARIANTS["gradients_all_outputs_all"].resolve(list(net.layer_names), 3)
    inputs = attack.gather_inputs(feats, spec)
    assert "conv_grad_channel_norms/conv2" in inputs and "h_in/conv2" not in inputs
    member = np.r_[np.ones(20), np.zeros(20)].astype(np.int64)
    hp = {
        "component_widths": [8, 4],
        "input_scaling": "fan_in",
        "selection": "balanced_mse",
        "gradient_widths": [8, 4],
        "kernels": 2,
        "encoder_widths": [8],
        "dropout": 0.0,
        "init_std": 0.01,
        "lr": 1e-3,
        "batch_size": 8,
        "epochs": 1,
    }
    model, std, _ = attack.fit_supervised(inputs, member, inputs, member, spec, 10, hp, seed=0)
    scores = attack.predict(model, std(inputs))
    assert scores.shape == (40,) and np.isfinite(scores).all()


def test_kernel_mode_attack_component_reads_the_gradient_matrix():
    net, shape = small_model("convnet")
    x, y = raw_images(shape, n=12, seed=4)
    feats = features.extract(
        net, x.numpy().astype(np.uint8), y.numpy(), gradient_layers=3, conv_gradient="kernel"
    )
    assert feats["conv_grad_kernel/conv2"].shape == (12, 4 * 3 * 3, 6)
    spec = variants.VARIANTS["gradients_3"].resolve(list(net.layer_names), 3)
    inputs = attack.gather_inputs(feats, spec)
    hp = {
        "component_widths": [8, 4],
        "input_scaling": "fan_in",
        "selection": "balanced_mse",
        "gradient_widths": [8, 4],
        "kernels": 3,
        "encoder_widths": [8],
        "dropout": 0.0,
        "init_std": 0.01,
        "lr": 1e-3,
        "batch_size": 4,
        "epochs": 1,
    }
    model = attack.AttackModel(spec, attack.input_dims(inputs), 10, hp)
    comp = model.gradient_components["conv2"]
    assert isinstance(comp, attack.KernelGradientComponent)
    std = attack.Standardiser.fit(inputs)
    assert model(std(inputs)).shape == (12,)


# ------------------------------------------------------------------------------ pretrained target
# model
def _image_dataset(tmp_path, n_train=40, n_test=20):
    from deepleak import artifacts

    rng = np.random.default_rng(0)
    n = n_train + n_test
    arrays = {
        "X": rng.integers(0, 256, (n, 1, 12, 12), dtype=np.uint8),
        "y": rng.integers(0, 10, n).astype(np.int64),
        "official_train": np.r_[np.ones(n_train, bool), np.zeros(n_test, bool)],
    }
    artifacts.save_npz(tmp_path / "dataset.npz", arrays)
    return arrays


def test_a_pretrained_target_is_loaded_not_trained(tmp_path):
    import train_model  # scripts/train_model.py (pytest puts scripts/ on the path)

    data = _image_dataset(tmp_path)
    spec = dict(SMALL["convnet"][0])
    sizes = {
        "target_train": 40,
        "target_test": 10,
        "attack_train_members": 10,
        "attack_train_nonmembers": 5,
        "attack_test_members": 10,
        "attack_test_nonmembers": 5,
        "shadow_train": 20,
        "shadow_test": 10,
    }
    sets, groups = splits.official_standalone_splits(
        data["official_train"], sizes, 0.2, seed=0, shadow_overlap=True
    )
    splits.save(tmp_path / "splits.npz", sets, meta={})
    published, _ = small_model("convnet", seed=5)
    cnn.save_bearpaw_checkpoint(published, tmp_path / "model_best.pth.tar")
    spec["checkpoint"] = {
        "path": str(tmp_path / "model_best.pth.tar"),
        "sha256": files.sha256(tmp_path / "model_best.pth.tar"),
    }
    args = dict(
        model_cfg=spec,
        train={"lr": 0.1, "batch_size": 8, "epochs": 5},
        track_records=5,
        evaluate_every=1,
        device="cpu",
        seed=0,
    )
    outs = [tmp_path / f for f in ("model.pt", "meta.json", "history.csv")]
    train_model.main(
        tmp_path / "dataset.npz", tmp_path / "splits.npz", *outs, model="target", **args
    )
    state = torch.load(outs[0], weights_only=True)
    assert all(torch.equal(v, state[k]) for k, v in published.state_dict().items())
    import json

    meta = json.loads(outs[1].read_text())
    assert meta["pretrained"]["checkpoint"]["path"].endswith("model_best.pth.tar")
    assert meta["epochs_trained"] == 0 and len(outs[2].read_text().splitlines()) == 2

    # A pretrained model's members are all its training images: a smaller member set is refused.
    small = dict(sizes, target_train=30)
    sets, _ = splits.official_standalone_splits(
        data["official_train"], small, 0.2, seed=0, shadow_overlap=True
    )
    splits.save(tmp_path / "splits.npz", sets, meta={})
    with pytest.raises(ValueError, match="every official training image"):
        train_model.main(
            tmp_path / "dataset.npz", tmp_path / "splits.npz", *outs, model="target", **args
        )
