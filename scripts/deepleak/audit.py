"""Auditing DP-SGD: an empirical lower bound on epsilon from a membership attack, beside the
accountant's epsilon (deepleak/dp.py). Imports neither torch nor Snakemake (the rule files read the
privacy levels' names at parse time); SciPy's beta quantiles are imported where a bound is computed.

An (epsilon, delta)-DP training algorithm bounds every test of "x was a member" against "x was not":
its true- and false-positive rates satisfy (Kairouz et al. 2015; the audit of Jagielski et al. 2020,
"Auditing Differentially Private Machine Learning: How Private is Private SGD?", and Nasr et al.
2021, "Adversary Instantiation: Lower Bounds for Differentially Private Machine Learning")

    TPR <= e^eps FPR + delta            so  eps >= log((TPR - delta) / FPR)
    1 - FPR <= e^eps (1 - TPR) + delta  so  eps >= log((1 - FPR - delta) / (1 - TPR))

An attack's threshold is chosen on one half of the attack-test records (:func:`choose_threshold`),
its TPR and FPR counted on the other half, and each rate replaced by its one-sided Clopper-Pearson
bound (Clopper & Pearson 1934) at confidence 1 - alpha/2 each, so that both bounds hold together
with probability >= 1 - alpha (union bound): TPR's lower bound, FPR's upper bound give the
audit's lower bound on epsilon, which holds with that confidence whatever the attack; the opposite
ends give the upper end of the interval the rates leave. The point estimate uses the rates
themselves.

Caveat (as those papers say): the records here are the model's natural members and non-members, not
canaries inserted into one of two neighbouring data sets, and one trained model gives one draw per
record, so the bound audits this training run's membership leakage on average over records; a
worst-case audit inserts crafted canaries and trains many models. With n non-members, no threshold
can show more than about ln(n) (:func:`max_resolvable`): one false positive in n is the smallest FPR
a test can show.
"""
from __future__ import annotations

import math

import numpy as np

CLIP_ONLY = "clip_only"
NON_PRIVATE = "non_private"


# --------------------------------------------------------------------------------------------------
# The privacy levels' names (workflow wildcards, table rows)
# --------------------------------------------------------------------------------------------------
def level_name(epsilon: float) -> str:
    """The name of the DP-SGD target at ``epsilon`` (``eps1``, ``eps0.5``)."""
    return f"eps{epsilon:g}"


def levels(epsilons, clip_only: bool = True) -> list[str]:
    """The DP-SGD targets a config trains: one per epsilon, then clip-only (no noise)."""
    return [*(level_name(e) for e in epsilons), *([CLIP_ONLY] if clip_only else [])]


def level_epsilon(level: str) -> float | None:
    """The target epsilon of a level (None for clip-only and non-private)."""
    if level in (CLIP_ONLY, NON_PRIVATE):
        return None
    if not level.startswith("eps"):
        raise ValueError(f"unknown privacy level {level!r}: eps<epsilon>, {CLIP_ONLY} or "
                         f"{NON_PRIVATE}")
    return float(level[3:])


