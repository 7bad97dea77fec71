"""Named, disjoint record sets of the stand-alone scenario (Table II).

The split is its own artifact (LiRA keeps its membership mask the same way): every later stage reads
the index sets from ``splits.npz`` and nothing re-derives them.

Layout, all drawn from one seeded permutation of the dataset:

- ``members``: the target model's training set D (Table II "target train");
- ``target_test``: records the target never sees; its test accuracy is measured on them and the
  attack's non-members are drawn from them (Table II "target test");
- ``shadow_members`` / ``shadow_nonmembers``: the shadow model's training set and its held-out
  records, disjoint from everything of the target's (Shokri et al. 2017, as §II-D uses it);
- inside ``members``: the attacker's known members, split into ``attack_train_members`` and
  ``attack_val_members`` (validation for attack-model selection: the paper selected on the test set,
  §III-E), and the disjoint ``attack_test_members``;
- inside ``target_test``: the same three sets of non-members.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from deepleak import artifacts

ATTACK_SETS = ("attack_train_members", "attack_val_members", "attack_test_members",
               "attack_train_nonmembers", "attack_val_nonmembers", "attack_test_nonmembers")


class SplitError(ValueError):
    """The configured sizes do not fit the dataset."""


def _known_and_test(pool: np.ndarray, known: int, test: int, validation_fraction: float, what: str,
                    key: str):
    if known + test > len(pool):
        raise SplitError(
            f"{key}: the attacker's known {what} ({known}, attack_train_{what.replace('-', '')}) "
            f"plus the attack-test {what} ({test}, attack_test_{what.replace('-', '')}) exceed "
            f"the {len(pool)} records available for them; lower one of them or raise the pool size "
            f"(the paper's Texas100 sizes in Table II cannot all hold: its 70,000 test records "
            f"exceed the 67,330 there are).")
    n_val = int(round(known * validation_fraction))
    if known - n_val < 1 or n_val < 1:
        raise SplitError(f"{key}: validation_fraction {validation_fraction} leaves an empty attack "
                         f"training or validation set of {what} (known {known}).")
    return pool[: known - n_val], pool[known - n_val: known], pool[known: known + test]


def standalone_splits(n_records: int, sizes: dict, validation_fraction: float, seed: int,
                      key: str = "splits") -> dict[str, np.ndarray]:
    """Draw the stand-alone index sets; ``sizes`` holds the Table II columns of the config.

    Every set is sorted, so the artifact does not depend on the order of the permutation inside it.
    """
    needed = (sizes["target_train"] + sizes["target_test"] + sizes["shadow_train"]
              + sizes["shadow_test"])
    if needed > n_records:
        raise SplitError(
            f"{key}: target_train + target_test + shadow_train + shadow_test = {needed} records, "
            f"but the dataset has only {n_records}; lower the sizes in the config (or, for a "
            f"stand-in, raise its n_records).")
    perm = np.random.default_rng(seed).permutation(n_records)
    cuts = np.cumsum([sizes["target_train"], sizes["target_test"], sizes["shadow_train"],
                      sizes["shadow_test"]])
    members, target_test, shadow_members, shadow_nonmembers = np.split(perm[: cuts[-1]], cuts[:-1])
    tr_m, va_m, te_m = _known_and_test(members, sizes["attack_train_members"],
                                       sizes["attack_test_members"], validation_fraction,
                                       "members", key)
    tr_n, va_n, te_n = _known_and_test(target_test, sizes["attack_train_nonmembers"],
                                       sizes["attack_test_nonmembers"], validation_fraction,
                                       "non-members", key)
    sets = {
        "members": members, "target_test": target_test,
        "shadow_members": shadow_members, "shadow_nonmembers": shadow_nonmembers,
        "attack_train_members": tr_m, "attack_val_members": va_m, "attack_test_members": te_m,
        "attack_train_nonmembers": tr_n, "attack_val_nonmembers": va_n,
        "attack_test_nonmembers": te_n,
    }
    return {name: np.sort(ids).astype(np.int64) for name, ids in sets.items()}


def check_disjoint(sets: dict[str, np.ndarray], groups: list[list[str]]) -> None:
    """Raise if a set repeats a record or two sets of one group share one (tests, and before
    saving)."""
    for group in groups:
        ids = np.concatenate([sets[name] for name in group])
        owner = np.repeat(np.arange(len(group)), [len(sets[name]) for name in group])
        values, first, counts = np.unique(ids, return_index=True, return_counts=True)
        if (counts > 1).any():
            shared = values[counts > 1][0]
            names = [group[i] for i in np.unique(owner[ids == shared])]
            raise SplitError(f"record {shared} appears more than once across {names}")


STANDALONE_DISJOINT = [
    ["members", "target_test", "shadow_members", "shadow_nonmembers"],
    list(ATTACK_SETS),
]


def save(path: str | Path, sets: dict[str, np.ndarray], meta: dict) -> None:
    artifacts.save_npz(path, sets, meta=meta)


def load(path: str | Path) -> dict[str, np.ndarray]:
    return artifacts.load_npz(path)


def subsample(ids: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A seeded subset of ``ids`` of ``round(fraction * len)`` records (Table VI knowledge
    sweep)."""
    n = max(1, int(round(fraction * len(ids))))
    return np.sort(np.random.default_rng(seed).choice(ids, size=n, replace=False))


KNOWN_SETS = ("attack_train_members", "attack_val_members", "attack_train_nonmembers",
              "attack_val_nonmembers")


