"""The stand-alone split: named, disjoint sets of the configured sizes (Table II)."""
from pathlib import Path

import numpy as np
import pytest
from deepleak import splits

SIZES = dict(target_train=300, target_test=400, attack_train_members=100,
             attack_train_nonmembers=150, attack_test_members=120, attack_test_nonmembers=130,
             shadow_train=200, shadow_test=210)


def test_sets_are_disjoint_and_sized():
    sets = splits.standalone_splits(1500, SIZES, validation_fraction=0.2, seed=3)
    splits.check_disjoint(sets, splits.STANDALONE_DISJOINT)
    assert len(sets["members"]) == 300 and len(sets["target_test"]) == 400
    assert len(sets["shadow_members"]) == 200 and len(sets["shadow_nonmembers"]) == 210
    assert len(sets["attack_train_members"]) + len(sets["attack_val_members"]) == 100
    assert len(sets["attack_val_members"]) == 20
    assert len(sets["attack_train_nonmembers"]) + len(sets["attack_val_nonmembers"]) == 150
    assert len(sets["attack_test_members"]) == 120 and len(sets["attack_test_nonmembers"]) == 130
    members, nonmembers = set(sets["members"]), set(sets["target_test"])
    for name in ("attack_train_members", "attack_val_members", "attack_test_members"):
        assert set(sets[name]) <= members
    for name in ("attack_train_nonmembers", "attack_val_nonmembers", "attack_test_nonmembers"):
        assert set(sets[name]) <= nonmembers


def test_seeded():
    a = splits.standalone_splits(1500, SIZES, 0.2, seed=3)
    b = splits.standalone_splits(1500, SIZES, 0.2, seed=3)
    c = splits.standalone_splits(1500, SIZES, 0.2, seed=4)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["members"], c["members"])


def test_too_many_records_is_an_actionable_error():
    with pytest.raises(splits.SplitError, match="dataset has only 1000"):
        splits.standalone_splits(1000, SIZES, 0.2, seed=0)
    bad = {**SIZES, "attack_test_members": 250}
    with pytest.raises(splits.SplitError, match="known members .* plus the attack-test members"):
        splits.standalone_splits(1500, bad, 0.2, seed=0)


def test_check_disjoint_catches_overlap():
    sets = {"a": np.array([1, 2, 3]), "b": np.array([3, 4])}
    with pytest.raises(splits.SplitError, match="record 3"):
        splits.check_disjoint(sets, [["a", "b"]])


# --------------------------------------------------------------------------------------------------
# CIFAR-100 at the paper profile's sizes (Table II): the shadow model overlaps the target's data
# (shadow_overlap) but never its attack-test records, on which the shadow-model attack is scored.
# --------------------------------------------------------------------------------------------------
def _paper_cifar():
    import yaml

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "config/paper.yaml").read_text())
    entry = cfg["datasets"]["cifar100_alexnet"]["standalone"]
    official = np.r_[np.ones(50000, bool), np.zeros(10000, bool)]  # CIFAR-100: 50,000 + 10,000
    return official, entry, cfg["standalone"]["validation_fraction"]


def test_paper_cifar_shadow_pools_hold_no_attack_test_record():
    official, entry, vf = _paper_cifar()
    assert entry["shadow_overlap"]
    sets, groups = splits.official_standalone_splits(official, entry["sizes"], vf, seed=2019,
                                                     shadow_overlap=True)
    splits.check_disjoint(sets, groups)
    shadow = np.r_[sets["shadow_members"], sets["shadow_nonmembers"]]
    for name in ("attack_test_members", "attack_test_nonmembers"):
        assert len(np.intersect1d(shadow, sets[name])) == 0, name
    # The paper profile's sizes still hold (Table II: 25,000 + 5,000 for the shadow model).
    for name, size in [("shadow_members", "shadow_train"), ("shadow_nonmembers", "shadow_test"),
                       ("attack_test_members", "attack_test_members"),
                       ("attack_test_nonmembers", "attack_test_nonmembers")]:
        assert len(sets[name]) == entry["sizes"][size], name
    assert official[sets["shadow_members"]].all() and not official[sets["shadow_nonmembers"]].any()


def test_shadow_that_cannot_avoid_the_attack_test_set_names_the_keys():
    official, entry, vf = _paper_cifar()
    too_big = {**entry["sizes"], "shadow_test": 6000}  # 10,000 test images - 5,000 attack test
    with pytest.raises(splits.SplitError, match="shadow_test .*attack_test_nonmembers"):
        splits.official_standalone_splits(official, too_big, vf, seed=2019, shadow_overlap=True)


# --------------------------------------------------------------------------------------------------
# Table VI: an attacker who knows less knows less of everything, its validation records included.
# --------------------------------------------------------------------------------------------------
def test_table6_rows_know_the_paper_counts_validation_included(tmp_path, monkeypatch):
    import run_attack  # scripts/run_attack.py
    import yaml
    from deepleak import artifacts, attack, metrics, paper, tables, variants

    official, entry, vf = _paper_cifar()
    sets, _ = splits.official_standalone_splits(official, entry["sizes"], vf, seed=2019,
                                                shadow_overlap=True)
    splits.save(tmp_path / "splits.npz", sets, meta={})
    artifacts.save_npz(tmp_path / "target.npz", {"records": np.arange(1)},
                       meta={"layer_names": ["fc1", "fc2"], "gradient_layers": 1,
                             "n_classes": 100})
    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "config/paper.yaml").read_text())
    fractions = cfg["standalone"]["knowledge_fractions"]
    seen = {}

    def fake_run_supervised(train, val, tests, *, description, **_):
        count = lambda s: {"members": len(s[1]), "nonmembers": len(s[2])}  # noqa: E731
        test = tests["test"]
        n = len(test[1]) + len(test[2])
        result = {"n_members": len(test[1]), "n_nonmembers": len(test[2]), "threshold": 0.5,
                  "accuracy": 0.5, "auc": 0.5, "tpr_at_0.01_fpr": 0.0, "tpr_at_0.001_fpr": 0.0}
        record = metrics.record("supervised", description, {"test": result},
                                training={"n_train": count(train), "n_validation": count(val)})
        for which, s in (("train", train), ("val", val)):
            assert not set(s[1]) & set(sets["attack_test_members"]), which
        seen[len(seen)] = record
        zeros = np.zeros(n)
        return {"test": {"records": np.arange(n), "member": zeros, "score": zeros}}, record

    monkeypatch.setattr(attack, "run_supervised", fake_run_supervised)
    names = [variants.knowledge_attack(i) for i in range(len(fractions))]
    run_attack.main(tmp_path / "target.npz", tmp_path / "splits.npz",
                    [tmp_path / f"{a}.npz" for a in names], [tmp_path / f"{a}.json" for a in names],
                    attacks=names, hp={}, knowledge_fractions=fractions, metrics_cfg={},
                    seeds=list(range(len(names))))
    table = paper.standalone_table("table6", len(fractions))
    for i, row in enumerate(table.rows):
        known = tables.known_sizes(seen[i])
        assert (known["members"], known["nonmembers"]) == paper.TABLE6_KNOWN[row.attack], row
        # Validation keeps its share of what the attacker knows.
        assert seen[i]["training"]["n_validation"]["members"] == round(vf * known["members"])
