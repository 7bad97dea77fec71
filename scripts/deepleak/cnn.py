"""Image target models: the CIFAR-100 networks the paper attacked, a small CNN for quick profiles.

The paper's stand-alone CIFAR-100 targets are bearpaw/pytorch-classification's public pretrained
models (§III-C). They are rebuilt here module for module, so that a bearpaw
checkpoint (``{'state_dict': {'module.<key>': tensor}}``) loads with a strict key match:

- :class:`AlexNet`: bearpaw's CIFAR variant, five conv layers and one linear layer (conv 3-64 k11
  s4 p5, pool; 64-192 k5 p2, pool; 192-384 k3 p1; 384-256 k3 p1; 256-256 k3 p1, pool; Linear
  256-100);
- :class:`ResNet`: bearpaw's CIFAR ResNet, ``depth`` with ``block: basic | bottleneck``. The
  published "ResNet-110" checkpoint is a Bottleneck network with 18 blocks per stage, built as
  depth 164 (1.70M parameters, the paper's "1.7M"); basic-block depths 20, 32, 56, 110 are quick
  variants;
- :class:`DenseNet`: bearpaw's DenseNet-BC (bottleneck blocks, compression 2): L=190, k=40 is the
  paper's (25.62M parameters); L=40, k=12 or smaller are quick variants;
- :class:`ConvNet`: a small AlexNet-style network (conv-ReLU-max-pool stages, then linear layers)
  for Fashion-MNIST in the default profile's time budget.

Every model takes raw pixel values (uint8 range 0..255, as ``dataset.npz`` stores them) and
normalises inside itself: ``x / 255``, then ``(x - mean) / std`` per channel, bearpaw's ``ToTensor``
+ ``Normalize``. Training, feature extraction and a loaded checkpoint therefore always see the same
normalisation (bearpaw, and the authors' code, used CIFAR-10's statistics for CIFAR-100 too). The
statistics are non-persistent buffers, so they are not in the state dict and bearpaw's keys match
exactly.

The interface the feature extractor relies on (deepleak/models.py):

- ``layer_names``: the attack's layers, input side first (the paper counts them from the output);
- ``forward(x, return_activations=True)``: the logits and the output of every layer in
  ``layer_names``;
- ``layer_modules``: for each layer, the parametrised module whose per-example gradient is that
  layer's gradient feature.

For AlexNet and ConvNet a layer is one conv or linear layer; its output is taken after its ReLU and
the max-pool that directly follows it (the paper's "second to last layer" output of AlexNet is then
the 256-d post-pool feature, which the authors' code uses for Table III). ResNet-164 and
DenseNet-BC-190 have 164 and 190 layers, and the paper does not say which of their layers its
white-box attack read (README, 'Where the paper is silent'): here their attack layers are the
stem, each residual stage / dense block / transition, and the classifier. A stage's output is its
output feature map; its gradient is that of its last convolution, the one nearest the output.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from deepleak import files

__all__ = [
    "ARCHS",
    "CIFAR_MEAN",
    "CIFAR_STD",
    "InputNormalisation",
    "AlexNet",
    "ResNet",
    "DenseNet",
    "ConvNet",
    "build",
    "random_crop_flip",
    "load_bearpaw_checkpoint",
    "save_bearpaw_checkpoint",
    "CheckpointError",
]

# bearpaw's CIFAR normalisation: CIFAR-10's channel statistics, used for CIFAR-100 as well (by
# bearpaw and the authors' code).
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)


class CheckpointError(ValueError):
    """A checkpoint does not match the configured architecture, or not its sha256."""


class InputNormalisation(nn.Module):
    """``(x / 255 - mean) / std`` per channel: raw 0..255 pixels in, what bearpaw's models saw."""

    def __init__(self, mean, std, scale: float = 1.0 / 255.0):
        super().__init__()
        if len(mean) != len(std):
            raise ValueError(
                f"normalise.mean has {len(mean)} channels but normalise.std {len(std)}"
            )
        # Non-persistent: not in the state dict, so bearpaw's checkpoints match key for key.
        self.register_buffer(
            "mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False
        )
        self.register_buffer(
            "std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False
        )
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.mean.shape[1]:
            raise ValueError(
                f"the model normalises {self.mean.shape[1]} channels but got images with "
                f"{x.shape[1]}"
            )
        return (x * self.scale - self.mean) / self.std


