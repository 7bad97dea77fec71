"""The federated scenario's runs, observed epochs and split (§IV-D, Tables X-XIII), without torch:
the DAG is planned from them (workflow/rules/common.smk, the resource model), the split and
table jobs use them, and deepleak/federated.py simulates the runs."""
from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deepleak import paper
from deepleak.splits import SplitError, check_disjoint


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


# --------------------------------------------------------------------------------------------------
# the federated split (Table XI)
# --------------------------------------------------------------------------------------------------
TARGET_PARTY = 0  # the party the central active attacks target (§II-C)


def sub_seed(seed: int, *parts) -> int:
    """A seed for one piece of a run (a round's batch order, ...), stable across machines."""
    return zlib.crc32("/".join(map(str, (seed, *parts))).encode())


# --------------------------------------------------------------------------------------------------
# the federated split
# --------------------------------------------------------------------------------------------------
KNOWN_NONMEMBER_SETS = ("attack_train_nonmembers", "attack_val_nonmembers")
ATTACK_MEMBER_SETS = ("attack_train_members", "attack_val_members", "attack_test_members")


def central_key(party: int, name: str) -> str:
    return f"central/party{party}/{name}"


def local_key(parties: int, name: str) -> str:
    return f"local/{parties}parties/{name}"


def _known_val(n_known: int, validation_fraction: float, key: str) -> tuple[int, int]:
    n_val = int(round(n_known * validation_fraction))
    if n_val < 1 or n_known - n_val < 1:
        raise SplitError(f"{key}: validation_fraction {validation_fraction} leaves an empty attack "
                         f"training or validation set (known {n_known}).")
    return n_known - n_val, n_val


