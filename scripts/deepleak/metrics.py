"""Membership-inference metrics: the paper's attack accuracy and what later work asks for.

Every attack is scored on a balanced test set of members and non-members ("positive" = member):

- accuracy at the decision threshold (0.5 on the sigmoid score, as in the paper);
- ROC AUC and the TPR at 1 % and 0.1 % FPR (Carlini et al. 2022: report low-FPR behaviour);
- bootstrap 95 % confidence intervals for each, resampling members and non-members separately so that
  every resample stays balanced.

ROC and AUC come from scikit-learn; the bootstrap uses a rank formulation of the AUC so that a
resample costs one sort, not a Python loop over records.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

FPR_POINTS = (0.01, 0.001)


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """Highest TPR reachable with FPR <= target (no interpolation: an honest low-FPR figure)."""
    ok = fpr <= target + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def _auc_ranks(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> np.ndarray:
    """AUC of many resamples at once: rows are resamples (Mann-Whitney U with average ranks)."""
    n_m, n_n = member_scores.shape[1], nonmember_scores.shape[1]
    both = np.concatenate([member_scores, nonmember_scores], axis=1)
    order = np.argsort(both, axis=1, kind="stable")
    sorted_vals = np.take_along_axis(both, order, axis=1)
    ranks = np.empty_like(both, dtype=np.float64)
    # Average ranks over ties, row by row without a Python loop over records.
    pos = np.arange(1, both.shape[1] + 1, dtype=np.float64)[None, :].repeat(both.shape[0], 0)
    new_group = np.ones_like(sorted_vals, dtype=bool)
    new_group[:, 1:] = sorted_vals[:, 1:] != sorted_vals[:, :-1]
    group_id = np.cumsum(new_group, axis=1) - 1
    offsets = (np.arange(both.shape[0]) * both.shape[1])[:, None]
    flat_gid = (group_id + offsets).ravel()
    sums = np.bincount(flat_gid, weights=pos.ravel())
    counts = np.bincount(flat_gid)
    avg = (sums / np.maximum(counts, 1))[flat_gid].reshape(both.shape)
    np.put_along_axis(ranks, order, avg, axis=1)
    u = ranks[:, :n_m].sum(1) - n_m * (n_m + 1) / 2
    return u / (n_m * n_n)


def evaluate(scores: np.ndarray, member: np.ndarray, *, threshold: float = 0.5,
             n_bootstrap: int = 200, seed: int = 0, confidence: float = 0.95) -> dict:
    """Accuracy, AUC, TPR at fixed FPRs, each with a bootstrap CI."""
    scores = np.asarray(scores, dtype=np.float64)
    member = np.asarray(member).astype(bool)
    if member.all() or not member.any():
        raise ValueError("an attack test set needs both members and non-members")
    fpr, tpr, _ = roc_curve(member, scores)
    result = {
        "n_members": int(member.sum()), "n_nonmembers": int((~member).sum()),
        "threshold": float(threshold),
        "accuracy": float(((scores >= threshold) == member).mean()),
        "auc": float(roc_auc_score(member, scores)),
    }
    for p in FPR_POINTS:
        result[f"tpr_at_{p:g}_fpr"] = tpr_at_fpr(fpr, tpr, p)
    if n_bootstrap:
        rng = np.random.default_rng(seed)
        m, n = scores[member], scores[~member]
        bm = m[rng.integers(0, len(m), size=(n_bootstrap, len(m)))]
        bn = n[rng.integers(0, len(n), size=(n_bootstrap, len(n)))]
        acc = ((bm >= threshold).sum(1) + (bn < threshold).sum(1)) / (len(m) + len(n))
        auc = _auc_ranks(bm, bn)
        # TPR at FPR p: the score threshold that lets through at most p of the non-members.
        tprs = {}
        for p in FPR_POINTS:
            k = int(np.floor(p * len(n)))  # non-members allowed above the threshold
            top = -np.sort(-bn, axis=1)
            thr = top[:, k] if k < len(n) else np.full(n_bootstrap, -np.inf)
            tprs[p] = (bm > thr[:, None]).mean(1)
        lo, hi = (1 - confidence) / 2 * 100, (1 + confidence) / 2 * 100
        for name, values in [("accuracy", acc), ("auc", auc)] + [
                (f"tpr_at_{p:g}_fpr", v) for p, v in tprs.items()]:
            result[f"{name}_ci"] = [float(np.percentile(values, lo)), float(np.percentile(values, hi))]
        result["n_bootstrap"] = n_bootstrap
    return result


def roc(scores: np.ndarray, member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fpr, tpr, _ = roc_curve(np.asarray(member).astype(bool), np.asarray(scores, dtype=np.float64))
    return fpr, tpr


def best_threshold(scores: np.ndarray, member: np.ndarray) -> float:
    """The threshold that maximises balanced accuracy on calibration data (for threshold attacks)."""
    member = np.asarray(member).astype(bool)
    fpr, tpr, thr = roc_curve(member, scores)
    i = int(np.argmax(tpr - fpr))
    return float(thr[i]) if np.isfinite(thr[i]) else float(np.max(scores))


# --------------------------------------------------------------------------------------------------
# metrics.json: one shape for every attack (workflow/schemas/metrics.schema.json)
# --------------------------------------------------------------------------------------------------
KINDS = ("supervised", "threshold", "unsupervised", "pooled")


def record(kind: str, description: str, results: dict[str, dict], *, features: dict | None = None,
           training: dict | None = None, **details) -> dict:
    """One attack's entry in a metrics.json: what it is (``kind``: the supervised attack model of
    §III-E, a threshold baseline, the unsupervised attack, or supervised attacks pooled over parties),
    what it read, how it was trained, and its metrics (:func:`evaluate`) on each test set by name
    (``"test"``; ``"targets"`` for the active federated attacks' target records)."""
    if kind not in KINDS:
        raise ValueError(f"unknown attack kind {kind!r}; known: {KINDS}")
    return {"kind": kind, "description": description, "features": features, "training": training,
            "metrics": results, "details": details}


def save(path, attacks: dict[str, dict], **context) -> None:
    """Write a metrics.json: the ``context`` of its job (scenario, run, task, ...) and its attacks'
    :func:`record` by name."""
    from deepleak.artifacts import save_json

    save_json(path, {"context": context, "attacks": attacks})