class ImageModel(nn.Module):
    """Shared forward: normalise, then run the named stages, keeping each stage's output."""

    layer_names: list[str]
    layer_modules: dict[str, str]

    def stages(self):  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def forward(self, x: torch.Tensor, return_activations: bool = False):
        h = self.normalise(x)
        activations = []
        for _, stage in self.stages():
            h = stage(h)
            activations.append(h)
        return (h, activations) if return_activations else h


# ----------------------------------------------------------------------------------------------
# AlexNet
class AlexNet(ImageModel):
    """bearpaw's CIFAR AlexNet (models/cifar/alexnet.py): no batch norm, no dropout, 2.47M
    parameters
    with 100 classes. ``features`` keeps bearpaw's indices (0, 3, 6, 8, 10) so checkpoints match."""

    def __init__(self, n_classes: int = 100, in_channels: int = 3, mean=CIFAR_MEAN, std=CIFAR_STD):
        super().__init__()
        self.normalise = InputNormalisation(mean, std)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=5),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Linear(256, n_classes)
        self.layer_names = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc"]
        self.layer_modules = {
            "conv1": "features.0",
            "conv2": "features.3",
            "conv3": "features.6",
            "conv4": "features.8",
            "conv5": "features.10",
            "fc": "classifier",
        }

    def stages(self):
        f = self.features
        return [
            ("conv1", f[0:3]),
            ("conv2", f[3:6]),
            ("conv3", f[6:8]),
            ("conv4", f[8:10]),
            ("conv5", f[10:13]),
            ("fc", lambda h: self.classifier(h.flatten(1))),
        ]


# -----------------------------------------------------------------------------------------------
# ResNet
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        residual = x if self.downsample is None else self.downsample(x)
        return F.relu(out + residual)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        return F.relu(out + residual)