def federated_splits(n_records: int, sizes: dict, *, parties: int, party_sweep: list[int],
                     validation_fraction: float, overlapping: bool, seed: int,
                     key: str = "federated.per_dataset.<dataset>.sizes") -> dict[str, np.ndarray]:
    """Named record sets of the federated scenario (Table XI), drawn from one seeded generator.

    - ``party<k>``: party k's training data, ``party_train`` records each, for every party any run
      needs (the largest party count). Non-overlapping blocks, or with ``overlapping`` independent
      draws from a common pool of ``member_pool`` records (the paper's CIFAR100 local-attacker runs,
      where 4 x 30,000 > 50,000; Table XI);
    - ``test``: records no party holds, for the global model's accuracy;
    - non-members (held by no party): the attacker's known ones (``attack_train_nonmembers``,
      ``attack_val_nonmembers``);
    - the central attacker's sets for party k (``central/party<k>/...``): known (train, validation)
      and attack-test members drawn from party k's data, and attack-test non-members of its own (so
      the average over parties rests on distinct records);
    - the local attacker's sets for each party count n (``local/<n>parties/...``): members drawn
      from the union of the other parties' data (the attacker is party n-1; its own records are
      excluded), ``local_attack_test_members`` of them (default: ``attack_test_members``) for its
      test set, against as many of the parties' attack-test non-members, party 0's first;
    - the active attacks' targets (§II-C: 100 members, 100 non-members): ``target_nonmembers``
      are the first of party 0's attack-test non-members, ``central/party0/target_members`` the
      first of party 0's attack-test members, ``local/<n>parties/target_members`` (Table X's n only)
      the first of the local attacker's. Targets are thus records the passive attack also scores,
      which is what lets a table compare passive and active attacks on the same 200 records. (Table
      XI's Texas100 column, 4,000 known + 4,000 test members of 8,000, leaves no room for separate
      targets.)
    """
    n_parties = max([parties, *party_sweep])
    P = sizes["party_train"]
    n_known_nm, n_test_nm = sizes["attack_train_nonmembers"], sizes["attack_test_nonmembers"]
    n_nonmembers = n_known_nm + parties * n_test_nm
    # The local attacker's test set may be larger than one party's: it attacks all the others.
    n_local = sizes.get("local_attack_test_members", sizes["attack_test_members"])
    for what in ("members", "nonmembers"):
        smallest = min(sizes[f"attack_test_{what}"], n_local)
        if sizes[f"target_{what}"] > smallest:
            raise SplitError(f"{key}: target_{what} ({sizes[f'target_{what}']}) are drawn from the "
                             f"attack-test {what} ({smallest}); lower them")
    if n_local > parties * n_test_nm:
        raise SplitError(f"{key}: local_attack_test_members ({n_local}) needs as many non-members, "
                         f"drawn from the parties' attack-test non-members ({parties} x "
                         f"{n_test_nm}); lower it or raise attack_test_nonmembers")
    pool = sizes.get("member_pool") if overlapping else n_parties * P
    if overlapping and pool is None:
        raise SplitError(f"{key}: overlapping parties draw from a common pool; set member_pool "
                         f"(the paper: CIFAR100's 50,000 training images, Table XI)")
    if overlapping and pool < P:
        raise SplitError(f"{key}: member_pool ({pool}) is smaller than party_train ({P})")
    needed = pool + sizes["test"] + n_nonmembers
    if needed > n_records:
        members = f"member pool {pool}" if overlapping else f"{n_parties} parties x {P}"
        raise SplitError(
            f"{key}: the federated split needs {needed} records ({members} + test "
            f"{sizes['test']} + non-members {n_nonmembers}: known {n_known_nm} + {parties} x "
            f"attack-test {n_test_nm}) but the dataset has {n_records}; lower the sizes, or for a "
            f"stand-in raise datasets.<dataset>.standin.n_records.")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_records)
    member_pool, rest = perm[:pool], perm[pool:]
    if overlapping:
        party_sets = [rng.choice(member_pool, size=P, replace=False) for _ in range(n_parties)]
    else:
        party_sets = np.split(member_pool, n_parties)
    sets: dict[str, np.ndarray] = {f"party{k}": s for k, s in enumerate(party_sets)}
    cuts = np.cumsum([sizes["test"], n_known_nm, parties * n_test_nm])
    test, known_n, test_n = np.split(rest[: cuts[-1]], cuts[:-1])
    tr_n, _ = _known_val(n_known_nm, validation_fraction, f"{key}.attack_train_nonmembers")
    sets.update(test=test, attack_train_nonmembers=known_n[:tr_n],
                attack_val_nonmembers=known_n[tr_n:])
    test_n = np.split(test_n, parties)  # already in random order: a permutation's slice
    sets["target_nonmembers"] = test_n[TARGET_PARTY][: sizes["target_nonmembers"]]

    def members_of(pool_ids: np.ndarray, prefix: Callable[[str], str], with_targets: bool,
                   what: str, n_test: int):
        n_known = sizes["attack_train_members"]
        if n_known + n_test > len(pool_ids):
            raise SplitError(
                f"{key}: the {what} has {len(pool_ids)} records but the attacker's known members "
                f"({n_known}) + attack-test members ({n_test}) need more; lower them or raise "
                f"party_train.")
        ids = rng.permutation(pool_ids)
        tr, va = _known_val(n_known, validation_fraction, f"{key}.attack_train_members")
        cut = np.cumsum([tr, va, n_test])
        parts = np.split(ids[: cut[-1]], cut[:-1])
        for name, part in zip(ATTACK_MEMBER_SETS, parts, strict=True):
            sets[prefix(name)] = part
        if with_targets:  # the first of the attack-test members, in random order
            sets[prefix("target_members")] = parts[2][: sizes["target_members"]]

    for k in range(parties):
        members_of(sets[f"party{k}"], lambda name, k=k: central_key(k, name), k == TARGET_PARTY,
                   f"data of party {k}", sizes["attack_test_members"])
        sets[central_key(k, "attack_test_nonmembers")] = test_n[k]
    for n in sorted({parties, *party_sweep}):
        others = np.unique(np.concatenate([sets[f"party{k}"] for k in range(n - 1)]))
        others = np.setdiff1d(others, sets[f"party{n - 1}"])  # the attacker's own records
        members_of(others, lambda name, n=n: local_key(n, name), n == parties,
                   f"union of the other parties' data (local attacker, {n} parties)", n_local)
        # Party 0's test non-members first (they hold the target non-members), then the others'.
        sets[local_key(n, "attack_test_nonmembers")] = np.concatenate(test_n)[:n_local]
    sets = {name: np.sort(ids).astype(np.int64) for name, ids in sets.items()}
    check_disjoint(sets, disjoint_groups(sets, parties, party_sweep, overlapping))
    return sets


def disjoint_groups(sets: dict, parties: int, party_sweep: list[int], overlapping: bool):
    """Which sets may share no record: the parties (unless overlapping) and everything held out;
    attacker's members, targets and test non-members; the local attacker's sets and its own data."""
    n_parties = max([parties, *party_sweep])
    party_names = [f"party{k}" for k in range(n_parties)]
    held_out = ["test", *KNOWN_NONMEMBER_SETS,
                *[central_key(k, "attack_test_nonmembers") for k in range(parties)]]
    groups = [[p, *held_out] for p in party_names] if overlapping else [[*party_names, *held_out]]
    names = (*ATTACK_MEMBER_SETS, "attack_test_nonmembers")
    for k in range(parties):
        groups.append([central_key(k, n) for n in names if central_key(k, n) in sets])
    for n in sorted({parties, *party_sweep}):
        local = [local_key(n, m) for m in names if local_key(n, m) in sets]
        groups.append([*local, f"party{n - 1}"])
    return groups


def epochs_label(epochs) -> str:
    return "-".join(str(int(e)) for e in epochs)
