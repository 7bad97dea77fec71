"""LiRA on DP-SGD targets (rules dp_reference_mask, train_dp_references, dp_target_statistics,
dp_calibrated_attacks): the reference models are trained by the DP target's own recipe (its noise
multiplier, clipping norm, sample rate), LiRA finds a planted leak through a clip-only target that
memorised its members and nothing in a target that never saw them, and Table DP reads the
calibrated scores."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from deepleak import artifacts, audit, calibration, dp, dp_table, metrics, models, references

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

DP_CFG = {"delta": 1e-5, "max_grad_norm": 1.0, "accountant": "rdp", "grad_sample_mode": "ghost"}
FC = {"arch": "fc", "hidden": [32], "activation": "tanh"}


def _memorising(n=240, d=24, classes=4, seed=0):
    """Random labels: a model can only fit its training records by memorising them."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)).astype(np.float32),
            rng.integers(0, classes, n).astype(np.int64))


def _dp_target(X, y, train_ids, level, train, dp_cfg, seed=5):
    net = models.build_model(FC, X.shape[1], int(y.max()) + 1, seed=seed)
    rest = np.setdiff1d(np.arange(len(y)), train_ids)[:40]
    return dp.fit_private(net, X[train_ids], y[train_ids], X[rest], y[rest], train=train,
                          dp=dp_cfg, level=level, seed=seed)


# --------------------------------------------------------------------------------------------------
# The DP target's recipe
# --------------------------------------------------------------------------------------------------
def test_dp_references_are_trained_with_the_targets_noise_multiplier(tmp_path):
    """scripts/train_references.py with ``dp``: every reference model's privacy record carries the
    DP target's noise multiplier, clipping norm and sample rate (the same record count, the same
    batch size), and the statistics file says which sigma; a target of another recipe stops it."""
    import train_references

    X, y = _memorising(n=160)
    train = {"optimizer": "adam", "lr": 0.01, "batch_size": 16, "epochs": 2}
    pool = np.arange(80)  # 2 x the target's 40 records
    target_ids = np.arange(80, 120)
    net, _, privacy = _dp_target(X, y, target_ids, "eps8", train, DP_CFG)
    meta = {"model_cfg": FC, "train": train, "in_features": 24, "n_classes": 4,
            "privacy": {**privacy, "epsilon": audit.clip_float(privacy["epsilon"])}}
    t = {name: tmp_path / name for name in ("dataset.npz", "mask.npz", "meta.json",
                                            "references.npz", "references.json")}
    artifacts.save_npz(t["dataset.npz"], {"X": X, "y": y})
    artifacts.save_npz(t["mask.npz"], {"pool": pool, "test": pool[:60], "population": np.arange(
        120, 140), "mask": calibration.reference_mask(80, 4, seed=3)})
    artifacts.save_json(t["meta.json"], meta)
    kw = dict(model_cfg=FC, train=train, batched=True, per_batch=4, batching=None, device="cpu",
              seeds=[21, 22, 23, 24], dp=DP_CFG)
    train_references.main(t["dataset.npz"], t["mask.npz"], t["meta.json"], t["references.npz"],
                          t["references.json"], **kw)
    summary = json.loads(t["references.json"].read_text())
    sigma = privacy["noise_multiplier"]
    assert sigma > 0.1  # eps 8 over two epochs of 40 records: real noise, not clip-only
    assert not summary["batched"] and len(summary["privacy"]) == 4
    for p in summary["privacy"]:
        assert p["noise_multiplier"] == sigma and p["level"] == "eps8"
        assert p["max_grad_norm"] == DP_CFG["max_grad_norm"]
        assert p["sample_rate"] == privacy["sample_rate"] and p["steps"] > 0
        # Opacus's accountant on the same sigma, rate and about as many steps: about the target's
        # epsilon (Poisson batches make the step count itself the same: 1 / rate per epoch).
        assert p["epsilon"] == pytest.approx(privacy["epsilon"], rel=1e-6)
    assert artifacts.load_npz_meta(t["references.npz"])["noise_multiplier"] == sigma
    with np.load(t["references.npz"]) as refs:
        assert refs["logit_confidence"].shape == (4, 80)  # 60 test + 20 population records
    # A target trained by another recipe (an edited config) is refused, not calibrated against.
    artifacts.save_json(t["meta.json"], {**meta, "train": {**train, "epochs": 3}})
    with pytest.raises(ValueError, match="rerun rule train_dp"):
        train_references.main(t["dataset.npz"], t["mask.npz"], t["meta.json"],
                              t["references.npz"], t["references.json"], **kw)


