"""Calibrated attacks (deepleak/calibration.py) and their reference models (deepleak/references.py):
LiRA's likelihood ratio against a closed form, LiRA and RMIA on planted and null statistics, the
balanced IN/OUT design, the pool drawn from records the splits already hold, logit scaling as
p -> 1, and batched reference training against models trained alone.

Run from the repository root: python -m pytest tests/test_calibration.py
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from deepleak import calibration, metrics, splits


# --------------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------------
def test_logit_confidence_is_log_odds_and_stays_finite_as_p_tends_to_one():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 7))
    labels = rng.integers(0, 7, 50)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    p_y = p[np.arange(50), labels]
    np.testing.assert_allclose(calibration.logit_confidence(logits, labels),
                               np.log(p_y / (1 - p_y)), rtol=1e-10, atol=1e-10)
    # p_y rounds to 1.0 in float64 (the naive log(p / (1 - p)) is inf); phi stays the exact margin.
    confident = np.array([[200.0, 0.0, -5.0], [60.0, 1.0, 1.0]])
    phi = calibration.logit_confidence(confident, np.array([0, 0]))
    assert np.isfinite(phi).all()
    np.testing.assert_allclose(phi, [200.0 - np.log(1 + np.exp(-5.0)), 59.0 - np.log(2)],
                               rtol=1e-12)
    loss = calibration.loss_from_logits(confident, np.array([0, 0]))
    assert (loss >= 0).all() and np.isfinite(loss).all()
    np.testing.assert_allclose(calibration.loss_from_logits(logits, labels), -np.log(p_y),
                               rtol=1e-10)


# --------------------------------------------------------------------------------------------------
# the pool and the mask
# --------------------------------------------------------------------------------------------------
def test_mask_is_balanced_per_record_and_per_model():
    mask = calibration.reference_mask(40, 8, seed=1)
    assert mask.shape == (8, 40)
    assert (mask.sum(0) == 4).all()  # every record IN for half of the models
    assert (mask.sum(1) == 20).all()  # every model on half of the pool
    assert not np.array_equal(mask[0], mask[2])  # pairs differ
    with pytest.raises(calibration.CalibrationError):
        calibration.reference_mask(40, 7, seed=1)


def test_pool_holds_the_attack_test_records_and_leaves_the_splits_alone():
    sizes = dict(target_train=100, target_test=100, attack_train_members=30,
                 attack_train_nonmembers=30, attack_test_members=40, attack_test_nonmembers=40,
                 shadow_train=100, shadow_test=100)
    sets = splits.standalone_splits(500, sizes, 0.2, seed=3)
    before = {k: v.copy() for k, v in sets.items()}
    drawn = calibration.reference_pool(sets, 500, 100, population=50, seed=4)
    assert all(np.array_equal(before[k], sets[k]) for k in sets)
    assert len(drawn["pool"]) == 200 and len(np.unique(drawn["pool"])) == 200
    assert np.isin(drawn["test"], drawn["pool"]).all() and len(drawn["test"]) == 80
    # Besides the test records, the pool and the population hold no record the target saw.
    target = np.concatenate([sets["members"], sets["target_test"]])
    extra = np.setdiff1d(drawn["pool"], drawn["test"])
    assert not np.isin(extra, target).any() and not np.isin(drawn["population"], target).any()
    assert not np.isin(drawn["population"], drawn["pool"]).any() and len(drawn["population"]) == 50
    with pytest.raises(calibration.CalibrationError, match="population"):
        calibration.reference_pool(sets, 500, 100, population=10_000, seed=4)


# --------------------------------------------------------------------------------------------------
# LiRA: the likelihood ratio against a closed form
# --------------------------------------------------------------------------------------------------
def _log_normal(x, mu, var):
    return -0.5 * ((x - mu) ** 2 / var + np.log(2 * math.pi * var))


def test_lira_online_is_the_gaussian_log_likelihood_ratio():
    """Two records with known IN and OUT samples: the score is log N(t; mu_in, s_in^2) -
    log N(t; mu_out, s_out^2) with the samples' means and (ddof 1) variances."""
    refs = np.array([[1.0, 10.0], [3.0, 14.0], [0.0, 0.0], [2.0, 4.0]])
    mask = np.array([[True, True], [True, True], [False, False], [False, False]])
    t = np.array([2.5, 9.0])
    score, info = calibration.lira(t, refs, mask, online=True)
    var_in, var_out = np.array([2.0, 8.0]), np.array([2.0, 8.0])
    expected = (_log_normal(t, np.array([2.0, 12.0]), var_in)
                - _log_normal(t, np.array([1.0, 2.0]), var_out))
    np.testing.assert_allclose(score, expected, rtol=1e-5)
    assert info["covariance"] == "scalar"
    # Offline: the z-score against the OUT Gaussian.
    off, _ = calibration.lira(t, refs, mask, online=False)
    np.testing.assert_allclose(off, (t - np.array([1.0, 2.0])) / np.sqrt(var_out), rtol=1e-5)
    # Global variance: the variance pooled over both records (each about its own mean).
    glob, _ = calibration.lira(t, refs, mask, online=True, global_variance=True)
    pooled = 5.0  # IN and OUT alike: sums of squares 2 + 8 over 4 samples less 2 means
    np.testing.assert_allclose(glob, _log_normal(t, np.array([2.0, 12.0]), pooled)
                               - _log_normal(t, np.array([1.0, 2.0]), pooled), rtol=1e-5)