def known_subsets(sets: dict[str, np.ndarray], fraction_members: float,
                  fraction_nonmembers: float, seed: int) -> dict[str, np.ndarray]:
    """Table VI: the records an attacker who knows less holds, everything it knows shrunk alike.

    The attacker's known members are its attack-training and validation members (the validation
    split is carved from what it knows), so both shrink to ``fraction_members`` of their size, and
    the non-members to ``fraction_nonmembers``: a row "10,000 known members, 2,000 known
    non-members" has 10,000 and 2,000 records in all, validation included, and validation keeps its
    share (``standalone.validation_fraction``). Returns the four known sets (``KNOWN_SETS``).
    """
    fraction = {"members": fraction_members, "nonmembers": fraction_nonmembers}
    return {name: subsample(sets[name], fraction[name.rsplit("_", 1)[1]], seed + i)
            for i, name in enumerate(KNOWN_SETS)}


def official_standalone_splits(official_train: np.ndarray, sizes: dict, validation_fraction: float,
                               seed: int, key: str = "splits", shadow_overlap: bool = False
                               ) -> tuple[dict[str, np.ndarray], list[list[str]]]:
    """The stand-alone sets of a dataset with an official train / test split (the image datasets).

    As in the paper's CIFAR-100 experiments (§III-C), the target's members are drawn from the
    official training images and its held-out records (the attack's non-members) from the official
    test images; the shadow model's sets likewise. The shadow sets come after the target's in each
    seeded permutation, so they are disjoint from them, unless they do not fit: then
    ``shadow_overlap`` (the config's ``datasets.<dataset>.standalone.shadow_overlap``) lets them
    overlap the target's sets, as the paper's CIFAR-100 shadow model did (each model used 50,000 of
    the 60,000 images). Even then they never hold the target's attack-test records: the shadow-model
    attack (Table VII) is trained on the shadow's members and non-members and tested on those
    records, so a test record in the shadow's pools would be a record the attack was trained on.
    The shadow takes the pool's records outside the target's first, then target records outside the
    attack test set. Returns the sets and the groups of sets that must be disjoint.
    """
    rng = np.random.default_rng(seed)
    pools = {"train": rng.permutation(np.flatnonzero(official_train)),
             "test": rng.permutation(np.flatnonzero(~official_train))}
    needs = {"train": ("target_train", "shadow_train", "attack_test_members"),
             "test": ("target_test", "shadow_test", "attack_test_nonmembers")}
    target = {}
    for pool_name, (target_key, shadow_key, _) in needs.items():
        pool, n_target, n_shadow = pools[pool_name], sizes[target_key], sizes[shadow_key]
        if n_target > len(pool) or n_shadow > len(pool):
            raise SplitError(f"{key}: {target_key} ({n_target}) and {shadow_key} ({n_shadow}) "
                             f"must each fit in the {len(pool)} official {pool_name} images; lower "
                             "them.")
        target[target_key] = pool[:n_target]
    members, target_test = target["target_train"], target["target_test"]
    tr_m, va_m, te_m = _known_and_test(members, sizes["attack_train_members"],
                                       sizes["attack_test_members"], validation_fraction, "members",
                                       key)
    tr_n, va_n, te_n = _known_and_test(target_test, sizes["attack_train_nonmembers"],
                                       sizes["attack_test_nonmembers"], validation_fraction,
                                       "non-members", key)
    attack_test = {"train": te_m, "test": te_n}
    shadow, overlap = {}, False
    for pool_name, (target_key, shadow_key, test_key) in needs.items():
        pool, n_target, n_shadow = pools[pool_name], sizes[target_key], sizes[shadow_key]
        if n_target + n_shadow <= len(pool):
            shadow[shadow_key] = pool[n_target: n_target + n_shadow]
            continue
        if not shadow_overlap:
            raise SplitError(
                f"{key}: {target_key} + {shadow_key} = {n_target + n_shadow} exceed the "
                f"{len(pool)} official {pool_name} images. Lower them, or set "
                "datasets.<dataset>.standalone.shadow_overlap: true to let the shadow model's "
                "records overlap the target's (as the paper's CIFAR-100 shadow did).")
        outside = pool[n_target:]
        allowed = np.setdiff1d(pool[:n_target], attack_test[pool_name])  # sorted: permute it
        if len(outside) + len(allowed) < n_shadow:
            raise SplitError(
                f"{key}: {shadow_key} ({n_shadow}) does not fit in the {len(pool)} official "
                f"{pool_name} images less the target's {test_key} ({len(attack_test[pool_name])}): "
                f"the shadow model may share the target's records (shadow_overlap) but never its "
                f"attack-test records, which the shadow-model attack is tested on. Lower "
                f"{shadow_key} or {test_key} to at most {len(pool)} together.")
        need = n_shadow - len(outside)
        shadow[shadow_key] = np.concatenate([outside,
                                             rng.choice(allowed, size=need, replace=False)])
        overlap = True
    sets = {
        "members": members, "target_test": target_test,
        "shadow_members": shadow["shadow_train"], "shadow_nonmembers": shadow["shadow_test"],
        "attack_train_members": tr_m, "attack_val_members": va_m, "attack_test_members": te_m,
        "attack_train_nonmembers": tr_n, "attack_val_nonmembers": va_n,
        "attack_test_nonmembers": te_n,
    }
    groups = (STANDALONE_DISJOINT if not overlap else
              [["members", "target_test"], list(SHADOW_AND_ATTACK_TEST), list(ATTACK_SETS)])
    return {name: np.sort(ids).astype(np.int64) for name, ids in sets.items()}, groups


# Overlapping shadow sets (image datasets, shadow_overlap) stay disjoint from the attack test sets.
SHADOW_AND_ATTACK_TEST = ("shadow_members", "shadow_nonmembers", "attack_test_members",
                          "attack_test_nonmembers")