def test_dp_mask_is_the_first_rows_of_the_calibrated_mask():
    """Rule dp_reference_mask draws with the calibrated stage's seed: its dp.references rows are
    the calibrated stage's first ones, so a DP reference k trains on the records the non-private
    reference k trains on."""
    small, large = calibration.reference_mask(200, 4, seed=9), calibration.reference_mask(200, 16,
                                                                                          seed=9)
    np.testing.assert_array_equal(small, large[:4])
    assert (small.sum(0) == 2).all()


# --------------------------------------------------------------------------------------------------
# Planted leakage and a null
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clip_only_case():
    """A memorising setup: random labels, a pool of 240 records (all of them attack-test records),
    8 reference models trained clip-only (clipping norm 20: the DP-SGD step without noise) by
    references.statistics, a clip-only target on a random half of the pool (the planted members)
    and one on 120 records outside the pool (the null)."""
    X, y = _memorising(n=360)
    dp_cfg = {**DP_CFG, "max_grad_norm": 20.0}
    train = {"optimizer": "adam", "lr": 0.01, "batch_size": 40, "epochs": 20}
    pool = np.arange(240)
    mask = calibration.reference_mask(240, 8, seed=4)
    private = {"dp": dp_cfg, "level": audit.CLIP_ONLY, "noise_multiplier": 0.0}
    refs, summary = references.statistics(FC, 24, 4, X, y, mask, pool, pool, train,
                                          seeds=list(range(30, 38)), private=private)
    member = np.zeros(240, dtype=bool)
    member[np.random.default_rng(1).permutation(240)[:120]] = True
    planted, _, _ = _dp_target(X, y, pool[member], audit.CLIP_ONLY, train, dp_cfg)
    null, _, _ = _dp_target(X, y, np.arange(240, 360), audit.CLIP_ONLY, train, dp_cfg)
    return X, y, pool, mask, refs, summary, member, planted, null


def _lira_auc(case, net):
    X, y, pool, mask, refs, _, member, _, _ = case
    target = calibration.model_statistics(net, X[pool], y[pool])
    scores, _ = calibration.run_attacks(target, refs, mask, list(net.layer_names),
                                        test_rows=np.arange(len(pool)), population_rows=[],
                                        global_variance=True, a=0.3, gamma=1.0)
    return {name: metrics.auc(scores[name], member.astype(int))
            for name in ("lira_online", "lira_offline")}


def test_lira_finds_the_members_a_clip_only_target_memorised(clip_only_case):
    """Members as the positive class: LiRA against clip-only references ranks the planted members
    of a clip-only target well above its non-members."""
    summary = clip_only_case[5]
    assert all(p["noise_multiplier"] == 0.0 for p in summary["privacy"])
    auc = _lira_auc(clip_only_case, clip_only_case[7])
    # Measured: 0.84 and 0.84; a 240-record AUC's sd is about 0.04.
    assert auc["lira_online"] > 0.75 and auc["lira_offline"] > 0.75, auc


def test_lira_on_a_target_that_never_saw_the_records_gives_auc_one_half(clip_only_case):
    """The null: a target trained on records outside the pool; the same 'members' labels carry no
    membership, and LiRA's AUC stays near 0.5 (240 records: its sd is about 0.04; measured 0.54 and
    0.56)."""
    auc = _lira_auc(clip_only_case, clip_only_case[8])
    assert abs(auc["lira_online"] - 0.5) < 0.12 and abs(auc["lira_offline"] - 0.5) < 0.12, auc


