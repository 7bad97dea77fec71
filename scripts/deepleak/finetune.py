"""The fine-tuning scenario (paper §II-B, Table IX): a model trained on D, then fine-tuned on
D_delta, attacked by someone who holds both snapshots.

Split (its own artifact, ``results/<dataset>/finetune/<rep>/splits.npz``), from one seeded
permutation of the dataset:

- ``d``: D, ``d_fraction`` (the paper: 60 %) of the target training set; the model is trained on it;
- ``d_delta``: D_delta, the other 40 %, disjoint from D; the trained model is fine-tuned on it;
- ``nonmembers``: D-bar, records neither snapshot ever sees; the fine-tuned model's test accuracy is
  measured on them;
- for each of these three pools P, the attacker's known records ``attack_train_<P>`` and
  ``attack_val_<P>`` (validation, to choose the attack model's epoch: the paper chose on the test
  set, §III-E) and the disjoint attack-test records ``attack_test_<P>``.

The three membership tasks (:data:`TASKS`) pair two pools: the attacker learns to tell the first
from the second on the known records of both and is scored on the attack-test records of both. Each
pool is split once, so the three tasks share their test records (D's test records serve D vs D_delta
and D vs D-bar alike), and one feature file of both snapshots serves all three.

The attack is the paper's multi-observation model with T = 2 (Fig. 1 caption, §II-B; the
fine-tuning case of the federated attack): every feature is computed on both snapshots, stacked to
``[n, 2, ...]``, and one attack model (``deepleak.attack.fit_supervised(..., n_observations=2)``)
reads both.
"""
from __future__ import annotations

import numpy as np

from deepleak.splits import SplitError, check_disjoint

POOLS = ("d", "d_delta", "nonmembers")

# Task name: (the pool the attacker calls positive, the pool it calls negative). §II-B, Table IX.
TASKS = {
    "d_vs_d_delta": ("d", "d_delta"),
    "d_vs_nonmembers": ("d", "nonmembers"),
    "d_delta_vs_nonmembers": ("d_delta", "nonmembers"),
}

# The two snapshots the attacker holds, in observation order (T = 2).
SNAPSHOTS = ("trained", "finetuned")

ATTACK_SETS = tuple(f"attack_{part}_{pool}" for pool in POOLS for part in ("train", "val", "test"))
FINETUNE_DISJOINT = [list(POOLS), list(ATTACK_SETS)]


def finetune_splits(n_records: int, sizes: dict, d_fraction: float, validation_fraction: float,
                    seed: int, key: str = "finetune.sizes") -> dict[str, np.ndarray]:
    """Draw the fine-tuning scenario's sets; ``sizes`` is one dataset's entry of ``finetune.sizes``.

    ``target_train`` records are split into D (``round(d_fraction * target_train)``) and D_delta
    (the rest); ``nonmembers`` records are held out. From each of the three pools the attacker knows
    ``attack_known`` records (of which ``validation_fraction`` validate) and ``attack_test`` others
    are the attack test set. Every set is sorted.
    """
    n_train, n_non = sizes["target_train"], sizes["nonmembers"]
    if n_train + n_non > n_records:
        raise SplitError(
            f"{key}: target_train + nonmembers = {n_train + n_non} records, but the dataset has "
            f"only {n_records}; lower them in the config (or, for a stand-in, raise its "
            f"n_records).")
    n_d = int(round(d_fraction * n_train))
    if not 0 < n_d < n_train:
        raise SplitError(f"{key}: d_fraction {d_fraction} of target_train {n_train} leaves D or "
                         f"D_delta empty; use a fraction strictly between 0 and 1.")
    perm = np.random.default_rng(seed).permutation(n_records)
    pools = dict(zip(POOLS, np.split(perm[: n_train + n_non], [n_d, n_train]), strict=True))
    known, test = sizes["attack_known"], sizes["attack_test"]
    n_val = int(round(known * validation_fraction))
    if known - n_val < 1 or n_val < 1:
        raise SplitError(f"{key}: finetune.validation_fraction {validation_fraction} leaves an "
                         f"empty attack training or validation set (attack_known {known}).")
    sets = dict(pools)
    for pool, ids in pools.items():
        if known + test > len(ids):
            raise SplitError(
                f"{key}: attack_known ({known}) + attack_test ({test}) exceed the {len(ids)} "
                f"records of {pool!r} (D is {d_fraction:g} of target_train, D_delta the rest); "
                f"lower them or raise target_train / nonmembers.")
        sets[f"attack_train_{pool}"] = ids[: known - n_val]
        sets[f"attack_val_{pool}"] = ids[known - n_val: known]
        sets[f"attack_test_{pool}"] = ids[known: known + test]
    sets = {name: np.sort(ids).astype(np.int64) for name, ids in sets.items()}
    check_disjoint(sets, FINETUNE_DISJOINT)
    return sets


def attack_records(sets: dict[str, np.ndarray]) -> np.ndarray:
    """Every record some fine-tuning attack reads (sorted): the feature file holds exactly these."""
    return np.unique(np.concatenate([sets[name] for name in ATTACK_SETS]))


def task_sets(task: str, part: str) -> tuple[str, str]:
    """Names of the positive and negative sets of ``task`` for ``part`` (train, val or test)."""
    if task not in TASKS:
        raise ValueError(f"unknown fine-tuning task {task!r}; known: {sorted(TASKS)}")
    positive, negative = TASKS[task]
    return f"attack_{part}_{positive}", f"attack_{part}_{negative}"


def stack_snapshots(per_snapshot: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Features of T snapshots on the same records, stacked to ``[n, T, ...]`` (Fig. 1 caption,
    §II-B).

    The label is the record's and is kept once (``[n]``); every other per-record array gets the
    snapshot axis, the layout ``deepleak.attack.gather_inputs`` reads for T observations.
    """
    first = per_snapshot[0]
    for i, feats in enumerate(per_snapshot[1:], start=1):
        if set(feats) != set(first) or not np.array_equal(feats["label"], first["label"]):
            raise ValueError(f"snapshot {i} has other features or records than snapshot 0; extract "
                             f"both from the same records with the same settings")
    out = {k: np.stack([f[k] for f in per_snapshot], axis=1) for k in first if k != "label"}
    out["label"] = first["label"]
    return out


def snapshot(feats: dict[str, np.ndarray], t: int) -> dict[str, np.ndarray]:
    """The features of snapshot ``t`` alone, in the one-snapshot layout (threshold baselines)."""
    return {k: (v if k in ("label", "records") else v[:, t]) for k, v in feats.items()}
