"""Target models: the paper's fully connected nets (§III-B); image models: deepleak/cnn.py.

Every target model exposes the same small interface the feature extractor relies on:

- ``layer_names``: the names of its parametrised layers, input side first, so "the last layer" is
  ``layer_names[-1]`` and "the second to last" ``layer_names[-2]`` (the paper counts from
  the output);
- ``forward(x, return_activations=True)`` returns the logits and the output of every layer in
  ``layer_names`` (after its non-linearity; the last one is the logits themselves).
"""
from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


class FCNet(nn.Module):
    """Purchase100 / Texas100 target model: in -> 1024 -> 512 -> 256 -> 128 -> classes.

    The paper does not name the hidden activation; the Nasr-lineage code and ML Privacy Meter use
    Tanh with a linear output layer, which is the default here (README, 'Where the paper is
    silent').
    """

    def __init__(self, in_features: int, n_classes: int, hidden=(1024, 512, 256, 128),
                 activation: str = "tanh"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of "
                             f"{sorted(ACTIVATIONS)}")
        widths = [in_features, *hidden, n_classes]
        self.layer_names = [f"fc{i + 1}" for i in range(len(widths) - 1)]
        for name, n_in, n_out in zip(self.layer_names, widths[:-1], widths[1:], strict=True):
            self.add_module(name, nn.Linear(n_in, n_out))
        self.act = ACTIVATIONS[activation]()

    def forward(self, x: torch.Tensor, return_activations: bool = False):
        activations = []
        h = x
        for i, name in enumerate(self.layer_names):
            h = getattr(self, name)(h)
            if i < len(self.layer_names) - 1:
                h = self.act(h)
            activations.append(h)
        return (h, activations) if return_activations else h


def build_model(spec: dict, in_features, n_classes: int, seed: int | None = None) -> nn.Module:
    """Build a target model from its config entry (``{"arch": "fc", "hidden": [...], ...}``).

    ``in_features`` is the record width for ``fc`` and the image shape [C, H, W] for the image
    architectures of deepleak/cnn.py (AlexNet, ResNet, DenseNet as bearpaw builds them; ConvNet).
    With ``seed`` the initial weights are drawn from it, so the same config gives the same model.
    """
    from deepleak import cnn

    if seed is not None:
        torch.manual_seed(seed)

    arch = spec["arch"]
    if arch == "fc":
        return FCNet(in_features, n_classes, hidden=tuple(spec["hidden"]),
                     activation=spec.get("activation", "tanh"))
    if arch in cnn.ARCHS:
        return cnn.build(spec, in_features, n_classes)
    raise ValueError(f"unknown architecture {arch!r} in the model config; known: "
                     f"{['fc', *cnn.ARCHS]}")


def layer_module(net: nn.Module, layer: str) -> str:
    """The module (name in ``named_modules``) whose per-example gradient is ``layer``'s gradient
    feature.

    A model may name its attack layers apart from its modules (``layer_modules``: AlexNet's "conv5"
    is bearpaw's ``features.10``, ResNet's stage "layer3" its last convolution, deepleak/cnn.py);
    the FC nets name them alike.
    """
    return getattr(net, "layer_modules", {}).get(layer, layer)