def test_lira_multivariate_equals_sum_of_independent_coordinates_when_diagonal():
    rng = np.random.default_rng(2)
    n_models, n = 8, 30
    mask = calibration.reference_mask(n, n_models, seed=0)
    refs = rng.normal(size=(n_models, n, 2))
    t = rng.normal(size=(n, 2))
    vec, info = calibration.lira(t, refs, mask)  # 4 per side < 5 x 2: diagonal
    assert info["covariance"] == "diagonal"
    parts = [calibration.lira(t[:, j], refs[..., j], mask)[0] for j in range(2)]
    np.testing.assert_allclose(vec, parts[0] + parts[1], rtol=1e-5)


def test_lira_full_covariance_matches_a_closed_form():
    """With 10 references per side and d = 2, the per-example covariance is full; its score is
    the difference of two bivariate normal log-densities."""
    rng = np.random.default_rng(3)
    mask = calibration.reference_mask(6, 20, seed=1)
    refs = rng.normal(size=(20, 6, 2))
    refs[..., 1] += refs[..., 0]  # correlated coordinates
    t = rng.normal(size=(6, 2))
    score, info = calibration.lira(t, refs, mask)
    assert info["covariance"] == "full"

    def logpdf(x, samples):
        mu, cov = samples.mean(0), np.cov(samples.T)
        cov = cov + np.eye(2) * (1e-6 * np.trace(cov) / 2 + 1e-12)
        diff = x - mu
        return -0.5 * (diff @ np.linalg.solve(cov, diff) + np.log(np.linalg.det(cov))
                       + 2 * math.log(2 * math.pi))

    expected = [logpdf(t[i], refs[mask[:, i], i]) - logpdf(t[i], refs[~mask[:, i], i])
                for i in range(6)]
    np.testing.assert_allclose(score, expected, rtol=1e-6)


