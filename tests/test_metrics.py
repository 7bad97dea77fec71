"""Metrics against scikit-learn, and the threshold baselines' formulas."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from deepleak import baselines, metrics


def _scores(seed=0, n=500, shift=1.0):
    rng = np.random.default_rng(seed)
    member = np.r_[np.ones(n), np.zeros(n)].astype(int)
    return rng.normal(shift * member, 1.0), member


def test_accuracy_auc_and_tpr_match_sklearn():
    s, m = _scores()
    r = metrics.evaluate(s, m, threshold=0.5, n_bootstrap=0)
    assert r["accuracy"] == pytest.approx(((s >= 0.5) == m).mean())
    assert r["auc"] == pytest.approx(roc_auc_score(m, s))
    fpr, tpr, _ = roc_curve(m, s)
    assert r["tpr_at_0.01_fpr"] == pytest.approx(tpr[fpr <= 0.01].max())


def test_rank_auc_equals_sklearn_on_resamples_with_ties():
    rng = np.random.default_rng(1)
    bm = rng.integers(0, 5, size=(4, 30)).astype(float)  # many ties
    bn = rng.integers(0, 4, size=(4, 40)).astype(float)
    ours = metrics._auc_ranks(bm, bn)
    for i in range(4):
        y = np.r_[np.ones(30), np.zeros(40)]
        assert ours[i] == pytest.approx(roc_auc_score(y, np.r_[bm[i], bn[i]]))


def test_bootstrap_ci_brackets_the_estimate_and_shrinks_with_n():
    s, m = _scores(n=200)
    small = metrics.evaluate(s, m, n_bootstrap=300, seed=0)
    s, m = _scores(n=3000)
    large = metrics.evaluate(s, m, n_bootstrap=300, seed=0)
    for r in (small, large):
        for k in ("accuracy", "auc"):
            lo, hi = r[f"{k}_ci"]
            assert lo <= r[k] <= hi
    width = lambda r: r["auc_ci"][1] - r["auc_ci"][0]  # noqa: E731
    assert width(large) < width(small)


def test_null_scores_give_chance():
    rng = np.random.default_rng(2)
    m = np.r_[np.ones(5000), np.zeros(5000)]
    r = metrics.evaluate(rng.random(10000), m, n_bootstrap=0)
    assert abs(r["auc"] - 0.5) < 0.02 and abs(r["accuracy"] - 0.5) < 0.02


def test_baseline_formulas():
    logits = np.array([[10.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    labels = np.array([0, 1])
    h = baselines.normalised_entropy(logits)
    assert h[1] == pytest.approx(1.0) and 0 <= h[0] < 0.01
    p = np.exp(logits[0]) / np.exp(logits[0]).sum()
    expected = -(1 - p[0]) * np.log(p[0]) - p[1] * np.log(1 - p[1]) - p[2] * np.log(1 - p[2])
    assert baselines.modified_entropy(logits, labels)[0] == pytest.approx(expected)
    feats = {"logits": logits, "label": labels, "loss": np.array([0.1, 1.1])}
    assert baselines.scores("correctness", feats).tolist() == [1.0, 0.0]
    assert baselines.scores("confidence", feats)[1] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="unknown baseline"):
        baselines.scores("nope", feats)


def test_best_threshold_separates():
    s = np.r_[np.linspace(1, 2, 50), np.linspace(-2, -1, 50)]
    m = np.r_[np.ones(50), np.zeros(50)]
    thr = metrics.best_threshold(s, m)
    assert -1 < thr <= 1