# --------------------------------------------------------------------------------------------------
# Clopper-Pearson bounds and the epsilon they imply
# --------------------------------------------------------------------------------------------------
def clopper_pearson(k, n, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """One-sided Clopper-Pearson bounds on a binomial rate from k successes in n trials, each at
    confidence 1 - alpha: (lower, upper) = (Beta(alpha; k, n - k + 1),
    Beta(1 - alpha; k + 1, n - k)), 0 for k = 0 and 1 for k = n."""
    from scipy import stats

    k, n = np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(k > 0, stats.beta.ppf(alpha, k, n - k + 1), 0.0)
        hi = np.where(k < n, stats.beta.ppf(1 - alpha, k + 1, n - k), 1.0)
    return lo, hi


def epsilon_from_rates(tpr, fpr, delta: float = 0.0) -> np.ndarray:
    """The epsilon a (TPR, FPR) pair implies under (epsilon, delta)-DP: the larger of the two
    inequalities of the module docstring, never below 0 (an attack no better than chance implies
    nothing); infinite where a rate reaches 0 or 1 with the other away from it."""
    tpr, fpr = np.asarray(tpr, dtype=np.float64), np.asarray(fpr, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log(np.maximum(tpr - delta, 0.0) / fpr)
        b = np.log(np.maximum(1.0 - fpr - delta, 0.0) / (1.0 - tpr))
    # 0 / 0 (nan) implies nothing; x / 0 stays infinite.
    keep = dict(nan=-np.inf, posinf=np.inf, neginf=-np.inf)
    out = np.fmax(np.nan_to_num(a, **keep), np.nan_to_num(b, **keep))
    return np.maximum(out, 0.0)


def epsilon_bounds(tp, n_members, fp, n_nonmembers, *, delta: float = 0.0,
                   confidence: float = 0.95) -> dict:
    """Epsilon from tp of n_members members and fp of n_nonmembers non-members called members:
    the point estimate and the interval [lower, upper] from the Clopper-Pearson bounds on both
    rates (each at 1 - alpha/2; the lower end holds with probability >= ``confidence``)."""
    alpha = 1.0 - confidence
    tpr_lo, tpr_hi = clopper_pearson(tp, n_members, alpha / 2)
    fpr_lo, fpr_hi = clopper_pearson(fp, n_nonmembers, alpha / 2)
    return {
        "epsilon": float(epsilon_from_rates(tp / n_members, fp / n_nonmembers, delta)),
        "epsilon_lower": float(epsilon_from_rates(tpr_lo, fpr_hi, delta)),
        "epsilon_upper": float(epsilon_from_rates(tpr_hi, fpr_lo, delta)),
        "tpr": tp / n_members, "fpr": fp / n_nonmembers,
        "tpr_ci": [float(tpr_lo), float(tpr_hi)], "fpr_ci": [float(fpr_lo), float(fpr_hi)],
    }


def max_resolvable(n_members: int, n_nonmembers: int, *, delta: float = 0.0,
                   confidence: float = 0.95) -> float:
    """The largest lower bound a test set of this size can give: a perfect attack (every member
    above the threshold, no non-member), about ln(n_nonmembers / ln(2 / alpha)), so about
    ln(n_nonmembers)."""
    return epsilon_bounds(n_members, n_members, 0, n_nonmembers, delta=delta,
                          confidence=confidence)["epsilon_lower"]


def _counts(member_scores: np.ndarray, nonmember_scores: np.ndarray):
    """(thresholds, members >= each, non-members >= each) at every distinct score."""
    thresholds = np.unique(np.concatenate([member_scores, nonmember_scores]))
    tp = len(member_scores) - np.searchsorted(np.sort(member_scores), thresholds, side="left")
    fp = len(nonmember_scores) - np.searchsorted(np.sort(nonmember_scores), thresholds,
                                                 side="left")
    return thresholds, tp, fp


def choose_threshold(member_scores, nonmember_scores, *, delta: float = 0.0,
                     confidence: float = 0.95) -> float:
    """A threshold (a record is called a member when its score is >= it) whose Clopper-Pearson
    lower bound on epsilon is the largest on these records (the selection half), placed halfway
    between that record's score and the next lower one."""
    m, n = np.asarray(member_scores, np.float64), np.asarray(nonmember_scores, np.float64)
    thresholds, tp, fp = _counts(m, n)
    alpha = 1.0 - confidence
    tpr_lo, _ = clopper_pearson(tp, len(m), alpha / 2)
    _, fpr_hi = clopper_pearson(fp, len(n), alpha / 2)
    i = int(np.argmax(epsilon_from_rates(tpr_lo, fpr_hi, delta)))
    # Halfway down to the next lower score: the same calls on these records, and a margin for the
    # other half's records.
    return float(thresholds[i] if i == 0 else (thresholds[i] + thresholds[i - 1]) / 2)


def halves(member: np.ndarray, seed: int) -> np.ndarray:
    """A seeded split of attack-test records into a selection half (True) and an evaluation half,
    members and non-members each split in two (the selection half gets the smaller half)."""
    member = np.asarray(member).astype(bool)
    rng = np.random.default_rng(seed)
    select = np.zeros(len(member), dtype=bool)
    for side in (member, ~member):
        idx = rng.permutation(np.flatnonzero(side))
        select[idx[: len(idx) // 2]] = True
    return select


def audit(scores: np.ndarray, member: np.ndarray, *, seed: int, delta: float = 0.0,
          confidence: float = 0.95) -> dict:
    """The empirical epsilon of an attack: its threshold chosen on a seeded half of the attack-test
    records (:func:`choose_threshold`), its epsilon and interval on the other half
    (:func:`epsilon_bounds`), and the largest lower bound that half can give."""
    scores, member = np.asarray(scores, np.float64), np.asarray(member).astype(bool)
    select = halves(member, seed)
    thr = choose_threshold(scores[select & member], scores[select & ~member], delta=delta,
                           confidence=confidence)
    ev_m, ev_n = scores[~select & member], scores[~select & ~member]
    out = epsilon_bounds(int((ev_m >= thr).sum()), len(ev_m), int((ev_n >= thr).sum()), len(ev_n),
                         delta=delta, confidence=confidence)
    out.update(threshold=thr, n_members=len(ev_m), n_nonmembers=len(ev_n), delta=delta,
               confidence=confidence,
               max_resolvable=max_resolvable(len(ev_m), len(ev_n), delta=delta,
                                             confidence=confidence))
    return out


def attack_scores(scores_file: dict, attack: str) -> np.ndarray:
    """The membership scores of ``attack`` in its scores.npz (supervised attacks: ``score``; the
    threshold baselines' file: one array per baseline, ``loss`` ...; the calibrated attacks' file:
    one array per attack, ``lira_online`` ...)."""
    if attack.startswith("baseline_"):
        return scores_file[attack[len("baseline_"):]]
    if attack in scores_file:
        return scores_file[attack]
    return scores_file["score"]


def clip_float(value: float) -> float | None:
    """JSON has no infinity: infinite epsilons (clip-only, non-private) are written as null."""
    return None if value is None or not math.isfinite(value) else float(value)