# --------------------------------------------------------------------------------------------------
# Table DP reads the calibrated scores
# --------------------------------------------------------------------------------------------------
def test_table_dp_takes_each_calibrated_attack_from_its_scores_file():
    """The calibrated attacks' scores.npz holds one array per attack: the audit reads the named
    one, and the row is labelled as Table calibrated labels it."""
    member = np.array([1, 1, 0, 0])
    scores = {"records": np.arange(4), "member": member,
              "lira_online": np.array([3.0, 2.0, 1.0, 0.0]),
              "lira_offline": np.array([0.0, 1.0, 2.0, 3.0])}
    np.testing.assert_array_equal(audit.attack_scores(scores, "lira_offline"),
                                  scores["lira_offline"])
    np.testing.assert_array_equal(audit.attack_scores({"score": member}, "black_box"), member)
    assert dp_table.attack_label("lira_online") == calibration.describe("lira_online")
    notes = dp_table.notes(accountant="rdp", delta=1e-5, confidence=0.95, n_replicates=1,
                           max_grad_norm=1.0, references={"dp": 4, "non_private": 16})
    assert any("against 4 reference models trained by that target's own DP-SGD recipe" in n
               for n in notes)
    assert not any("reference models" in n for n in dp_table.notes(
        accountant="rdp", delta=1e-5, confidence=0.95, n_replicates=1, max_grad_norm=1.0))


# --------------------------------------------------------------------------------------------------
# Resume: a killed job keeps the DP reference models it finished
# --------------------------------------------------------------------------------------------------
def test_dp_reference_statistics_resume_after_the_models_done(tmp_path, monkeypatch):
    """The DP references are checkpointed per model (Opacus's wrapped optimizer and accountant have
    no state to save between epochs): killed while training the third model, a rerun trains only
    the third and fourth, and gives the statistics and privacy records of an uninterrupted run."""
    from deepleak.checkpoint import Checkpoint

    X, y = _memorising(n=120)
    kw = dict(model_cfg=FC, in_features=24, n_classes=4, X=X, y=y,
              mask=calibration.reference_mask(80, 4, seed=2), pool=np.arange(80),
              records=np.arange(60, 120),
              train={"optimizer": "adam", "lr": 0.01, "batch_size": 16, "epochs": 2},
              seeds=[11, 12, 13, 14],
              private={"dp": DP_CFG, "level": "eps8", "noise_multiplier": 0.9})
    whole, whole_summary = references.statistics(**kw)
    ckpt = Checkpoint.for_job(tmp_path / "references.npz", {})
    fit, calls = dp.fit_private, {"n": 0}

    def killed_on_the_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return fit(*args, **kwargs)

    monkeypatch.setattr(dp, "fit_private", killed_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        references.statistics(**kw, checkpoint=ckpt)
    calls["n"] = 10  # no more kills; count the models the rerun trains
    resumed, summary = references.statistics(**kw, checkpoint=ckpt)
    assert calls["n"] == 12  # the third and fourth only
    for key in whole:
        assert resumed[key].tobytes() == whole[key].tobytes(), key
    assert summary["privacy"] == whole_summary["privacy"]
    assert [p["noise_multiplier"] for p in summary["privacy"]] == [0.9] * 4
    ckpt.remove()
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------------------------------
# The plan's checks
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change, said", [
    ({"calibrated_attacks": ["lira_onlin"]}, ["dp.calibrated_attacks", "lira_onlin"]),
    # Two references are one IN and one OUT per record: no Gaussian to fit (the schema's minimum).
    ({"calibrated_attacks": ["lira_online"], "references": 2},
     ["2 is less than the minimum of 4", "['dp']['references']"]),
], ids=["unknown attack", "too few references"])
def test_the_plan_stops_on_a_dp_lira_it_cannot_run(tmp_path, change, said):
    import subprocess

    import yaml

    config = yaml.safe_load((ROOT / "config/test.yaml").read_text())
    config["dp"].update(change)
    (tmp_path / "profile.yaml").write_text(yaml.safe_dump(config))
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1",
                          "--configfile", str(tmp_path / "profile.yaml")], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert all(s in text for s in said), text[-2000:]
