"""Planted membership, end to end through the rule scripts' ``main`` functions.

A target that memorises its members (random labels, so nothing but memorisation fits them) makes
membership a planted fact. Every attack and baseline of every scenario must then score the members
*that the splits artifact names* above its non-members (AUC with the member as the positive class),
and the ``member`` column each script stores in its scores.npz must be that membership, read back
from the splits file, not from the attack's own bookkeeping.

Why the ground truth comes from the splits artifact: a bug that inverts the membership bits for
training *and* for scoring (``features.labelled`` calling members 0) leaves every AUC an attack
reports against its own labels unchanged, so only an outside reference catches it
(tensorflow/privacy#140 is this bug). A flipped baseline sign, on the other hand, shows as an AUC
below 0.5 against any labels.

Sizes are tiny (800 records, FC 20 -> 64 -> 32 -> 10) so that the file runs in seconds.
"""
from __future__ import annotations

import extract_features
import extract_finetune_features
import make_federated_splits
import make_finetune_splits
import make_splits
import numpy as np
import pytest
import run_attack
import run_baselines
import run_federated_attack
import run_finetune_attack
import run_shadow_attack
import run_unsupervised_attack
import simulate_federated
import torch
import train_finetune
import train_model
from deepleak import artifacts, baselines, features, finetune
from sklearn.metrics import roc_auc_score

torch.set_num_threads(1)  # tiny tensors: more threads only add contention on a shared machine

N_RECORDS, N_FEATURES, N_CLASSES = 800, 20, 10
MODEL = {"arch": "fc", "hidden": [64, 32], "activation": "tanh", "checkpoint": None}
TRAIN = {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 40, "weight_decay": 0.0}
HP = dict(component_widths=[16, 8], gradient_widths=[16, 8], kernels=2, encoder_widths=[16, 8],
          dropout=0.0, init_std=0.01, lr=0.01, batch_size=32, epochs=12,
          input_scaling="fan_in", selection="balanced_mse")
UNSUP = dict(decoder_targets=["loss", "correct", "confidence", "entropy", "grad_norm"],
             decoder_widths=[8], decoder_loss="mse", init_std=0.1, lr=0.01, batch_size=32,
             epochs=15, clustering=dict(n_neighbors=10, max_points=300))
METRICS = dict(n_bootstrap=0, confidence=0.95)
SIZES = dict(target_train=200, target_test=200, shadow_train=200, shadow_test=200,
             attack_train_members=100, attack_train_nonmembers=100, attack_test_members=100,
             attack_test_nonmembers=100)
