"""What an attack model reads: the paper's feature sets (§II-A; Tables III-V) and the
stand-alone attack variants built from them. Imports neither torch nor Snakemake: the rule files
read it at parse time.

An attack variant names the features its attack model reads. Layers are counted from the output as
the paper does: outputs ``(1,)`` is the last layer's output (the prediction vector), gradients
``(2,)`` the gradient of the second-to-last layer's parameters; ``"all"`` means every layer the
feature file has. Every variant also reads the loss and the one-hot label, as every attack in the
authors' code does.

Each variant names the ``group`` of variants it trains with in one job (rule ``attack_<group>``): a
job pays seconds of Python and torch start-up, so one job per variant would spend a small profile's
budget on start-ups. A variant without a group stops the parse (:func:`attack_groups`), so a new
variant cannot silently have no rule.
"""
from __future__ import annotations

from dataclasses import dataclass

# How a conv layer's gradient is stored (config ``standalone.conv_gradient``;
# deepleak/gradients.py).
CONV_GRADIENT_MODES = ("channel_norms", "kernel")


@dataclass(frozen=True)
class AttackFeatures:
    """Which features an attack model reads (one row of Tables III-V, VIII), by layer name."""

    outputs: tuple[str, ...] = ()
    gradients: tuple[str, ...] = ()
    loss: bool = True
    label: bool = True

    def keys(self, available=None) -> list[str]:
        """Feature keys the attack reads. A gradient layer is read as its factors (linear layers)
        or, when ``available`` (a feature file's keys) holds one, as its conv-gradient reduction."""
        keys = [f"out/{n}" for n in self.outputs]
        for n in self.gradients:
            conv = [f"conv_grad_{m}/{n}" for m in CONV_GRADIENT_MODES
                    if available is not None and f"conv_grad_{m}/{n}" in available]
            keys += conv[:1] or [f"h_in/{n}", f"delta/{n}"]
        if self.loss:
            keys.append("loss")
        if self.label:
            keys.append("label")
        return keys

    def as_dict(self) -> dict:
        return {"outputs": self.outputs, "gradients": self.gradients, "loss": self.loss,
                "label": self.label}


@dataclass(frozen=True)
class Variant:
    outputs: tuple[int, ...] | str = ()
    gradients: tuple[int, ...] | str = ()
    description: str = ""
    group: str = ""

    def resolve(self, layer_names: list[str], gradient_layers: int) -> AttackFeatures:
        """Turn layer counts from the end into the model's layer names."""
        n = len(layer_names)
        outs = range(1, n + 1) if self.outputs == "all" else self.outputs
        grads = range(1, gradient_layers + 1) if self.gradients == "all" else self.gradients
        for k in grads:
            if k > gradient_layers:
                raise ValueError(f"{self.description}: the gradient of layer {k} from the end is "
                                 f"needed but gradients are extracted for {gradient_layers} "
                                 f"(standalone.gradient_layers or finetune.gradient_layers)")
        return AttackFeatures(outputs=tuple(layer_names[n - k] for k in sorted(outs)),
                              gradients=tuple(layer_names[n - k] for k in sorted(grads)))


def _variant(group: str, description: str, *, outputs=(), gradients=()) -> Variant:
    return Variant(outputs=outputs, gradients=gradients, description=description, group=group)


# Attack variants of the stand-alone scenario, each trained once and shared by every table using it.
VARIANTS: dict[str, Variant] = {
    "black_box": _variant("outputs", "Black-box: prediction vector, loss and label", outputs=(1,)),
    "outputs_2": _variant("outputs", "Output of the second to last layer", outputs=(2,)),
    "outputs_3": _variant("outputs", "Output of the third to last layer", outputs=(3,)),
    "outputs_123": _variant("outputs", "Outputs of the last three layers", outputs=(1, 2, 3)),
    "white_box_outputs": _variant("outputs", "White-box: outputs of all layers", outputs="all"),
    "gradients_1": _variant("gradients", "White-box: last-layer gradient", gradients=(1,)),
    "gradients_2": _variant("gradients", "Second-to-last-layer gradient", gradients=(2,)),
    "gradients_3": _variant("gradients", "Third-to-last-layer gradient", gradients=(3,)),
    "gradients_4": _variant("gradients", "Fourth-to-last-layer gradient", gradients=(4,)),
    "gradients_1234": _variant("gradients", "Gradients of the last four layers",
                               gradients=(1, 2, 3, 4)),
    "gradients_1_outputs_1": _variant("combinations", "Last-layer gradient and output",
                                      gradients=(1,), outputs=(1,)),
    "gradients_1_outputs_all": _variant("combinations", "Last-layer gradient, all outputs",
                                        gradients=(1,), outputs="all"),
    "gradients_all_outputs_all": _variant("combinations", "All gradients, all outputs",
                                          gradients="all", outputs="all"),
}

# Table VI: the attacker's knowledge, swept on the last-layer gradient attack (group "knowledge").
KNOWLEDGE_VARIANT = "gradients_1"
KNOWLEDGE_GROUP = "knowledge"


def knowledge_attack(i: int) -> str:
    """The Table VI attack that knows the ``i``-th fraction (``standalone.knowledge_fractions``)."""
    return f"{KNOWLEDGE_VARIANT}-known{i}"


def variant_of(attack: str) -> tuple[Variant, int | None]:
    """The feature set of an attack name and its knowledge-sweep index (None: full knowledge)."""
    base, _, known = attack.partition("-known")
    if base not in VARIANTS:
        raise ValueError(f"unknown attack {attack!r}; known: {sorted(VARIANTS)}")
    return VARIANTS[base], (int(known) if known else None)


def attack_groups(n_knowledge: int, per_attack: bool = False) -> dict[str, list[str]]:
    """The stand-alone attacks trained in one job each, by group (the variants' ``group``, then the
    Table VI knowledge sweep); ``per_attack`` (config ``standalone.attack_jobs``): one group per
    attack, named after it (a rule name: ``-`` as ``_``)."""
    groups: dict[str, list[str]] = {}
    for name, variant in VARIANTS.items():
        if not variant.group:
            raise ValueError(f"attack variant {name!r} has no group, so no rule trains it; give it "
                             f"one (deepleak/variants.py)")
        groups.setdefault(variant.group, []).append(name)
    groups[KNOWLEDGE_GROUP] = [knowledge_attack(i) for i in range(n_knowledge)]
    if per_attack:
        return {a.replace("-", "_"): [a] for attacks in groups.values() for a in attacks}
    return groups


def attacks_of_job(n_knowledge: int, job: str) -> list[str]:
    """The attacks job ``attack_<job>`` trains: a group's or, for a job of one attack, that one.
    One DAG may hold both kinds (workflow/rules/attacks.smk); their names never clash."""
    per_attack = attack_groups(n_knowledge, per_attack=True)
    return per_attack[job] if job in per_attack else attack_groups(n_knowledge)[job]
