"""Metrics against scikit-learn, and the threshold baselines' formulas."""
import numpy as np
import pytest
from deepleak import baselines, metrics
from sklearn.metrics import roc_auc_score, roc_curve


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


@pytest.mark.parametrize("rounding", [None, 1, 0])
def test_roc_points_and_auc_are_sklearns(rounding):
    """The numpy ROC is scikit-learn's, point for point, with ties and with binary scores; the AUC
    agrees to rounding; so does the baselines' threshold chosen on it; and the log-softmax is
    SciPy's bit for bit (both kept out of every job's imports)."""
    from scipy.special import log_softmax

    s, m = _scores(seed=3, n=300)
    if rounding is not None:
        s = np.round(s, rounding)
    fpr, tpr, thr = roc_curve(m, s, drop_intermediate=False)
    ours = metrics.roc_points(s, m)
    for a, b in zip(ours, (fpr, tpr, thr), strict=True):
        np.testing.assert_array_equal(a, b)
    assert metrics.auc(s, m) == pytest.approx(roc_auc_score(m, s), abs=1e-15)
    f, t, th = roc_curve(m, s)  # drop_intermediate: the argmax of tpr - fpr is the same point
    assert metrics.best_threshold(s, m) == th[np.argmax(t - f)]
    logits = np.random.default_rng(4).normal(size=(50, 10)) * 40
    np.testing.assert_array_equal(baselines.log_softmax(logits), log_softmax(logits, axis=1))


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


# --------------------------------------------------------------------------------------------------
# TPR at low FPR: one threshold rule, only where the test set can realise the FPR
# --------------------------------------------------------------------------------------------------
def _large(n=20000, seed=3):
    rng = np.random.default_rng(seed)
    member = np.r_[np.ones(n), np.zeros(n)].astype(bool)
    return rng.normal(member * 1.0, 1.0), member


@pytest.mark.parametrize("rounding", [None, 1])
def test_tpr_at_fpr_is_the_roc_curves_best_point(rounding):
    s, m = _scores(n=1500)
    if rounding is not None:
        s = np.round(s, rounding)  # many ties
    fpr, tpr, _ = roc_curve(m, s, drop_intermediate=False)
    for p in metrics.FPR_POINTS:
        ours, realised = metrics.tpr_at_fpr(s[m == 1], s[m == 0], p)
        best = fpr <= p + 1e-12
        assert ours[0] == pytest.approx(tpr[best].max())
        assert realised[0] == pytest.approx(fpr[best][np.argmax(tpr[best])]) and realised[0] <= p


def test_tpr_is_absent_where_the_test_set_has_too_few_nonmembers():
    assert metrics.min_nonmembers(0.01) == 100 and metrics.min_nonmembers(0.001) == 1000
    rng = np.random.default_rng(4)
    for n_non, present in [(99, set()), (100, {0.01}), (999, {0.01}), (1000, {0.01, 0.001})]:
        m = np.r_[np.ones(50), np.zeros(n_non)]
        r = metrics.evaluate(rng.normal(m, 1.0), m, n_bootstrap=10)
        for p in metrics.FPR_POINTS:
            keys = (metrics.tpr_key(p), metrics.realised_key(p), metrics.tpr_key(p) + "_ci")
            if p in present:
                assert all(r[k] is not None for k in keys)
                assert r[metrics.realised_key(p)] <= p
            else:
                assert all(r[k] is None for k in keys)


def test_bootstrap_tpr_is_centred_on_the_point_estimate():
    s, m = _large()
    point = metrics.evaluate(s, m, n_bootstrap=0)
    (boot,) = metrics._bootstrap([(s[m], s[~m], 0.5)], 300, np.random.default_rng(0),
                                 metrics.FPR_POINTS)
    for p in metrics.FPR_POINTS:
        key = metrics.tpr_key(p)
        lo, hi = np.percentile(boot[key], [2.5, 97.5])
        assert abs(np.median(boot[key]) - point[key]) < max(0.15 * (hi - lo), 0.002), p
        assert lo <= point[key] <= hi
    for key in ("accuracy", "auc"):
        assert abs(np.median(boot[key]) - point[key]) < 0.002


