"""DP-SGD targets (deepleak/dp.py) and their audit (deepleak/audit.py): Opacus works with the pinned
torch, its accountant reproduces published epsilons, a DP model.pt loads with the ordinary loader,
clipping changes training, and the empirical epsilon is right on synthetic rates with a known answer
and about 0 for an attack that knows nothing."""
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from deepleak import artifacts, audit, dp, models, splits, training

ROOT = Path(__file__).resolve().parents[1]
DP_CFG = {"delta": 1e-5, "max_grad_norm": 1.0, "accountant": "rdp", "grad_sample_mode": "ghost"}
FC = {"arch": "fc", "hidden": [16, 8], "activation": "tanh"}
TRAIN = {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 2}


def _data(n=200, d=12, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, (X[:, :classes].argmax(1)).astype(np.int64)


def _fit(level, seed=3, **kw):
    X, y = _data()
    net = models.build_model(FC, X.shape[1], 4, seed=1)
    return dp.fit_private(net, X[:150], y[:150], X[150:], y[150:], train={**TRAIN, **kw},
                          dp=DP_CFG, level=level, seed=seed)


def _weights(net):
    return [p.detach().clone() for p in net.parameters()]


# --------------------------------------------------------------------------------------------------
# Opacus with the pinned torch
# --------------------------------------------------------------------------------------------------
def test_opacus_trains_with_the_pinned_torch():
    import opacus

    pinned = re.search(r'"torch==([\d.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert torch.__version__.split("+")[0] == pinned
    assert f'"opacus=={opacus.__version__}"' in (ROOT / "pyproject.toml").read_text()
    net, history, privacy = _fit("eps4")
    assert privacy["noise_multiplier"] > 0 and privacy["steps"] > 0
    # The accountant's epsilon after the steps taken: the target, spent (to Opacus's tolerance).
    assert 3.5 < privacy["epsilon"] <= 4.0 + 0.01
    assert history["epsilon"].is_monotonic_increasing and len(history) == TRAIN["epochs"] + 1
    assert not privacy["secure_mode"] and privacy["poisson_sampling"]
    assert all(torch.isfinite(p).all() for p in net.parameters())


def test_dp_trains_the_image_cnn():
    # The Fashion-MNIST convnet (dp.datasets may name it): conv layers under ghost clipping too.
    rng = np.random.default_rng(0)
    X = (rng.random((96, 1, 28, 28)) * 255).astype(np.float32)
    y = rng.integers(0, 10, 96)
    spec = {"arch": "convnet", "channels": [2, 4], "hidden": [8],
            "normalise": {"mean": [0.286], "std": [0.353]}}
    net = models.build_model(spec, [1, 28, 28], 10, seed=1)
    net, _, privacy = dp.fit_private(net, X[:64], y[:64], X[64:], y[64:],
                                     train={**TRAIN, "epochs": 1}, dp=DP_CFG, level="eps8", seed=2)
    assert privacy["epsilon"] <= 8.01 and privacy["noise_multiplier"] > 0
    fresh = models.build_model(spec, [1, 28, 28], 10)
    fresh.load_state_dict(net.state_dict())  # plain keys


def test_dp_training_is_seeded():
    a, b = _fit("eps4")[0], _fit("eps4")[0]
    assert all(torch.equal(u, v) for u, v in zip(_weights(a), _weights(b), strict=True))
    c = _fit("eps4", seed=4)[0]  # another seed: other batches and noise
    assert not all(torch.equal(u, v) for u, v in zip(_weights(a), _weights(c), strict=True))


def test_clip_only_differs_from_non_private_and_from_noise():
    X, y = _data()
    plain = models.build_model(FC, X.shape[1], 4, seed=1)
    plain, _ = training.fit(plain, X[:150], y[:150], X[150:], y[150:], train=TRAIN, seed=3)
    clip, _, privacy = _fit("clip_only")
    assert privacy["noise_multiplier"] == 0 and math.isinf(privacy["epsilon"])
    noisy, _, _ = _fit("eps1")
    for other in (plain, noisy):
        assert max((u - v).abs().max().item()
                   for u, v in zip(_weights(clip), _weights(other), strict=True)) > 1e-3


# --------------------------------------------------------------------------------------------------
# The accountant against published values
# --------------------------------------------------------------------------------------------------
# TensorFlow Privacy's MNIST DP-SGD tutorial (tensorflow/privacy, tutorials/README.md, "Select
# Parameters"): 60,000 examples, batches of 256 (sampling rate 256 / 60,000), delta = 1e-5, RDP
# accounting: noise 1.12 for 60 epochs -> epsilon 2.92; 0.6 for 30 epochs -> 9.74; 1.2 for 10 epochs
# -> 1.20. TF Privacy converts RDP to (epsilon, delta) by Mironov 2017, Prop. 3
# (epsilon = rdp(alpha) + log(1 / delta) / (alpha - 1)); Opacus's accountant by the tighter
# conversion of Balle et al. 2020, so its epsilon is a little lower.
PUBLISHED = [(1.12, 60, 2.92), (0.6, 30, 9.74), (1.2, 10, 1.20)]


@pytest.mark.parametrize("sigma, epochs, published", PUBLISHED)
def test_rdp_accountant_reproduces_published_epsilons(sigma, epochs, published):
    from opacus.accountants import RDPAccountant
    from opacus.accountants.analysis import rdp

    q, steps, delta = 256 / 60000, epochs * 60000 // 256, 1e-5
    orders = np.array(RDPAccountant.DEFAULT_ALPHAS, dtype=float)
    curve = np.array(rdp.compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=orders))
    mironov = float(np.min(curve + np.log(1 / delta) / (orders - 1)))
    assert mironov == pytest.approx(published, abs=0.015)
    opacus_eps = dp.accountant_epsilon(sigma, q, steps, delta, "rdp")
    assert published * 0.7 < opacus_eps <= mironov
    # PRV (Gopi et al. 2021) is tighter still.
    assert dp.accountant_epsilon(sigma, q, steps, delta, "prv") <= opacus_eps + 0.05


# --------------------------------------------------------------------------------------------------
# A DP model.pt is an ordinary checkpoint
# --------------------------------------------------------------------------------------------------
def test_wrapper_prefix_is_stripped():
    from opacus import GradSampleModule

    net = models.build_model(FC, 12, 4, seed=1)
    wrapped = GradSampleModule(net)
    assert any(k.startswith(dp.WRAPPER_PREFIX) for k in wrapped.state_dict())
    assert dp.unwrap(wrapped) is net
    assert list(dp.plain_state_dict(wrapped)) == list(net.state_dict())


def test_dp_model_loads_with_the_ordinary_loader(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    import train_dp_model

    X, y = _data(n=300)
    artifacts.save_npz(tmp_path / "dataset.npz", {"X": X, "y": y})
    sets = {"members": np.arange(150), "target_test": np.arange(150, 300)}
    splits.save(tmp_path / "splits.npz", sets, meta={})
    out = {k: tmp_path / f"eps4/{k}" for k in ("model.pt", "meta.json", "history.csv")}
    train_dp_model.main(tmp_path / "dataset.npz", tmp_path / "splits.npz", out["model.pt"],
                        out["meta.json"], out["history.csv"], level="eps4", model_cfg=FC,
                        train=TRAIN, dp_cfg=DP_CFG, device="cpu", init_seed=1, seed=3)
    state = torch.load(out["model.pt"], weights_only=True)
    assert not any(k.startswith(dp.WRAPPER_PREFIX) for k in state)
    meta = artifacts.load_json(out["meta.json"])
    fresh = models.build_model(meta["model_cfg"], meta["in_features"], meta["n_classes"])
    artifacts.load_state_dict(fresh, out["model.pt"])  # raises on any key or shape mismatch
    assert meta["privacy"]["accountant"] == "rdp" and meta["privacy"]["epsilon"] <= 4.01
    # clip-only's infinite epsilon is JSON null.
    train_dp_model.main(tmp_path / "dataset.npz", tmp_path / "splits.npz", tmp_path / "c/model.pt",
                        tmp_path / "c/meta.json", tmp_path / "c/history.csv", level="clip_only",
                        model_cfg=FC, train=TRAIN, dp_cfg=DP_CFG, device="cpu", init_seed=1,
                        seed=3)
    assert artifacts.load_json(tmp_path / "c/meta.json")["privacy"]["epsilon"] is None


# --------------------------------------------------------------------------------------------------
# The audit's empirical epsilon
# --------------------------------------------------------------------------------------------------
def test_levels_are_named_and_parsed():
    assert audit.levels([1, 4, 0.5]) == ["eps1", "eps4", "eps0.5", "clip_only"]
    assert [audit.level_epsilon(x) for x in ("eps1", "eps0.5", "clip_only")] == [1.0, 0.5, None]
    with pytest.raises(ValueError, match="unknown privacy level"):
        audit.level_epsilon("dp1")


def test_epsilon_of_known_rates():
    # TPR 0.5 at FPR 0.05: e^eps = 10 (first inequality); 0.95 / 0.5 = 1.9 for the second.
    assert audit.epsilon_from_rates(0.5, 0.05) == pytest.approx(math.log(10))
    assert audit.epsilon_from_rates(0.95, 0.5) == pytest.approx(math.log(10))  # the other side
    assert audit.epsilon_from_rates(0.3, 0.3) == 0.0 and audit.epsilon_from_rates(0.2, 0.4) == 0
    n = 100_000
    b = audit.epsilon_bounds(n // 2, n, n // 20, n, confidence=0.95)
    assert b["epsilon"] == pytest.approx(math.log(10))
    assert math.log(10) - 0.1 < b["epsilon_lower"] < math.log(10) < b["epsilon_upper"] < 2.4
    # Fewer records, a wider interval; more confidence, a lower bound.
    small = audit.epsilon_bounds(50, 100, 5, 100)
    assert small["epsilon_lower"] < b["epsilon_lower"]
    assert small["epsilon_upper"] > b["epsilon_upper"]
    assert audit.epsilon_bounds(n // 2, n, n // 20, n, confidence=0.999)["epsilon_lower"] < \
        b["epsilon_lower"]


def test_clopper_pearson_against_its_definition():
    from scipy import stats

    lo, hi = audit.clopper_pearson(7, 40, 0.025)
    # The lower bound p has P(X >= 7 | p) = alpha, the upper P(X <= 7 | p) = alpha.
    assert stats.binom.sf(6, 40, lo) == pytest.approx(0.025, rel=1e-6)
    assert stats.binom.cdf(7, 40, hi) == pytest.approx(0.025, rel=1e-6)
    assert audit.clopper_pearson(0, 40, 0.025)[0] == 0
    assert audit.clopper_pearson(40, 40, 0.025)[1] == 1


def test_max_resolvable_is_about_ln_of_the_nonmembers():
    for n in (500, 5000, 50000):
        m = audit.max_resolvable(n, n)
        assert math.log(n) - 2 < m < math.log(n)
        assert m == pytest.approx(math.log(n / math.log(2 / 0.05)), abs=0.05)


def test_audit_of_a_perfect_and_a_null_attack():
    rng = np.random.default_rng(0)
    member = np.r_[np.ones(1000, bool), np.zeros(1000, bool)]
    perfect = audit.audit(member + rng.normal(0, 0.01, 2000), member, seed=1)
    # Every member above the threshold and no non-member, or nearly: the size's limit.
    assert perfect["epsilon_lower"] == pytest.approx(perfect["max_resolvable"], abs=0.05)
    assert perfect["n_members"] == perfect["n_nonmembers"] == 500
    nulls = [audit.audit(rng.normal(size=2000), member, seed=s)["epsilon_lower"] for s in range(20)]
    # 95 % lower bounds: at most a few of 20 null attacks above 0, and then barely.
    assert np.mean(np.array(nulls) == 0) >= 0.8 and max(nulls) < 0.3


def test_audit_recovers_a_planted_epsilon():
    # Scores that make a threshold test with TPR 0.5 / FPR 0.05 available: members' scores are
    # N(mu, 1) with mu set so that at the non-members' 95 % quantile half the members pass.
    rng = np.random.default_rng(2)
    n = 20000
    member = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    scores = np.r_[rng.normal(1.645, 1, n), rng.normal(0, 1, n)]
    out = audit.audit(scores, member, seed=3)
    # No threshold test of these Gaussians shows more than its best likelihood ratio at the chosen
    # threshold: the bound is positive, below the point, and of the planted order.
    assert 1.0 < out["epsilon_lower"] <= out["epsilon"] <= out["epsilon_upper"]
    assert out["epsilon_lower"] < out["max_resolvable"]