def _bearpaw_init(model: nn.Module) -> None:
    """bearpaw's ResNet / DenseNet initialisation: conv N(0, 2 / (k*k*out)), batch norm 1 / 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ResNet(ImageModel):
    """bearpaw's CIFAR ResNet (models/cifar/resnet.py): stages of 16/32/64 planes, 8x8 average pool.

    ``block: bottleneck`` needs depth = 9n + 2 (164: the published "ResNet-110", 18 blocks per
    stage),
    ``block: basic`` depth = 6n + 2 (20, 32, 56, 110).
    """

    def __init__(
        self,
        depth: int,
        n_classes: int = 100,
        block: str = "bottleneck",
        in_channels: int = 3,
        mean=CIFAR_MEAN,
        std=CIFAR_STD,
    ):
        super().__init__()
        kinds = {"basic": (BasicBlock, 6), "bottleneck": (Bottleneck, 9)}
        if block not in kinds:
            raise ValueError(f"model.block is {block!r}; choose one of {sorted(kinds)}")
        block_cls, per = kinds[block]
        if depth < per + 2 or (depth - 2) % per:
            raise ValueError(
                f"model.depth {depth} does not fit {block} blocks: it must be {per}n + 2 (e.g. "
                f"{per * 18 + 2} for 18 blocks per stage)"
            )
        n = (depth - 2) // per
        self.normalise = InputNormalisation(mean, std)
        self.inplanes = 16
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(block_cls, 16, n)
        self.layer2 = self._make_layer(block_cls, 32, n, stride=2)
        self.layer3 = self._make_layer(block_cls, 64, n, stride=2)
        self.fc = nn.Linear(64 * block_cls.expansion, n_classes)
        _bearpaw_init(self)
        last_conv = "conv3" if block == "bottleneck" else "conv2"
        self.layer_names = ["conv1", "layer1", "layer2", "layer3", "fc"]
        self.layer_modules = {
            "conv1": "conv1",
            "fc": "fc",
            **{f"layer{i}": f"layer{i}.{n - 1}.{last_conv}" for i in (1, 2, 3)},
        }

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def stages(self):
        return [
            ("conv1", lambda h: F.relu(self.bn1(self.conv1(h)))),
            ("layer1", self.layer1),
            ("layer2", self.layer2),
            ("layer3", self.layer3),
            # bearpaw's AvgPool2d(8) on the 8x8 map of a 32x32 input is the global mean.
            ("fc", lambda h: self.fc(F.avg_pool2d(h, 8).flatten(1))),
        ]


# ---------------------------------------------------------------------------------------------
# DenseNet
class DenseBottleneck(nn.Module):
    """DenseNet-BC layer: BN-ReLU-conv1x1 (4k) - BN-ReLU-conv3x3 (k), concatenated to its input."""

    def __init__(self, inplanes, growth_rate, expansion=4):
        super().__init__()
        planes = expansion * growth_rate
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, growth_rate, 3, padding=1, bias=False)

    def forward(self, x):
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return torch.cat((x, out), 1)


class DenseBasic(nn.Module):
    """DenseNet layer without bottleneck: BN-ReLU-conv3x3 (k), concatenated to its input."""

    def __init__(self, inplanes, growth_rate):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = nn.Conv2d(inplanes, growth_rate, 3, padding=1, bias=False)

    def forward(self, x):
        return torch.cat((x, self.conv1(F.relu(self.bn1(x)))), 1)


class Transition(nn.Module):
    def __init__(self, inplanes, outplanes):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.conv1 = nn.Conv2d(inplanes, outplanes, 1, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.conv1(F.relu(self.bn1(x))), 2)


class DenseNet(ImageModel):
    """bearpaw's CIFAR DenseNet (models/cifar/densenet.py), no dropout (bearpaw's default).

    ``block: bottleneck`` is DenseNet-BC: depth = 6n + 4 layers per the three dense blocks of n
    layers (190: n = 31), transitions halve the channels (``compression: 2``).
    """

    def __init__(
        self,
        depth: int,
        growth_rate: int,
        n_classes: int = 100,
        block: str = "bottleneck",
        compression: int = 2,
        in_channels: int = 3,
        mean=CIFAR_MEAN,
        std=CIFAR_STD,
    ):
        super().__init__()
        per = {"bottleneck": 6, "basic": 3}
        if block not in per:
            raise ValueError(f"model.block is {block!r}; choose one of {sorted(per)}")
        if depth < per[block] + 4 or (depth - 4) % per[block]:
            raise ValueError(
                f"model.depth {depth} does not fit {block} dense blocks: it must be {per[block]}n "
                "+ 4 (e.g. 190 for DenseNet-BC-190)"
            )
        n = (depth - 4) // per[block]
        self.block = block
        self.growth_rate = growth_rate
        self.normalise = InputNormalisation(mean, std)
        self.inplanes = growth_rate * 2
        self.conv1 = nn.Conv2d(in_channels, self.inplanes, 3, padding=1, bias=False)
        self.dense1 = self._make_denseblock(n)
        self.trans1 = self._make_transition(compression)
        self.dense2 = self._make_denseblock(n)
        self.trans2 = self._make_transition(compression)
        self.dense3 = self._make_denseblock(n)
        self.bn = nn.BatchNorm2d(self.inplanes)
        self.fc = nn.Linear(self.inplanes, n_classes)
        _bearpaw_init(self)
        last_conv = "conv2" if block == "bottleneck" else "conv1"
        self.layer_names = ["conv1", "dense1", "trans1", "dense2", "trans2", "dense3", "fc"]
        self.layer_modules = {
            "conv1": "conv1",
            "trans1": "trans1.conv1",
            "trans2": "trans2.conv1",
            "fc": "fc",
            **{f"dense{i}": f"dense{i}.{n - 1}.{last_conv}" for i in (1, 2, 3)},
        }

    def _make_denseblock(self, blocks):
        layers = []
        for _ in range(blocks):
            layers.append(
                DenseBottleneck(self.inplanes, self.growth_rate)
                if self.block == "bottleneck"
                else DenseBasic(self.inplanes, self.growth_rate)
            )
            self.inplanes += self.growth_rate
        return nn.Sequential(*layers)

    def _make_transition(self, compression):
        inplanes, outplanes = self.inplanes, self.inplanes // compression
        self.inplanes = outplanes
        return Transition(inplanes, outplanes)

    def stages(self):
        return [
            ("conv1", self.conv1),
            ("dense1", self.dense1),
            ("trans1", self.trans1),
            ("dense2", self.dense2),
            ("trans2", self.trans2),
            ("dense3", self.dense3),
            ("fc", lambda h: self.fc(F.avg_pool2d(F.relu(self.bn(h)), 8).flatten(1))),
        ]


# ----------------------------------------------------------------------------------------------
# ConvNet
class ConvNet(ImageModel):
    """Small AlexNet-style CNN: conv 3x3 (pad 1) - ReLU - max-pool 2 per stage, then linear layers
    (ReLU
    between them). Layers ``conv1..convK``, ``fc1..fcM`` (the last is the classifier)."""

    def __init__(
        self, in_shape, n_classes: int, channels=(32, 64, 128), hidden=(128,), mean=None, std=None
    ):
        super().__init__()
        if mean is None or std is None:
            raise ValueError(
                "model.normalise {mean, std} is required for arch convnet: the per-channel "
                "statistics of the training images in [0, 1]"
            )
        c, h, w = in_shape
        self.normalise = InputNormalisation(mean, std)
        self.layer_names = []
        for i, out in enumerate(channels):
            self.add_module(f"conv{i + 1}", nn.Conv2d(c, out, 3, padding=1))
            self.layer_names.append(f"conv{i + 1}")
            c, h, w = out, h // 2, w // 2
            if h < 1 or w < 1:
                raise ValueError(
                    f"model.channels has {len(channels)} stages, too many for "
                    f"{in_shape[1]}x{in_shape[2]} images (each halves the size)"
                )
        widths = [c * h * w, *hidden, n_classes]
        for j, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            self.add_module(f"fc{j + 1}", nn.Linear(a, b))
            self.layer_names.append(f"fc{j + 1}")
        self.n_conv = len(channels)
        self.layer_modules = {name: name for name in self.layer_names}

    def _conv_stage(self, name: str, h: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(F.relu(getattr(self, name)(h)), 2)

    def _fc_stage(self, name: str, h: torch.Tensor) -> torch.Tensor:
        first = self.layer_names.index(name) == self.n_conv
        h = getattr(self, name)(h.flatten(1) if first else h)
        return (
            h if name == self.layer_names[-1] else F.relu(h)
        )  # the classifier's logits stay linear

    def stages(self):
        return [
            (name, partial(self._conv_stage if i < self.n_conv else self._fc_stage, name))
            for i, name in enumerate(self.layer_names)
        ]


# ------------------------------------------------------------------------------------------------
# build
ARCHS = ("alexnet", "resnet", "densenet", "convnet")


def build(spec: dict, in_shape, n_classes: int) -> ImageModel:
    """Build an image model from its config entry; ``in_shape`` is (C, H, W) of the images."""
    if isinstance(in_shape, int) or len(in_shape) != 3:
        raise ValueError(
            f"arch {spec['arch']!r} needs images [C, H, W]; the dataset's records have shape "
            f"{in_shape}. Use arch fc for tabular data."
        )
    c = int(in_shape[0])
    norm = spec.get("normalise") or {}
    kw = {"mean": tuple(norm["mean"]), "std": tuple(norm["std"])} if norm else {}
    arch = spec["arch"]
    if arch == "alexnet":
        net = AlexNet(n_classes, in_channels=c, **kw)
    elif arch == "resnet":
        net = ResNet(
            spec["depth"], n_classes, block=spec.get("block", "bottleneck"), in_channels=c, **kw
        )
    elif arch == "densenet":
        net = DenseNet(
            spec["depth"],
            spec["growth_rate"],
            n_classes,
            block=spec.get("block", "bottleneck"),
            compression=spec.get("compression", 2),
            in_channels=c,
            **kw,
        )
    elif arch == "convnet":
        net = ConvNet(
            tuple(int(v) for v in in_shape),
            n_classes,
            channels=tuple(spec["channels"]),
            hidden=tuple(spec.get("hidden", (128,))),
            **kw,
        )
    else:
        raise ValueError(f"unknown image architecture {arch!r}; known: {list(ARCHS)}")
    if kw and len(kw["mean"]) != c:
        raise ValueError(f"model.normalise has {len(kw['mean'])} channels but the images have {c}")
    if not kw and c != len(CIFAR_MEAN):
        raise ValueError(
            f"arch {arch} defaults to bearpaw's 3-channel CIFAR normalisation but the images have "
            f"{c} channels; give model.normalise {{mean, std}} in the config"
        )
    # Fail at build time, not deep inside training, if the images are too small for the network.
    with torch.no_grad():
        net.eval()(torch.zeros(1, *in_shape))
    return net


# ---------------------------------------------------------------------------------------
# augmentation
def random_crop_flip(x: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """bearpaw's training augmentation on a batch of raw images [B, C, H, W]: RandomCrop(H,
    padding=4)
    (zero padding, i.e. black pixels before normalisation, as on the PIL image) and a horizontal
    flip with probability 1/2. One crop offset and one flip per image, drawn from ``generator`` (the
    config seed),
    applied with one gather: no loop over images."""
    b, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(x.device)
    flip = (torch.rand(b, generator=generator) < 0.5).to(x.device)
    rows = dy[:, None] + torch.arange(h, device=x.device)  # [B, H]
    cols = dx[:, None] + torch.arange(w, device=x.device)  # [B, W]
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, chans, rows[:, None, :, None], cols[:, None, None, :]]


# ----------------------------------------------------------------------------------- bearpaw
# checkpoints
def save_bearpaw_checkpoint(net: nn.Module, path: str | Path, **extra) -> None:
    """Save ``net`` as bearpaw's training script did (DataParallel's ``module.`` key prefix)."""
    state = {f"module.{k}": v for k, v in net.state_dict().items()}
    torch.save({"state_dict": state, **extra}, path)


def load_bearpaw_checkpoint(net: nn.Module, path: str | Path, sha256: str | None) -> dict:
    """Load a bearpaw checkpoint into ``net`` after checking its sha256; return its other entries.

    bearpaw's checkpoints have no published checksums and their OneDrive host is unreliable, so
    the user gives the sha256 of the file they downloaded and it is checked before the file is
    unpickled (``weights_only=True`` too). Keys must match the architecture exactly, with one
    exception: checkpoints saved before PyTorch 0.4.1 (bearpaw's 2017 models) have no
    ``num_batches_tracked`` batch-norm counters, which only matter for training with
    ``momentum=None``; they are left at their initial value.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} (model.checkpoint.path in the config) does not exist; download it "
            "from bearpaw/pytorch-classification's model links and give its path, or remove "
            "model.checkpoint to train the model instead."
        )
    if not sha256:
        raise CheckpointError(
            f"model.checkpoint.sha256 is not set for {path}: give the sha256 of the file you "
            f"downloaded (`sha256sum {path}`); bearpaw publishes no checksums."
        )
    actual = files.sha256(path)
    if actual != sha256.lower():
        raise CheckpointError(
            f"checkpoint {path} has sha256 {actual}, but the config says {sha256}: it is another "
            "file, truncated or altered. Download it again or fix the config."
        )
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - re-raised with what to do
        raise CheckpointError(
            f"checkpoint {path} cannot be read as a PyTorch checkpoint ({err})."
        ) from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(
            f"checkpoint {path} is not in bearpaw's format {{'state_dict': {{'module.*': ...}}}}; "
            "its top-level entries are "
            f"{sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__}."
        )
    state = {
        (k[len("module.") :] if k.startswith("module.") else k): v
        for k, v in ckpt["state_dict"].items()
    }
    own = net.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: checkpoint {tuple(v.shape)}, model {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and tuple(v.shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        raise CheckpointError(
            f"checkpoint {path} does not match the {type(net).__name__} in the config (model "
            f"section): missing keys {missing}; unexpected keys {unexpected}; wrong shapes "
            f"{shapes}. Check model.arch, depth, block and growth_rate (bearpaw's 'ResNet-110' is "
            "depth 164, block bottleneck)."
        )
    net.load_state_dict(state, strict=False)
    return {k: v for k, v in ckpt.items() if k != "state_dict" and isinstance(v, (int, float, str))}