def test_bootstrap_memory_is_bounded_by_the_block(monkeypatch):
    import tracemalloc

    s, m = _large(n=10000)
    peaks = {}
    for block in (2 ** 16, 2 ** 40):  # small blocks vs every resample at once
        monkeypatch.setattr(metrics, "BLOCK_ELEMENTS", block)
        tracemalloc.start()
        r = metrics.evaluate(s, m, n_bootstrap=60)
        peaks[block] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert r["auc_ci"][0] < r["auc"] < r["auc_ci"][1]
    assert peaks[2 ** 16] < 20e6 < peaks[2 ** 40]


def test_tables_print_why_a_tpr_is_absent():
    from deepleak import tables

    small = metrics.evaluate(*_scores(n=60), n_bootstrap=10)
    large = metrics.evaluate(*_scores(n=1200), n_bootstrap=10)
    row = tables.aggregate([small])
    assert np.isnan(row["tpr_at_0.01_fpr"]) and np.isnan(row["tpr_at_0.01_fpr_ci_low"])
    assert tables.tpr_cell(row, 0.01) == "n/a (needs >= 100 non-members)"
    assert tables.tpr_cell(row, 0.001) == "n/a (needs >= 1,000 non-members)"
    row = tables.aggregate([large])
    assert tables.tpr_cell(row, 0.001).endswith(
        f"(at {100 * large['realised_fpr_at_0.001_fpr']:.2f} % FPR)")


# --------------------------------------------------------------------------------------------------
# The difference between two attacks
# --------------------------------------------------------------------------------------------------
def test_paired_difference_of_identical_attacks_is_exactly_zero():
    s, m = _scores(n=300)
    d = metrics.paired_difference(s, s.copy(), m, n_bootstrap=200)
    assert d["method"] == "paired bootstrap"
    assert d["accuracy"] == d["auc"] == 0.0
    assert d["accuracy_ci"] == [0.0, 0.0] and d["auc_ci"] == [0.0, 0.0]


def test_paired_difference_finds_a_planted_gap_and_matches_evaluate():
    rng = np.random.default_rng(5)
    member = np.r_[np.ones(400), np.zeros(400)].astype(int)
    common = rng.normal(0.0, 1.0, len(member))  # what both attacks see: the records' difficulty
    strong = common + 1.0 * member + rng.normal(0, 0.3, len(member))
    weak = common + 0.6 * member + rng.normal(0, 0.3, len(member))
    d = metrics.paired_difference(strong, weak, member, threshold_a=0.5, threshold_b=0.3,
                                  n_bootstrap=300, seed=1)
    a = metrics.evaluate(strong, member, threshold=0.5, n_bootstrap=0)
    b = metrics.evaluate(weak, member, threshold=0.3, n_bootstrap=0)
    assert d["accuracy"] == pytest.approx(a["accuracy"] - b["accuracy"])
    assert d["auc"] == pytest.approx(a["auc"] - b["auc"])
    assert d["auc_ci"][0] > 0 and d["accuracy_ci"][0] > 0
    # Pairing removes what the two attacks share: the unpaired CI of the same gap is wider.
    u = metrics.unpaired_difference((strong, member, 0.5), (weak, member, 0.3), n_bootstrap=300,
                                    seed=1)
    assert u["auc"] == pytest.approx(d["auc"]) and u["method"] == "unpaired bootstrap"
    width = lambda r: r["auc_ci"][1] - r["auc_ci"][0]  # noqa: E731
    assert width(d) < 0.6 * width(u)


def test_paired_difference_needs_aligned_records():
    s, m = _scores(n=50)
    with pytest.raises(ValueError, match="same records"):
        metrics.paired_difference(s, s[:-1], m)
    records = np.arange(100)
    perm = np.random.default_rng(0).permutation(100)
    ia, ib = metrics.align(records, records[perm])
    assert np.array_equal(records[ia], records[perm][ib])
    assert metrics.align(records, records + 1) is None
    assert metrics.align(records, records[:-1]) is None


def test_replicate_difference_is_the_t_interval_of_the_differences():
    from scipy import stats

    d = metrics.replicate_difference([71.0, 72.0, 73.0], [70.0, 70.0, 70.0], confidence=0.95)
    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    assert d["difference"] == pytest.approx(2.0)
    assert d["ci"] == pytest.approx([2.0 - half, 2.0 + half])
    assert d["method"] == "t-interval over 3 replicates"
    with pytest.raises(ValueError, match="two replicates"):
        metrics.replicate_difference([1.0], [0.0])
