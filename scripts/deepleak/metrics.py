"""Membership-inference metrics: the paper's attack accuracy and what later work asks for.

Every attack is scored on a balanced test set of members and non-members ("positive" = member):

- accuracy at the decision threshold (0.5 on the sigmoid score, as in the paper);
- ROC AUC and the TPR at 1 % and 0.1 % FPR (Carlini et al. 2022: report low-FPR behaviour), the
  TPR only where the test set has enough non-members to realise that FPR (:func:`min_nonmembers`),
  with the FPR the threshold realises beside it;
- bootstrap 95 % confidence intervals for each, resampling members and non-members separately so
  that every resample stays balanced, every statistic computed by the same rule as its point
  estimate;
- the difference between two attacks with its CI: a paired bootstrap where both score the same test
  records (:func:`paired_difference`), independent bootstraps where they do not
  (:func:`unpaired_difference`), a t-interval over replicates where there are several
  (:func:`replicate_difference`).

The ROC curve and the AUC are computed here with numpy (as scikit-learn defines them: one operating
point per distinct score; the AUC as the Mann-Whitney statistic with ties counted half), so that
scoring an attack does not import scikit-learn and SciPy, about a second of every job's start-up.
The bootstrap draws index matrices (resamples x records) in blocks of bounded size and uses the same
rank formulation of the AUC, so that a resample costs one sort, not a Python loop over records.
"""
from __future__ import annotations

import math

import numpy as np

FPR_POINTS = (0.01, 0.001)
# A bootstrap draws at most this many resampled scores at once (resamples x records): about 16 MB a
# float64 array, a few such arrays per block, whatever n_bootstrap and the test set's size.
BLOCK_ELEMENTS = 2 ** 21


def tpr_key(fpr: float) -> str:
    """The metrics key of the TPR at ``fpr`` (``tpr_at_0.01_fpr``)."""
    return f"tpr_at_{fpr:g}_fpr"


def realised_key(fpr: float) -> str:
    """The metrics key of the FPR that the threshold of :func:`tpr_key` realises."""
    return f"realised_fpr_at_{fpr:g}_fpr"


def min_nonmembers(fpr: float) -> int:
    """The non-members a test set needs for a TPR at ``fpr`` (1 / fpr): with fewer, one
    non-member above the threshold is already an FPR above ``fpr``, so the only threshold allowed is
    above every non-member and the figure would be a TPR at FPR 0."""
    return math.ceil(1 / fpr - 1e-9)