# --------------------------------------------------------------------------------------------------
# Planted and null cases
# --------------------------------------------------------------------------------------------------
def _planted(n=400, n_models=16, planted=40, shift=3.0, seed=0):
    """Per-record difficulty b_i shared by every model; a model trained on a record raises its
    statistic by ``shift`` only for the planted (memorised) records, and the target trained on the
    first half of the records (members), among them the planted ones."""
    rng = np.random.default_rng(seed)
    b = rng.normal(0, 3, n)  # records differ far more than membership moves them
    mask = calibration.reference_mask(n, n_models, seed=seed + 1)
    memorised = np.zeros(n, dtype=bool)
    memorised[:planted] = True
    member = np.zeros(n, dtype=bool)
    member[: n // 2] = True
    effect = shift * memorised
    refs = b + mask * effect + rng.normal(0, 0.3, (n_models, n))
    target = b + member * effect + rng.normal(0, 0.3, n)
    return target, refs, mask, member, memorised


@pytest.mark.parametrize("online", [True, False])
@pytest.mark.parametrize("global_variance", [True, False])
def test_lira_ranks_the_memorised_records_first(online, global_variance):
    target, refs, mask, member, memorised = _planted()
    score, _ = calibration.lira(target, refs, mask, online=online,
                                global_variance=global_variance)
    top = np.argsort(-score)[: memorised.sum()]
    assert memorised[top].mean() >= 0.9
    # Members are the positive class: the planted members push the AUC above 0.5 (an inverted
    # sign or label would put it below).
    assert metrics.auc(score, member) > 0.55
    # Uncalibrated, the statistic itself mostly ranks the easy records (large b) first.
    assert memorised[np.argsort(-target)[: memorised.sum()]].mean() < 0.5


def test_lira_on_a_null_model_gives_auc_one_half():
    target, refs, mask, member, _ = _planted(n=2000, shift=0.0, seed=5)
    for online in (True, False):
        score, _ = calibration.lira(target, refs, mask, online=online, global_variance=True)
        assert abs(metrics.auc(score, member) - 0.5) < 0.04


def _probabilities(stat):
    return 1 / (1 + np.exp(-stat))


def test_rmia_ranks_the_memorised_records_first_and_a_null_gives_one_half():
    target, refs, mask, member, memorised = _planted(n=600)
    rng = np.random.default_rng(9)
    b_z = rng.normal(0, 3, 300)
    refs_z = b_z + rng.normal(0, 0.3, (len(refs), 300))
    target_z = b_z + rng.normal(0, 0.3, 300)
    score = calibration.rmia_offline(_probabilities(target), _probabilities(refs), mask,
                                     _probabilities(target_z), _probabilities(refs_z),
                                     a=0.3, gamma=1.0)
    assert ((0 <= score) & (score <= 1)).all()
    top = np.argsort(-score, kind="stable")[: memorised.sum()]
    assert memorised[top].mean() >= 0.8
    # 40 of 200 members memorised: about 0.6 at best; an inverted label gives below 0.5.
    assert metrics.auc(score, member) > 0.52
    null_t, null_refs, null_mask, null_member, _ = _planted(n=2000, shift=0.0, seed=7)
    null = calibration.rmia_offline(_probabilities(null_t), _probabilities(null_refs), null_mask,
                                    _probabilities(target_z), _probabilities(refs_z), a=0.3,
                                    gamma=1.0)
    assert abs(metrics.auc(null, null_member) - 0.5) < 0.04


def test_rmia_score_counts_dominated_population_records():
    """One reference model OUT, a = 1 (Pr(x) = Pr_OUT(x)): the ratio is p_target / p_ref, and x's
    score is the fraction of z whose ratio is at most x's / gamma."""
    mask = np.array([[False, False]])
    score = calibration.rmia_offline(np.array([0.8, 0.2]), np.array([[0.4, 0.4]]), mask,
                                     np.array([0.1, 0.2, 0.3, 0.4]), np.array([[0.1] * 4]),
                                     a=1.0, gamma=1.0)
    # ratios x: 2, 0.5; ratios z: 1, 2, 3, 4
    np.testing.assert_allclose(score, [0.5, 0.0])


def test_run_attacks_scores_every_attack_on_the_test_records():
    target, refs, mask, member, _ = _planted(n=120, n_models=4)
    layers = ["fc1", "fc2"]
    rng = np.random.default_rng(0)

    def stats(base, shape):
        return {"logit_confidence": base, "loss": np.logaddexp(0, -base),
                "grad_norm/fc1": np.exp(-base + rng.normal(0, 0.1, shape)),
                "grad_norm/fc2": np.exp(-0.5 * base + rng.normal(0, 0.1, shape))}

    pop_t, pop_r = rng.normal(size=30), rng.normal(size=(4, 30))
    t = stats(np.r_[target, pop_t], 150)
    r = stats(np.c_[refs, pop_r], (4, 150))
    scores, info = calibration.run_attacks(t, r, mask, layers, test_rows=np.arange(120),
                                           population_rows=120 + np.arange(30),
                                           global_variance=True, a=0.3, gamma=1.0)
    assert list(scores) == calibration.attack_names(layers)
    for name, s in scores.items():
        assert s.shape == (120,) and np.isfinite(s).all(), name
        assert calibration.describe(name)
    assert info["wb_lira_vector"]["statistics"][0] == "logit_confidence"


def test_exposure_and_rank():
    scores = np.array([5.0, 4.0, 1.0, 3.0, 0.5, 2.0])
    member = np.array([1, 1, 1, 0, 0, 0])
    exposed, thr = calibration.exposure(scores, member, 0.0)
    assert thr == 3.0 and exposed.tolist() == [True, True, False, False, False, False]
    assert calibration.rank(np.array([1.0, 3.0, 3.0, 2.0])).tolist() == [4, 1, 1, 3]


# --------------------------------------------------------------------------------------------------
# Reference models: batched equals alone
# --------------------------------------------------------------------------------------------------
def test_batched_reference_models_equal_models_trained_alone():
    """The reference stage with ``batched`` on and off: same initial weights, same batch orders,
    so each reference model's statistics agree to float tolerance (the models differ only in the
    batched matrix products' summation order, tests/test_batched.py)."""
    from deepleak import references

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 12)).astype(np.float32)
    y = rng.integers(0, 5, 120)
    model_cfg = {"arch": "fc", "hidden": [16, 8], "activation": "tanh"}
    train = {"optimizer": "adam", "lr": 0.01, "batch_size": 16, "epochs": 3}
    pool = np.arange(80)
    mask = calibration.reference_mask(80, 4, seed=2)
    records = np.arange(60, 120)
    seeds = [11, 12, 13, 14]
    kw = dict(model_cfg=model_cfg, in_features=12, n_classes=5, X=X, y=y, mask=mask, pool=pool,
              records=records, train=train, seeds=seeds)
    together, s1 = references.statistics(**kw, batched=True, per_batch=3)
    alone, s2 = references.statistics(**kw, batched=False)
    assert s1["batched"] and not s2["batched"]
    assert set(together) == set(alone) >= {"logit_confidence", "loss", "grad_norm/fc1"}
    for key in together:
        assert together[key].shape == (4, 60)
        np.testing.assert_allclose(together[key], alone[key], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s1["out_accuracy"], s2["out_accuracy"])
    # The models learned something of their own halves (a vacuous comparison proves nothing).
    loss_in = (together["loss"][:, :20] * mask[:, 60:80]).sum() / mask[:, 60:80].sum()
    loss_out = (together["loss"][:, :20] * ~mask[:, 60:80]).sum() / (~mask[:, 60:80]).sum()
    assert loss_in < loss_out