MIN_AUC = 0.8  # the planted gap is ~100 % train vs ~10 % test accuracy: attacks reach 0.9-1.0


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Random features and random labels: a model fits its members only by memorising them."""
    path = tmp_path_factory.mktemp("planted")
    rng = np.random.default_rng(0)
    artifacts.save_npz(path / "dataset.npz",
                       {"X": rng.normal(size=(N_RECORDS, N_FEATURES)).astype(np.float32),
                        "y": rng.integers(0, N_CLASSES, N_RECORDS)})
    return path


def stored(path, members, nonmembers, prefix=""):
    """Read a scores file and check its ``member`` column against the splits' membership.

    Returns (scores file, ground-truth membership of its records)."""
    s = artifacts.load_npz(path)
    records, member = s[prefix + "records"], s[prefix + "member"]
    assert len(records) == len(np.unique(records)), "a record is scored twice"
    assert set(records.tolist()) == set(members.tolist()) | set(nonmembers.tolist()), \
        "the stored records are not the attack-test records of the splits"
    truth = np.isin(records, members)
    assert np.array_equal(np.asarray(member).astype(bool), truth), \
        "the stored membership bits disagree with the splits artifact"
    return s, truth


def auc_against(truth, scores):
    return float(roc_auc_score(truth.astype(int), np.asarray(scores, dtype=np.float64)))


# --------------------------------------------------------------------------------------------------
# the stand-alone scenario: make_splits -> train_model -> extract_features -> run_*
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def standalone(dataset):
    path = dataset
    make_splits.main(path / "dataset.npz", path / "splits.npz", SIZES, 0.25, seed=3)
    for model, seed in (("target", 1), ("shadow", 2)):
        train_model.main(path / "dataset.npz", path / "splits.npz", path / f"{model}.pt",
                         path / f"{model}.json", path / f"{model}_history.csv", model=model,
                         model_cfg=MODEL, train=TRAIN, track_records=5, evaluate_every=1,
                         device="cpu", seed=seed)
        meta = artifacts.load_json(path / f"{model}.json")
        assert meta["train_acc"] == 1.0 and meta["test_acc"] < 0.3, meta  # it memorised
        extract_features.main(path / "dataset.npz", path / "splits.npz", path / f"{model}.pt",
                              path / f"{model}.json", path / f"{model}_features.npz", model=model,
                              gradient_layers=2)
    sets = artifacts.load_npz(path / "splits.npz")
    # The attack-test sets lie where they must: members in the target's training set, non-members
    # outside it (what every check below takes as the truth).
    assert np.isin(sets["attack_test_members"], sets["members"]).all()
    assert not np.isin(sets["attack_test_nonmembers"], sets["members"]).any()
    return path, sets


SUPERVISED = ["black_box", "white_box_outputs", "gradients_1", "gradients_1-known0"]


def test_supervised_attacks_score_the_splits_members_higher(standalone):
    path, sets = standalone
    scores_outs = [path / f"attack_{a}.npz" for a in SUPERVISED]
    metrics_outs = [path / f"attack_{a}.json" for a in SUPERVISED]
    run_attack.main(path / "target_features.npz", path / "splits.npz", scores_outs, metrics_outs,
                    attacks=SUPERVISED, hp=HP, knowledge_fractions=[[0.5, 0.5]],
                    metrics_cfg=METRICS, seeds=[10, 11, 12, 13])
    for name, s_out, m_out in zip(SUPERVISED, scores_outs, metrics_outs, strict=True):
        s, truth = stored(s_out, sets["attack_test_members"], sets["attack_test_nonmembers"])
        assert auc_against(truth, s["score"]) > MIN_AUC, name
        test = artifacts.load_json(m_out)["attacks"][name]["metrics"]["test"]
        assert test["auc"] > MIN_AUC and test["accuracy"] > 0.7, (name, test)
        assert (test["n_members"], test["n_nonmembers"]) == (100, 100)


def test_threshold_baselines_score_the_splits_members_higher(standalone):
    path, sets = standalone
    run_baselines.main(path / "target_features.npz", path / "shadow_features.npz",
                       path / "splits.npz", path / "baselines.npz", path / "baselines.json",
                       metrics_cfg=METRICS, seed=5)
    s, truth = stored(path / "baselines.npz", sets["attack_test_members"],
                      sets["attack_test_nonmembers"])
    records = artifacts.load_json(path / "baselines.json")["attacks"]
    assert set(records) == set(baselines.BASELINES)
    for name in baselines.BASELINES:
        assert auc_against(truth, s[name]) > MIN_AUC, name
        test = records[name]["metrics"]["test"]
        # The threshold, calibrated on the shadow model, must also say "member" the right way up.
        assert test["auc"] > MIN_AUC and test["accuracy"] > 0.7, (name, test)


def test_shadow_model_attack_scores_the_splits_members_higher(standalone):
    path, sets = standalone
    run_shadow_attack.main(path / "target_features.npz", path / "shadow_features.npz",
                           path / "splits.npz", path / "shadow.npz", path / "shadow.json",
                           variant="gradients_1", hp=HP, validation_fraction=0.25,
                           metrics_cfg=METRICS, seed=6)
    s, truth = stored(path / "shadow.npz", sets["attack_test_members"],
                      sets["attack_test_nonmembers"])
    assert auc_against(truth, s["score"]) > MIN_AUC
    test = artifacts.load_json(path / "shadow.json")["attacks"]["shadow_model"]["metrics"]["test"]
    assert test["auc"] > MIN_AUC and test["accuracy"] > 0.7, test


def test_unsupervised_attack_scores_the_splits_members_higher(standalone):
    path, sets = standalone
    run_unsupervised_attack.main(path / "target_features.npz", path / "splits.npz",
                                 path / "unsup.npz", path / "unsup.json", variant="gradients_1",
                                 hp=HP, unsup=UNSUP, metrics_cfg=METRICS, seed=7)
    s, truth = stored(path / "unsup.npz", sets["attack_test_members"],
                      sets["attack_test_nonmembers"])
    assert auc_against(truth, s["score"]) > MIN_AUC
    # Positive scores are the side it calls members: that decision is right on most records.
    assert ((s["score"] > 0) == truth).mean() > 0.7


# --------------------------------------------------------------------------------------------------
# fine-tuning (T = 2): make_finetune_splits -> train_finetune -> extract_finetune_features -> attack
# --------------------------------------------------------------------------------------------------
FT_SIZES = dict(target_train=300, nonmembers=200, attack_known=60, attack_test=60)


@pytest.fixture(scope="module")
def finetuned(dataset):
    path = dataset / "finetune"
    path.mkdir()
    make_finetune_splits.main(dataset / "dataset.npz", path / "splits.npz", sizes=FT_SIZES,
                              d_fraction=0.6, validation_fraction=0.25, seed=4)
    snaps = {s: (path / f"{s}.pt", path / f"{s}.json", path / f"{s}.csv")
             for s in finetune.SNAPSHOTS}
    train_finetune.main(dataset / "dataset.npz", path / "splits.npz", snaps["trained"],
                        snaps["finetuned"], model_cfg=MODEL, train=TRAIN, finetune_train=TRAIN,
                        evaluate_every=1, device="cpu", seed=1, finetune_seed=2)
    trained = artifacts.load_json(snaps["trained"][1])
    tuned = artifacts.load_json(snaps["finetuned"][1])
    assert trained["acc_d"] == 1.0 and trained["acc_d_delta"] < 0.3, trained
    assert tuned["acc_d_delta"] == 1.0, tuned
    extract_finetune_features.main(
        dataset / "dataset.npz", path / "splits.npz", [snaps[s][0] for s in finetune.SNAPSHOTS],
        [snaps[s][1] for s in finetune.SNAPSHOTS], path / "features.npz", gradient_layers=1,
        device="cpu")
    return path, artifacts.load_npz(path / "splits.npz")


@pytest.mark.parametrize("task", sorted(finetune.TASKS))
def test_finetune_attack_scores_the_positive_pool_higher(finetuned, task):
    """Each task's positive pool (D, or D_delta against D-bar) scores above its negative pool, for
    the T = 2 attack and for the baselines on the snapshot where the positive pool was trained."""
    path, sets = finetuned
    positive, negative = finetune.TASKS[task]
    run_finetune_attack.main(path / "features.npz", path / "splits.npz", path / f"{task}.npz",
                             path / f"{task}.json", task=task, variant="gradients_1", hp=HP,
                             metrics_cfg=METRICS, seed=8)
    s, truth = stored(path / f"{task}.npz", sets[f"attack_test_{positive}"],
                      sets[f"attack_test_{negative}"])
    # The positive pool is the splits' pool itself (D or D_delta), not only its attack-test part.
    assert np.array_equal(truth, np.isin(s["records"], sets[positive]))
    assert auc_against(truth, s["score"]) > MIN_AUC
    record = artifacts.load_json(path / f"{task}.json")["attacks"][task]
    assert record["training"]["n_observations"] == 2
    assert record["metrics"]["test"]["auc"] > MIN_AUC, record["metrics"]["test"]
    snap = "trained" if positive == "d" else "finetuned"
    records = artifacts.load_json(path / f"{task}.json")["attacks"]
    for name in baselines.BASELINES:
        assert auc_against(truth, s[f"baseline_{name}@{snap}"]) > MIN_AUC, (name, snap)
        test = records[f"{name}@{snap}"]["metrics"]["test"]
        assert test["auc"] > MIN_AUC and test["accuracy"] > 0.7, (name, snap, test)


# --------------------------------------------------------------------------------------------------
# federated: make_federated_splits -> simulate_federated -> run_federated_attack (passive run)
# --------------------------------------------------------------------------------------------------
FED_SIZES = dict(party_train=120, test=40, attack_train_members=60, attack_train_nonmembers=60,
                 attack_test_members=50, attack_test_nonmembers=50, target_members=10,
                 target_nonmembers=10)
FED = {"rounds": 30, "observed_epochs": [29, 30],
       "train": {"optimizer": "adam", "lr": 0.01, "batch_size": 16}}
FED_FEATURES = {"outputs": [1], "gradients": [1]}
FED_HP = dict(HP, batch_size=16, epochs=20)  # 45 + 45 known records: smaller batches, more steps


def test_federated_attacks_score_the_parties_members_higher(dataset):
    path = dataset / "federated"
    path.mkdir()
    common = dict(parties=2, party_sweep=[], seed=9)
    make_federated_splits.main(dataset / "dataset.npz", path / "splits.npz", sizes=FED_SIZES,
                               validation_fraction=0.25, overlapping=False, dataset="planted",
                               **common)
    simulate_federated.main(
        dataset / "dataset.npz", path / "splits.npz", path / "features.npz", path / "global.pt",
        path / "meta.json", path / "history.csv", run="passive", model_cfg=MODEL, fed=FED,
        gamma=0.3, features_cfg=FED_FEATURES, central_epochs=[], track_records=5, batched=False,
        **common)
    run_federated_attack.main(
        path / "features.npz", path / "splits.npz", path / "meta.json", path / "scores.npz",
        path / "metrics.json", dataset="planted", run="passive",
        observed_epochs=FED["observed_epochs"], central_epochs=[], features_cfg=FED_FEATURES,
        hp=FED_HP, metrics_cfg=METRICS, **common)
    sets = artifacts.load_npz(path / "splits.npz")
    records = artifacts.load_json(path / "metrics.json")["attacks"]
    label = "29-30"
    # The central attacker on each party's uploads: that party's records are its members.
    for k in (0, 1):
        c = lambda name, k=k: sets[f"central/party{k}/{name}"]  # noqa: E731
        s, truth = stored(path / "scores.npz", c("attack_test_members"),
                          c("attack_test_nonmembers"), prefix=f"central:{label}/party{k}/test/")
        assert np.array_equal(truth, np.isin(s[f"central:{label}/party{k}/test/records"],
                                             sets[f"party{k}"]))
        assert auc_against(truth, s[f"central:{label}/party{k}/test/score"]) > MIN_AUC, k
        assert records[f"central:{label}/party{k}"]["metrics"]["test"]["auc"] > MIN_AUC
    s, truth = stored(path / "scores.npz", sets["central/party0/target_members"],
                      sets["target_nonmembers"], prefix=f"central:{label}/party0/targets/")
    assert auc_against(truth, s[f"central:{label}/party0/targets/score"]) > MIN_AUC
    assert records[f"central:{label}"]["metrics"]["test"]["auc"] > MIN_AUC  # pooled
    # The local attacker (party 1) on the global models: party 0's records are its members.
    lk = lambda name: sets[f"local/2parties/{name}"]  # noqa: E731
    s, truth = stored(path / "scores.npz", lk("attack_test_members"), lk("attack_test_nonmembers"),
                      prefix=f"local:{label}/global/test/")
    assert np.array_equal(truth, np.isin(s[f"local:{label}/global/test/records"], sets["party0"]))
    assert auc_against(truth, s[f"local:{label}/global/test/score"]) > MIN_AUC
    assert records[f"local:{label}"]["metrics"]["test"]["auc"] > MIN_AUC


# --------------------------------------------------------------------------------------------------
# the two planted bugs, pinned at their source as well
# --------------------------------------------------------------------------------------------------
def test_labelled_puts_members_first_with_bit_one():
    feats = {"records": np.array([2, 5, 7, 9]), "loss": np.array([0.2, 0.5, 0.7, 0.9])}
    rows, member, ids = features.labelled(feats, np.array([7, 2]), np.array([9]))
    assert ids.tolist() == [7, 2, 9]
    assert member.tolist() == [1, 1, 0] and member.dtype == np.int64
    assert rows["loss"].tolist() == [0.7, 0.2, 0.9] and rows["records"].tolist() == [7, 2, 9]
    with pytest.raises(KeyError, match="no features"):
        features.labelled(feats, np.array([3]), np.array([9]))


def test_every_baseline_scores_a_fitted_record_above_a_misfit_one():
    # Record 0: confident and right (a member's signature); record 1: confident and wrong.
    feats = {"logits": np.array([[8.0, 0.0, 0.0], [8.0, 0.0, 0.0]]), "label": np.array([0, 1])}
    logp = feats["logits"] - np.log(np.exp(feats["logits"]).sum(1, keepdims=True))
    feats["loss"] = -logp[[0, 1], feats["label"]]
    for name in baselines.BASELINES:
        s = baselines.scores(name, feats)
        if name == "entropy":  # label-free: both records are equally confident
            assert s[0] == pytest.approx(s[1])
        else:
            assert s[0] > s[1], name
    assert baselines.scores("loss", feats) == pytest.approx(-feats["loss"])