def tpr_at_fpr(member_scores: np.ndarray, nonmember_scores: np.ndarray, fpr: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """TPR and realised FPR at the lowest threshold that calls at most a fraction ``fpr`` of the
    non-members members (the highest TPR with FPR <= ``fpr``; no interpolation).

    Rows are resamples (2-D arrays; 1-D for one test set): the point estimate and every bootstrap
    resample use this one rule. A record is called a member when its score is strictly above the
    (k + 1)-th highest non-member score, k = floor(fpr * non-members): the ROC curve's operating
    point with the most members among those with at most k non-members."""
    bm, bn = np.atleast_2d(member_scores), np.atleast_2d(nonmember_scores)
    thr = fpr_threshold(bn, fpr)
    return (bm > thr[:, None]).mean(1), (bn > thr[:, None]).mean(1)


def fpr_threshold(nonmember_scores: np.ndarray, fpr: float) -> np.ndarray:
    """The threshold of :func:`tpr_at_fpr` for each row of non-member scores: the (k + 1)-th
    highest, k = floor(fpr * non-members), so that at most k non-members lie strictly above it
    (-inf where every non-member may)."""
    bn = np.atleast_2d(nonmember_scores)
    k = int(np.floor(fpr * bn.shape[1] + 1e-9))  # non-members allowed above the threshold
    if k >= bn.shape[1]:
        return np.full(bn.shape[0], -np.inf)
    return np.partition(bn, bn.shape[1] - 1 - k, axis=1)[:, bn.shape[1] - 1 - k]


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


def _bootstrap(sides: list[tuple[np.ndarray, np.ndarray, float]], n_bootstrap: int,
               rng: np.random.Generator, fprs: tuple[float, ...] = ()) -> list[dict]:
    """Accuracy, AUC and TPR at ``fprs`` of ``n_bootstrap`` stratified resamples (members and
    non-members resampled separately, so each keeps the test set's counts), by side.

    ``sides``: (member scores, non-member scores, threshold) per attack, aligned record by record:
    every side is scored on the same resampled records (a paired bootstrap when there are several).
    Resamples are drawn as index matrices, at most :data:`BLOCK_ELEMENTS` indices at a time."""
    n_m, n_n = len(sides[0][0]), len(sides[0][1])
    block = max(1, BLOCK_ELEMENTS // (n_m + n_n))
    parts: list[dict[str, list]] = [{} for _ in sides]
    for start in range(0, n_bootstrap, block):
        rows = min(block, n_bootstrap - start)
        i_m = rng.integers(0, n_m, size=(rows, n_m))
        i_n = rng.integers(0, n_n, size=(rows, n_n))
        for (m, n, threshold), out in zip(sides, parts, strict=True):
            bm, bn = m[i_m], n[i_n]
            correct = (bm >= threshold).sum(1) + (bn < threshold).sum(1)
            values = {"accuracy": correct / (n_m + n_n), "auc": _auc_ranks(bm, bn)}
            values.update({tpr_key(p): tpr_at_fpr(bm, bn, p)[0] for p in fprs})
            for name, v in values.items():
                out.setdefault(name, []).append(v)
    return [{name: np.concatenate(v) for name, v in out.items()} for out in parts]


def _interval(values: np.ndarray, confidence: float) -> list[float]:
    """The percentile interval of bootstrap values."""
    lo, hi = (1 - confidence) / 2 * 100, (1 + confidence) / 2 * 100
    return [float(np.percentile(values, lo)), float(np.percentile(values, hi))]


def _split(scores, member) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    member = np.asarray(member).astype(bool)
    if member.all() or not member.any():
        raise ValueError("an attack test set needs both members and non-members")
    return scores[member], scores[~member], member


def evaluate(scores: np.ndarray, member: np.ndarray, *, threshold: float = 0.5,
             n_bootstrap: int = 200, seed: int = 0, confidence: float = 0.95) -> dict:
    """Accuracy, AUC, TPR at fixed FPRs (None where the test set has fewer non-members than
    :func:`min_nonmembers`), each with a bootstrap CI."""
    m, n, member = _split(scores, member)
    result = {
        "n_members": len(m), "n_nonmembers": len(n), "threshold": float(threshold),
        "accuracy": float(((m >= threshold).sum() + (n < threshold).sum()) / (len(m) + len(n))),
        "auc": auc(scores, member),
    }
    fprs = tuple(p for p in FPR_POINTS if len(n) >= min_nonmembers(p))
    for p in FPR_POINTS:
        result[tpr_key(p)] = result[realised_key(p)] = None  # too few non-members for this FPR
        if p in fprs:
            tpr, realised = tpr_at_fpr(m, n, p)
            result[tpr_key(p)], result[realised_key(p)] = float(tpr[0]), float(realised[0])
    if n_bootstrap:
        (values,) = _bootstrap([(m, n, threshold)], n_bootstrap, np.random.default_rng(seed), fprs)
        for name in ("accuracy", "auc", *map(tpr_key, FPR_POINTS)):
            result[f"{name}_ci"] = _interval(values[name], confidence) if name in values else None
        result["n_bootstrap"] = n_bootstrap
    return result


# --------------------------------------------------------------------------------------------------
# The difference between two attacks, with its CI
# --------------------------------------------------------------------------------------------------
DIFFERENCE_METRICS = ("accuracy", "auc")


def scores_on(scores_file: dict, records: np.ndarray, key: str = "score") -> np.ndarray:
    """An attack's ``key`` scores (a scores.npz: ``records`` and one score array per attack or
    baseline) in the order of ``records``; every one of them must be scored."""
    have = np.asarray(scores_file["records"])
    order = np.argsort(have, kind="stable")
    pos = np.searchsorted(have, records, sorter=order)
    pos = order[np.minimum(pos, len(have) - 1)]
    if len(have) == 0 or not np.array_equal(have[pos], records):
        raise ValueError("a scores.npz does not score every record asked for (attacks scored on "
                         "different attack-test sets); rerun the attacks of this dataset")
    return np.asarray(scores_file[key], dtype=np.float64)[pos]


def align(records_a: np.ndarray, records_b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Index arrays that put two attacks' scores in the same record order, or None when they do not
    score the same records (then only an unpaired comparison is possible)."""
    records_a, records_b = np.asarray(records_a), np.asarray(records_b)
    if len(records_a) != len(records_b) or len(np.unique(records_a)) != len(records_a):
        return None
    ia, ib = np.argsort(records_a, kind="stable"), np.argsort(records_b, kind="stable")
    return (ia, ib) if np.array_equal(records_a[ia], records_b[ib]) else None


def _point(scores, member, threshold) -> dict[str, float]:
    m, n, member = _split(scores, member)
    return {"accuracy": ((m >= threshold).sum() + (n < threshold).sum()) / (len(m) + len(n)),
            "auc": auc(scores, member)}


def paired_difference(scores_a: np.ndarray, scores_b: np.ndarray, member: np.ndarray, *,
                      threshold_a: float = 0.5, threshold_b: float = 0.5, n_bootstrap: int = 1000,
                      seed: int = 0, confidence: float = 0.95, fprs: tuple[float, ...] = ()
                      ) -> dict:
    """Accuracy and AUC of attack a minus those of attack b, both scored on the same test records
    (``scores_a[i]``, ``scores_b[i]`` and ``member[i]`` are one record; :func:`align`), with
    paired-bootstrap CIs: each resample draws one set of records (members and non-members
    separately) and scores both attacks on it, so what the two share (the records' difficulty)
    cancels in the difference.

    Returns {"method", "n_members", "n_nonmembers", "n_bootstrap", "accuracy", "auc" (a - b, in
    [-1, 1]), "accuracy_ci", "auc_ci"}; with ``fprs``, also the TPR at each of those FPRs
    (:func:`tpr_key`, a - b, and its CI; None where the test set has fewer than
    :func:`min_nonmembers` non-members), from the same resamples."""
    if not len(scores_a) == len(scores_b) == len(member):
        raise ValueError("a paired comparison needs both attacks' scores on the same records")
    a_m, a_n, member = _split(scores_a, member)
    b_m, b_n, _ = _split(scores_b, member)
    a, b = _point(scores_a, member, threshold_a), _point(scores_b, member, threshold_b)
    out = {"method": "paired bootstrap", "n_members": len(a_m), "n_nonmembers": len(a_n),
           "n_bootstrap": n_bootstrap}
    out.update({name: float(a[name] - b[name]) for name in DIFFERENCE_METRICS})
    usable = tuple(p for p in fprs if len(a_n) >= min_nonmembers(p))
    for p in fprs:
        out[tpr_key(p)] = out[f"{tpr_key(p)}_ci"] = None
        if p in usable:
            out[tpr_key(p)] = float(tpr_at_fpr(a_m, a_n, p)[0][0] - tpr_at_fpr(b_m, b_n, p)[0][0])
    if n_bootstrap:
        va, vb = _bootstrap([(a_m, a_n, threshold_a), (b_m, b_n, threshold_b)], n_bootstrap,
                            np.random.default_rng(seed), usable)
        out.update({f"{name}_ci": _interval(va[name] - vb[name], confidence)
                    for name in (*DIFFERENCE_METRICS, *map(tpr_key, usable))})
    return out


def unpaired_difference(a: tuple, b: tuple, *, n_bootstrap: int = 1000, seed: int = 0,
                        confidence: float = 0.95) -> dict:
    """Accuracy and AUC of attack a minus those of attack b, scored on different test records:
    ``a`` and ``b`` are (scores, member, threshold). Each side is resampled on its own (stratified,
    independent draws); the CI is the percentile interval of the resampled differences.

    Returns the keys of :func:`paired_difference`, ``method`` "unpaired bootstrap"."""
    rng = np.random.default_rng(seed)
    points, draws = [], []
    for scores, member, threshold in (a, b):
        m, n, _ = _split(scores, member)
        points.append(_point(scores, member, threshold))
        if n_bootstrap:
            draws += _bootstrap([(m, n, threshold)], n_bootstrap, rng)
    out = {"method": "unpaired bootstrap", "n_members": [int(np.sum(s[1])) for s in (a, b)],
           "n_nonmembers": [int(np.sum(~np.asarray(s[1]).astype(bool))) for s in (a, b)],
           "n_bootstrap": n_bootstrap}
    out.update({name: float(points[0][name] - points[1][name]) for name in DIFFERENCE_METRICS})
    if n_bootstrap:
        out.update({f"{name}_ci": _interval(draws[0][name] - draws[1][name], confidence)
                    for name in DIFFERENCE_METRICS})
    return out


def replicate_difference(values_a, values_b, confidence: float = 0.95) -> dict:
    """The mean over replicates of a metric of attack a minus attack b (``values_*[i]``: replicate
    i's value: its own splits, target and attack models) and the t-interval of that mean, which
    holds every source of variation the replicates vary."""
    d = np.asarray(values_a, dtype=np.float64) - np.asarray(values_b, dtype=np.float64)
    if len(d) < 2:
        raise ValueError("a t-interval over replicates needs at least two replicates")
    from scipy import stats  # only with replicates: keep SciPy out of every job's start-up

    half = stats.t.ppf((1 + confidence) / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    mean = float(d.mean())
    return {"method": f"t-interval over {len(d)} replicates", "replicates": len(d),
            "difference": mean, "ci": [mean - half, mean + half]}


def roc_points(scores: np.ndarray, member: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every operating point of the ROC curve: (fpr, tpr, threshold), one per distinct score from
    the highest down, a record called a member when its score is >= the threshold, after the point
    (0, 0) at threshold +inf (scikit-learn's roc_curve with drop_intermediate=False)."""
    scores = np.asarray(scores, dtype=np.float64)
    member = np.asarray(member).astype(bool)
    order = np.argsort(-scores, kind="stable")
    s, m = scores[order], member[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]  # last record of each distinct score
    tps = np.cumsum(m)[last]
    fps = last + 1 - tps
    fpr = np.r_[0.0, fps / max(fps[-1], 1)]
    tpr = np.r_[0.0, tps / max(tps[-1], 1)]
    return fpr, tpr, np.r_[np.inf, s[last]]


def roc(scores: np.ndarray, member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ROC curve (fpr, tpr) for plotting."""
    fpr, tpr, _ = roc_points(scores, member)
    return fpr, tpr


def auc(scores: np.ndarray, member: np.ndarray) -> float:
    """ROC AUC: the probability that a member scores above a non-member, ties counted half."""
    m, n, _ = _split(scores, member)
    return float(_auc_ranks(m[None, :], n[None, :])[0])


def best_threshold(scores: np.ndarray, member: np.ndarray) -> float:
    """The threshold that maximises balanced accuracy on calibration data (threshold attacks)."""
    fpr, tpr, thr = roc_points(scores, member)
    i = int(np.argmax(tpr - fpr))
    return float(thr[i]) if np.isfinite(thr[i]) else float(np.max(scores))


# --------------------------------------------------------------------------------------------------
# metrics.json: one shape for every attack (workflow/schemas/metrics.schema.json)
# --------------------------------------------------------------------------------------------------
KINDS = ("supervised", "threshold", "unsupervised", "pooled", "calibrated")


def record(kind: str, description: str, results: dict[str, dict], *, features: dict | None = None,
           training: dict | None = None, **details) -> dict:
    """One attack's entry in a metrics.json: what it is (``kind``: the supervised attack model of
    §III-E, a threshold baseline, the unsupervised attack, supervised attacks pooled over
    parties, or a calibrated attack from reference models: deepleak/calibration.py), what it
    read, how it was trained, and its metrics (:func:`evaluate`) on each test set by name
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
