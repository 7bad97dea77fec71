"""The paper's stand-alone experiments: which attack feeds each row of Tables III-VI and VIII, and the
values the paper printed (SPEC.md 5). Search this file for "Table VIII" to find its definition.

An attack variant names the features its attack model reads (SPEC.md 2.1). Layers are counted from the
output as the paper does: outputs ``(1,)`` is the last layer's output (the prediction vector), gradients
``(2,)`` the gradient of the second-to-last layer's parameters; ``"all"`` means every layer the feature
file has. Every variant also reads the loss and the one-hot label, as every attack in the authors' code
does (SPEC.md 7).
"""
from __future__ import annotations

from dataclasses import dataclass

from deepleak.attack import AttackFeatures


@dataclass(frozen=True)
class Variant:
    outputs: tuple[int, ...] | str = ()
    gradients: tuple[int, ...] | str = ()
    description: str = ""

    def resolve(self, layer_names: list[str], gradient_layers: int) -> AttackFeatures:
        """Turn layer counts from the end into the model's layer names."""
        n = len(layer_names)
        outs = range(1, n + 1) if self.outputs == "all" else self.outputs
        grads = range(1, gradient_layers + 1) if self.gradients == "all" else self.gradients
        for k in grads:
            if k > gradient_layers:
                raise ValueError(f"{self.description}: the gradient of layer {k} from the end is "
                                 f"needed but features.gradient_layers is {gradient_layers}")
        return AttackFeatures(outputs=tuple(layer_names[n - k] for k in sorted(outs)),
                              gradients=tuple(layer_names[n - k] for k in sorted(grads)))


# Attack variants of the stand-alone scenario, each trained once and shared by every table using it.
VARIANTS: dict[str, Variant] = {
    "black_box": Variant(outputs=(1,), description="Black-box: prediction vector, loss and label"),
    "outputs_2": Variant(outputs=(2,), description="Output of the second to last layer"),
    "outputs_3": Variant(outputs=(3,), description="Output of the third to last layer"),
    "outputs_123": Variant(outputs=(1, 2, 3), description="Outputs of the last three layers"),
    "white_box_outputs": Variant(outputs="all", description="White-box: outputs of all layers"),
    "gradients_1": Variant(gradients=(1,), description="White-box: last-layer gradient"),
    "gradients_2": Variant(gradients=(2,), description="Second-to-last-layer gradient"),
    "gradients_3": Variant(gradients=(3,), description="Third-to-last-layer gradient"),
    "gradients_4": Variant(gradients=(4,), description="Fourth-to-last-layer gradient"),
    "gradients_1234": Variant(gradients=(1, 2, 3, 4), description="Gradients of the last four layers"),
    "gradients_1_outputs_1": Variant(gradients=(1,), outputs=(1,),
                                     description="Last-layer gradient and output"),
    "gradients_1_outputs_all": Variant(gradients=(1,), outputs="all",
                                       description="Last-layer gradient, all outputs"),
    "gradients_all_outputs_all": Variant(gradients="all", outputs="all",
                                         description="All gradients, all outputs"),
}

# Table VI: the attacker's knowledge, run on the last-layer gradient attack.
KNOWLEDGE_VARIANT = "gradients_1"


def knowledge_attack(i: int) -> str:
    return f"{KNOWLEDGE_VARIANT}-known{i}"


def variant_of(attack: str) -> tuple[Variant, int | None]:
    """The feature set of an attack name and its knowledge-sweep index (None: full knowledge)."""
    base, _, known = attack.partition("-known")
    if base not in VARIANTS:
        raise ValueError(f"unknown attack {attack!r}; known: {sorted(VARIANTS)}")
    return VARIANTS[base], (int(known) if known else None)


@dataclass(frozen=True)
class Row:
    label: str
    attack: str
    paper: float | None  # the paper's accuracy in %, CIFAR100-AlexNet for Tables III-VI


# Table III: attack accuracy using the outputs of individual activation layers (CIFAR100-AlexNet).
TABLE3 = [
    Row("Last layer (prediction vector)", "black_box", 74.6),
    Row("Second to last", "outputs_2", 74.1),
    Row("Third to last", "outputs_3", 72.9),
    Row("Last three layers, combined", "outputs_123", 74.6),
]

# Table IV: attack accuracy using the gradients of individual layers (CIFAR100-AlexNet).
TABLE4 = [
    Row("Last layer parameters", "gradients_1", 75.1),
    Row("Second to last layer parameters", "gradients_2", 74.6),
    Row("Third to last layer parameters", "gradients_3", 73.5),
    Row("Fourth to last layer parameters", "gradients_4", 72.6),
    Row("Parameters of last four layers, combined", "gradients_1234", 75.15),
]

# Table V: combinations of gradients and outputs (CIFAR100-AlexNet).
TABLE5 = [
    Row("Gradients: last layer; outputs: none", "gradients_1", 75.10),
    Row("Gradients: last layer; outputs: last layer", "gradients_1_outputs_1", 75.11),
    Row("Gradients: last layer; outputs: all layers", "gradients_1_outputs_all", 75.12),
    Row("Gradients: all layers; outputs: all layers", "gradients_all_outputs_all", 75.18),
]

# Table VI: size of the attacker's training data (CIFAR100-AlexNet, 50,000 target members):
# (known members, known non-members, accuracy). The sweep is run at the same fractions of the profile's
# attacker knowledge: 10k/25k = 0.4 ... (config ``standalone.knowledge_fractions``).
TABLE6_PAPER = [(10000, 2000, 73.2), (15000, 2000, 73.7), (15000, 5000, 74.8), (25000, 5000, 75.1)]

# Table VIII: the main stand-alone result, columns black-box / white-box outputs / white-box gradients.
TABLE8_COLUMNS = [("Black-box", "black_box"), ("White-box (outputs)", "white_box_outputs"),
                  ("White-box (gradients)", "gradients_1")]
TABLE8_PAPER = {  # dataset: (architecture, train acc, test acc, black-box, outputs, gradients) in %
    "cifar100/alexnet": ("AlexNet", 99, 44, 74.2, 74.6, 75.1),
    "cifar100/resnet": ("ResNet", 89, 73, 62.2, 62.2, 64.3),
    "cifar100/densenet": ("DenseNet", 100, 82, 67.7, 67.7, 74.3),
    "texas100": ("Fully connected", 81.6, 52, 63.0, 63.3, 68.3),
    "purchase100": ("Fully connected", 100, 80, 67.6, 67.6, 73.4),
}

STANDALONE_TABLES = {"table3": TABLE3, "table4": TABLE4, "table5": TABLE5}


def standalone_attacks(n_knowledge: int) -> list[str]:
    """Every attack the stand-alone tables need, each listed once."""
    names = [a for _, a in TABLE8_COLUMNS]
    for rows in STANDALONE_TABLES.values():
        names += [r.attack for r in rows]
    names += [knowledge_attack(i) for i in range(n_knowledge)]
    return list(dict.fromkeys(names))
