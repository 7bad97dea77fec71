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


def attack_groups(n_knowledge: int) -> dict[str, list[str]]:
    """Disjoint groups of stand-alone attack variants, each trained in one job: a job pays seconds of
    Python and torch start-up, so one job per variant would spend the default profile's budget on it."""
    return {
        "outputs": ["black_box", "outputs_2", "outputs_3", "outputs_123", "white_box_outputs"],
        "gradients": ["gradients_1", "gradients_2", "gradients_3", "gradients_4", "gradients_1234"],
        "combinations": ["gradients_1_outputs_1", "gradients_1_outputs_all",
                         "gradients_all_outputs_all"],
        "knowledge": [knowledge_attack(i) for i in range(n_knowledge)],
    }


def standalone_attacks(n_knowledge: int) -> list[str]:
    """Every attack the stand-alone tables need, each listed once."""
    names = [a for _, a in TABLE8_COLUMNS]
    for rows in STANDALONE_TABLES.values():
        names += [r.attack for r in rows]
    names += [knowledge_attack(i) for i in range(n_knowledge)]
    return list(dict.fromkeys(names))


# Table VII: unsupervised attack vs shadow-model attack (white-box), accuracy in % (SPEC.md 5). The
# supervised reference row is Table VIII's white-box (gradients) column, the attack both are compared
# with in the paper's text. Keys as in TABLE8_PAPER: "<data>/<arch>" for CIFAR-100, else "<data>".
TABLE7_COLUMNS = [("Unsupervised", "unsupervised"), ("Shadow models", "shadow_model")]
TABLE7_PAPER = {  # dataset: (architecture, unsupervised, shadow models) in %
    "cifar100/alexnet": ("AlexNet", 75.0, 70.5),
    "cifar100/densenet": ("DenseNet", 71.2, 64.2),
    "cifar100/resnet": ("ResNet", 63.1, 60.9),
    "texas100": ("Fully connected", 66.3, 65.3),
    "purchase100": ("Fully connected", 71.0, 68.2),
}

# Table IX: fine-tuned models (D = 60 % of the Table II training set, D_delta = 40 %, D-bar the
# non-members; the attacker holds the model before and after fine-tuning). Columns: the fine-tuned
# model's train and test accuracy, then the three membership tasks (deepleak/finetune.py TASKS).
TABLE9_TASKS = [("D vs D_Δ", "d_vs_d_delta"), ("D vs D̄ (non-members)", "d_vs_nonmembers"),
                ("D_Δ vs D̄ (non-members)", "d_delta_vs_nonmembers")]
TABLE9_PAPER = {  # dataset: (architecture, train acc, test acc, D vs D_delta, D vs D-bar,
    #                          D_delta vs D-bar) in %
    "cifar100/alexnet": ("AlexNet", 100.0, 39.8, 62.1, 75.4, 71.3),
    "cifar100/densenet": ("DenseNet", 100.0, 64.3, 63.3, 74.6, 71.5),
    "texas100": ("Fully connected", 95.2, 48.6, 58.4, 68.4, 67.2),
    "purchase100": ("Fully connected", 100.0, 77.5, 64.4, 73.8, 71.2),
}


def paper_reference(table: dict, data: str, arch: str):
    """A dataset entry's row of a paper table keyed like TABLE8_PAPER (Table VII, IX): by data and
    architecture ("cifar100/alexnet"), else by data alone (the FC datasets); None if the paper has none."""
    return table.get(f"{data}/{arch}") or table.get(data)


# --------------------------------------------------------------------------------------------------
# Federated learning (SPEC.md 1.3-1.4, 5): Tables X, XII and XIII. The runs and observers are defined in
# deepleak/federated.py.
# --------------------------------------------------------------------------------------------------
# Table X: federated learning, 4 participants. Columns as (label, run, observer, test set): the passive
# rows are scored on the attack test set, the active ones on their 100 + 100 target records (SPEC.md 1.4).
TABLE10_COLUMNS = [
    ("Global (central) attacker: passive", "passive", "central", "test"),
    ("Global attacker, active: gradient ascent", "central_ascent", "central", "targets"),
    ("Global attacker, active: isolating", "isolating", "central", "targets"),
    ("Global attacker, active: isolating + gradient ascent", "isolating_ascent", "central", "targets"),
    ("Local attacker: passive", "passive", "local", "test"),
    ("Local attacker, active: gradient ascent", "local_ascent", "local", "targets"),
]
# Table X: rows with no paper value, the passive attacks on the active attacks' target records (the
# comparison the active rows need: same 200 records, no attack on the training).
TABLE10_PASSIVE_ON_TARGETS = [
    ("Global attacker: passive, on the active attacks' target records", "central"),
    ("Local attacker: passive, on the active attacks' target records", "local"),
]
TABLE10_PAPER = {  # Table X, in TABLE10_COLUMNS order, in %
    "cifar100/alexnet": (85.1, 88.2, 89.0, 92.1, 73.1, 76.3),
    "cifar100/densenet": (79.2, 82.1, 84.3, 87.3, 72.2, 76.7),
    "texas100": (66.4, 69.5, 69.3, 71.7, 62.4, 66.4),
    "purchase100": (72.4, 75.4, 75.3, 82.5, 65.8, 69.8),
}
# Table X's observed epochs: [40, 60, 80, 90, 100] of 100 rounds (Purchase100, Texas100) and
# [100, 150, 200, 250, 300] of 300 (CIFAR100); config/paper.yaml has them.

# Table XII: the passive global attacker vs the observed epochs (CIFAR100-AlexNet, 300 rounds):
# (epochs, accuracy %). DeepLeak scales the first three sets to a profile's rounds; the fourth is
# Table X's observed epochs, as in the paper (85.1 % in both tables).
TABLE12_PAPER = [
    ([5, 10, 15, 20, 25], 57.4),
    ([10, 20, 30, 40, 50], 76.5),
    ([50, 100, 150, 200, 250], 79.5),
    ([100, 150, 200, 250, 300], 85.1),
]
TABLE12_PAPER_ROUNDS = 300

# Table XIII: the passive local attacker vs the number of participants (CIFAR100-AlexNet), in %. The
# 4-party value does not match Table X's local passive AlexNet (73.1 %; SPEC.md 8.4).
TABLE13_PAPER = {2: 89.0, 3: 78.1, 4: 76.7, 5: 67.2}
