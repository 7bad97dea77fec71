"""The federated scenario's runs and observed epochs (§IV-D, Tables X, XII, XIII), without torch:
the DAG is planned from them (workflow/rules/common.smk, the resource model) and
deepleak/federated.py simulates them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepleak import paper


# --------------------------------------------------------------------------------------------------
# runs of the simulation
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    """One federated training run: how many parties, and which active attack (if any) shapes it.

    ``observer`` is whose view is recorded: ``"central"`` (the uploads), ``"local"`` (the global
    models) or ``"both"`` (the passive run serves Table X's central and local passive rows).
    """

    name: str
    parties: int
    ascent: str | None = None  # None, "central" or "local"
    isolating: bool = False
    observer: str = "both"
    description: str = ""

    @property
    def local_attacker(self) -> int:
        return self.parties - 1


def runs(parties: int, party_sweep: list[int] | None) -> dict[str, Run]:
    """Every run of the scenario: Table X's six columns come from five runs, Table XIII adds one
    passive run per other party count (its row for ``parties`` is the passive run itself)."""
    out = {
        "passive": Run("passive", parties, observer="both",
                       description="Passive: the attackers only observe"),
        "central_ascent": Run(
            "central_ascent", parties, ascent="central", observer="central",
            description="Central attacker: gradient ascent on the target records"),
        "isolating": Run("isolating", parties, isolating=True, observer="central",
                         description="Central attacker: isolating the target party"),
        "isolating_ascent": Run("isolating_ascent", parties, ascent="central", isolating=True,
                                observer="central",
                                description="Central attacker: isolating + gradient ascent"),
        "local_ascent": Run("local_ascent", parties, ascent="local", observer="local",
                            description="Local attacker: gradient ascent on the target records"),
    }
    for n in sorted(set(party_sweep or [])):
        if n != parties:
            out[f"parties{n}"] = Run(f"parties{n}", n, observer="local",
                                     description=f"Passive, {n} parties (Table XIII)")
    return out


def run_of(name: str, parties: int, party_sweep: list[int] | None) -> Run:
    known = runs(parties, party_sweep)
    if name not in known:
        raise ValueError(f"unknown federated run {name!r}; this config defines {sorted(known)}")
    return known[name]


# --------------------------------------------------------------------------------------------------
# observed epochs
# --------------------------------------------------------------------------------------------------
def scale_epochs(paper_epochs: list[int], paper_rounds: int, rounds: int) -> list[int]:
    """The paper's observed epochs scaled to ``rounds`` (Table XII).

    Each epoch e becomes round(e * rounds / paper_rounds), at least round 1. Where rounding puts two
    observations on one round they are pushed to the next rounds, so that an epoch set keeps its T
    distinct observations; with fewer rounds than that allows, the collisions are dropped instead (T
    shrinks). With few rounds the earliest sets therefore start at round 1 and may coincide; the
    table prints the rounds actually observed.
    """
    scaled = [min(rounds, max(1, int(np.floor(e * rounds / paper_rounds + 0.5))))
              for e in paper_epochs]
    out: list[int] = []
    for r in scaled:
        out.append(out[-1] + 1 if out and r <= out[-1] else r)
    if out[-1] > rounds:
        out = sorted(set(scaled))
    return out


def check_epochs(epochs: list[int], rounds: int, where: str) -> list[int]:
    epochs = [int(e) for e in epochs]
    if not epochs or sorted(set(epochs)) != epochs or epochs[0] < 1 or epochs[-1] > rounds:
        raise ValueError(f"{where}: observed epochs {epochs} must be strictly increasing rounds in "
                         f"1..{rounds} (the config's rounds)")
    return epochs


def party_sweep(federated: dict, dataset: str) -> list[int]:
    """Table XIII's party counts for ``dataset`` (config ``federated``): the paper ran Tables XII
    and XIII on one dataset, so only ``federated.sweep_datasets`` sweep."""
    return list(federated["party_sweep"]) if dataset in federated["sweep_datasets"] else []


def overlapping(federated: dict, dataset: str) -> bool:
    """Whether ``dataset``'s parties draw from a common pool (config
    ``federated.per_dataset.<d>.overlapping``, by default ``federated.overlapping``): Table XI's
    CIFAR100 parties (30,000 each of 50,000 training images) cannot be disjoint, while "for all the
    other experiments, the participants use non-overlapping datasets" (§III-D)."""
    own = federated["per_dataset"][dataset].get("overlapping")
    return bool(federated["overlapping"] if own is None else own)


def table12_epoch_sets(federated: dict, dataset: str) -> list[list[int]]:
    """Table XII's epoch sets for ``dataset``: the paper's first three (CIFAR100, 300 rounds) scaled
    to the dataset's rounds, then Table X's observed epochs, which the paper's fourth set is (85.1 %
    in both tables). None for a dataset that does not sweep."""
    if dataset not in federated["sweep_datasets"]:
        return []
    cfg = federated["per_dataset"][dataset]
    scaled = [scale_epochs(epochs, paper.TABLE12_PAPER_ROUNDS, cfg["rounds"])
              for epochs in paper.TABLE12_EPOCHS[:-1]]
    return [*scaled, list(cfg["observed_epochs"])]
