"""Threshold baselines run beside every neural attack (not in the paper; the references any
white-box gain must beat).

Each maps a record's target-model output to a score that is higher for "more likely a member":

- ``loss``: -L(f(x), y), the cross-entropy of the logits in float64 (Yeom et al. 2018;
  Sablayrolles et al. 2019 show loss is Bayes-optimal under mild assumptions, so it is the
  reference any white-box gain must beat);
- ``confidence``: f(x)_y, the softmax probability of the true class;
- ``entropy``: -H(f(x)) normalised to [0, 1] (Eq. 5 with its missing minus sign restored);
- ``modified_entropy``: -Mentr(f(x), y) of Song & Mittal 2021;
- ``correctness``: 1{argmax f(x) = y}; its accuracy on a balanced set is
  0.5 + (train acc - test acc)/2.

Thresholds are calibrated on the shadow model's members and non-members (the attacker's own model,
no knowledge of the target's members), except correctness, which needs none.

The federated attackers observe T snapshots, and their feature files hold the loss as ``[n, T]``
(rounds in order). Beside every federated attack run (``TRACE_BASELINES``), calibrated on the
attacker's own known records:

- ``loss_last``: -L on the last observed snapshot, the stand-alone loss attack on the newest model;
- ``loss_mean``: -(mean of L over the T observed snapshots), the loss trace. The mean, not the
  slope: every observed model (a party's upload right after its epoch on its data, or the global
  model averaged from such uploads) carries the same membership signal, a low loss on the records it
  was trained on, so the mean reads that one signal T times with less noise (summing per-snapshot
  loss scores is the loss attack's log-likelihood ratio if snapshots were independent); the slope
  measures whether the loss still falls, which at the paper's late observed epochs (40-100 of 100)
  both members and non-members have stopped doing (Fig. 3), so it is mostly noise there.
"""
from __future__ import annotations

import numpy as np

from deepleak import calibration, metrics
from deepleak import features as feature_lib

BASELINES = ("loss", "confidence", "entropy", "modified_entropy", "correctness")
TRACE_BASELINES = ("loss_last", "loss_mean")
_DESCRIPTION = {"loss_last": "loss (last observed snapshot)",
                "loss_mean": "loss trace (mean over the observed snapshots)"}
_EPS = 1e-30


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities of each row of logits, in float64, shifted by the row's maximum so that no
    exponential overflows (SciPy's log_softmax, without importing SciPy into every attack job)."""
    x = np.asarray(logits, dtype=np.float64)
    x_max = x.max(axis=1, keepdims=True)
    x_max[~np.isfinite(x_max)] = 0
    shifted = x - x_max
    with np.errstate(divide="ignore"):
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def normalised_entropy(logits: np.ndarray) -> np.ndarray:
    """-(1/log K) sum_i p_i log p_i in [0, 1] (Eq. 5, its minus sign restored)."""
    logp = log_softmax(logits)
    return -(np.exp(logp) * logp).sum(1) / np.log(logits.shape[1])


def modified_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mentr(p, y) = -(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i) (Song & Mittal 2021)."""
    logp = log_softmax(logits)
    p = np.exp(logp)
    rows = np.arange(len(labels))
    p_y, logp_y = p[rows, labels], logp[rows, labels]
    log1m = np.log(np.clip(1.0 - p, _EPS, None))
    others = (p * log1m).sum(1) - p_y * log1m[rows, labels]
    return -(1.0 - p_y) * logp_y - others


def scores(name: str, feats: dict[str, np.ndarray]) -> np.ndarray:
    """Membership score of baseline ``name`` from a feature file's logits, loss and label (the
    trace baselines: its loss over the observed snapshots, ``[n, T]``)."""
    if name in TRACE_BASELINES:
        loss = np.asarray(feats["loss"], dtype=np.float64)
        loss = loss.reshape(len(loss), -1)  # [n] (one snapshot) or [n, T]
        return -(loss[:, -1] if name == "loss_last" else loss.mean(1))
    logits, labels = feats["logits"], feats["label"]
    if name == "loss":
        # From the logits in float64, not the feature file's float32 loss: a memorised member's
        # loss rounds to the same few float32 values (on the rehearsal's Purchase100 target, 5,903
        # distinct losses among 20,000 records), and the ties leave no threshold at 1 % FPR.
        return -calibration.loss_from_logits(logits, labels)
    if name == "confidence":
        logp = log_softmax(logits)
        return np.exp(logp[np.arange(len(labels)), labels])
    if name == "entropy":
        return -normalised_entropy(logits)
    if name == "modified_entropy":
        return -modified_entropy(logits, labels)
    if name == "correctness":
        return (np.argmax(logits, axis=1) == labels).astype(np.float64)
    raise ValueError(f"unknown baseline {name!r}; known: {BASELINES + TRACE_BASELINES}")


def calibrated(test: tuple, calibration: tuple, *, evaluate: dict, calibrated_on: str,
               suffix: str = "", names: tuple[str, ...] = BASELINES
               ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """Every baseline on the ``test`` records, its threshold calibrated on the ``calibration``
    records (the one that maximises balanced accuracy there; correctness is its own decision: a
    correct prediction says "member"). Both are (features, member ids, non-member ids), as
    deepleak.attack.run_supervised takes them; ``evaluate`` holds deepleak.metrics.evaluate's
    settings; ``names`` the baselines to run (default: the stand-alone ones; ``TRACE_BASELINES``
    for the federated attackers). Returns (the test scores: {"records", "member", name + suffix:
    scores}, members first; {name + suffix: metrics record})."""
    te, te_member, te_ids = feature_lib.labelled(*test)
    cal, cal_member, _ = feature_lib.labelled(*calibration)
    out_scores, records = {"records": te_ids, "member": te_member}, {}
    for name in names:
        s = scores(name, te)
        thr = (0.5 if name == "correctness"
               else metrics.best_threshold(scores(name, cal), cal_member))
        out_scores[name + suffix] = s
        records[name + suffix] = metrics.record(
            "threshold", f"{_DESCRIPTION.get(name, name.replace('_', ' '))} threshold, "
                         f"calibrated on {calibrated_on}",
            {"test": metrics.evaluate(s, te_member, threshold=thr, **evaluate)})
    return out_scores, records
