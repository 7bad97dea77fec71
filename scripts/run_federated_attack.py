"""The multi-observation attacks of one federated run (rule federated_attack): the central
attacker against each watched party, the local attacker against the other parties, at Table X's
observed epochs and, for the passive run, at Table XII's epoch sets; beside each attack, the
threshold baselines of its attacker (deepleak/baselines.py ``TRACE_BASELINES``), on the same
snapshots and test sets, calibrated on the same known records.

Records of one observer at one epoch set ``<observer>:<epochs>`` (central: pooled over parties):
the attack itself, ``.../party<k>`` (central: each party's attack), ``.../baseline:<name>`` and
``.../party<k>/baseline:<name>``."""
import logging

import numpy as np
from deepleak import artifacts, attack, baselines, federated, metrics, splits

log = logging.getLogger("run_federated_attack")


def known_records(key, sets):
    """The attacker's known members and non-members, its attack-training and validation records
    (what the attack model learns from is what a threshold is calibrated on)."""
    return (np.concatenate([key("attack_train_members"), key("attack_val_members")]),
            np.concatenate([sets["attack_train_nonmembers"], sets["attack_val_nonmembers"]]))


def view_baselines(data, key, sets, tests, *, evaluate, who):
    """The trace baselines on every test set of one view, thresholds calibrated on the attacker's
    known records (:func:`deepleak.baselines.calibrated`). Returns ({test: scores}, {baseline:
    record with a metrics entry per test set})."""
    known = (data, *known_records(key, sets))
    scores, records = {}, {}
    for name, ids in tests.items():
        scores[name], recs = baselines.calibrated(
            (data, *ids), known, evaluate=evaluate, names=baselines.TRACE_BASELINES,
            calibrated_on=f"{who}'s known records")
        for b, rec in recs.items():
            records.setdefault(b, {**rec, "metrics": {}})["metrics"][name] = rec["metrics"]["test"]
    return scores, records


def view_attack(feats, view, epochs, key, sets, *, tests, seed, evaluate, who, **common):
    """The paper's attack on the T observed snapshots of one view (Fig. 1: every component on each
    snapshot, the T outputs concatenated before the encoder), trained on the attacker's known
    records ``key(name)`` and selected on its validation records; and the trace baselines on the
    same snapshots. Returns (attack scores, attack record, baseline scores, baseline records)."""
    data = federated.select_epochs(federated.view_data(feats, view), epochs)
    observed = [int(e) for e in data.pop("epochs")]
    tests = {name: tuple(ids) for name, ids in tests.items()}
    scores, record = attack.run_supervised(
        (data, key("attack_train_members"), sets["attack_train_nonmembers"]),
        (data, key("attack_val_members"), sets["attack_val_nonmembers"]),
        {name: (data, *ids) for name, ids in tests.items()}, seed=seed, evaluate=evaluate,
        n_observations=len(observed), epochs=observed, **common)
    return (scores, record, *view_baselines(data, key, sets, tests, evaluate=evaluate, who=who))


def central_attacks(feats, sets, watched, epochs, *, evaluate, seed, **common):
    """Attack each watched party on its own uploads; pool the parties' equal-size test sets (so
    the accuracy is the average over parties, as the paper reports it); score party 0's targets.
    The baselines likewise, each party's scores shifted by its own threshold before pooling."""
    label = federated.epochs_label(epochs)
    records, scores, b_scores = {}, {}, {}
    for k in watched:
        c = lambda name, k=k: sets[federated.central_key(k, name)]  # noqa: E731
        tests = {"test": (c("attack_test_members"), c("attack_test_nonmembers"))}
        if k == federated.TARGET_PARTY:
            tests["targets"] = (c("target_members"), sets["target_nonmembers"])
        sc, records[f"central:{label}/party{k}"], b_scores[k], b_recs = view_attack(
            feats, f"party{k}", epochs, c, sets, tests=tests, evaluate=evaluate,
            seed=federated.sub_seed(seed, "central", k, label), who="the central attacker",
            description=f"Central attacker on party {k}'s uploads", party=k, **common)
        scores.update({f"central:{label}/party{k}/{name}": s for name, s in sc.items()})
        scores.update({f"central:{label}/party{k}/baselines/{name}": s
                       for name, s in b_scores[k].items()})
        records.update({f"central:{label}/party{k}/baseline:{b}": r for b, r in b_recs.items()})
    per_party = [records[f"central:{label}/party{k}"]["metrics"] for k in watched]
    pooled = {"test": metrics.evaluate(
        np.concatenate([scores[f"central:{label}/party{k}/test"]["score"] for k in watched]),
        np.concatenate([scores[f"central:{label}/party{k}/test"]["member"] for k in watched]),
        **evaluate)}
    if "targets" in per_party[0]:
        pooled["targets"] = per_party[0]["targets"]
    records[f"central:{label}"] = metrics.record(
        "pooled", "Central attacker: the per-party attacks' test sets pooled", pooled,
        parties_attacked=list(watched),
        accuracy_mean_over_parties=float(np.mean([p["test"]["accuracy"] for p in per_party])),
        auc_per_party={f"party{k}": p["test"]["auc"]
                       for k, p in zip(watched, per_party, strict=True)})
    for b in baselines.TRACE_BASELINES:
        party = {k: records[f"central:{label}/party{k}/baseline:{b}"] for k in watched}
        # Each party's threshold is its own: score minus threshold puts every party's decision
        # at 0, so the pooled accuracy is the average of the parties' accuracies.
        shifted = np.concatenate([b_scores[k]["test"][b] - party[k]["metrics"]["test"]["threshold"]
                                  for k in watched])
        member = np.concatenate([b_scores[k]["test"]["member"] for k in watched])
        pooled = {"test": metrics.evaluate(shifted, member, threshold=0.0, **evaluate)}
        if "targets" in party[watched[0]]["metrics"]:
            pooled["targets"] = party[watched[0]]["metrics"]["targets"]
        first = party[watched[0]]
        records[f"central:{label}/baseline:{b}"] = metrics.record(
            "threshold", first["description"] + ", per party, the parties' test sets pooled",
            pooled, parties_attacked=list(watched),
            auc_per_party={f"party{k}": party[k]["metrics"]["test"]["auc"] for k in watched})
    return records, scores


def main(features_path, splits_path, meta_path, scores_out, metrics_out, *, dataset, run, parties,
         party_sweep, observed_epochs, central_epochs, features_cfg, hp, metrics_cfg, seed):
    feats, fmeta = artifacts.load_npz(features_path), artifacts.load_npz_meta(features_path)
    sets, meta = splits.load(splits_path), artifacts.load_json(meta_path)
    spec_run = federated.run_of(run, parties, party_sweep)
    spec, _ = federated.attack_spec(fmeta["layer_names"], features_cfg)
    common = dict(spec=spec, n_classes=fmeta["n_classes"], hp=hp,
                  evaluate=dict(metrics_cfg, seed=seed))
    records, scores = {}, {}
    if spec_run.observer in ("central", "both"):
        watched = (list(range(spec_run.parties)) if spec_run.observer == "both"
                   else [federated.TARGET_PARTY])
        # Table X's observed epochs, then (passive run) Table XII's other epoch sets, each once.
        epoch_sets = [list(observed_epochs)]
        if run == "passive":
            epoch_sets += [list(e) for e in central_epochs]
        for epochs in list(dict.fromkeys(map(tuple, epoch_sets))):
            r, s = central_attacks(feats, sets, watched, list(epochs), seed=seed, **common)
            records.update(r)
            scores.update(s)
    if spec_run.observer in ("local", "both"):
        label = federated.epochs_label(observed_epochs)
        c = lambda name: sets[federated.local_key(spec_run.parties, name)]  # noqa: E731
        tests = {"test": (c("attack_test_members"), c("attack_test_nonmembers"))}
        if federated.local_key(spec_run.parties, "target_members") in sets:
            tests["targets"] = (c("target_members"), sets["target_nonmembers"])
        # The local attacker (the last party) against the union of the other parties' data.
        sc, records[f"local:{label}"], b_sc, b_recs = view_attack(
            feats, "global", list(observed_epochs), c, sets, tests=tests,
            seed=federated.sub_seed(seed, "local", spec_run.parties, label),
            who="the local attacker", description="Local attacker on the global models", **common)
        scores.update({f"local:{label}/global/{name}": s for name, s in sc.items()})
        scores.update({f"local:{label}/global/baselines/{name}": s for name, s in b_sc.items()})
        records.update({f"local:{label}/baseline:{b}": r for b, r in b_recs.items()})
    artifacts.save_npz(scores_out, {f"{key}/{k}": v for key, s in scores.items()
                                    for k, v in s.items()})
    metrics.save(metrics_out, records, scenario="federated", dataset=dataset, run=run,
                 description=meta["description"], parties=meta["parties"], gamma=meta["gamma"],
                 rounds=meta["rounds"], global_test_acc=meta["global_test_acc"],
                 target_party_test_acc=meta["target_party_test_acc"])


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.features, snakemake.input.splits, snakemake.input.meta,
         snakemake.output.scores, snakemake.output.metrics, dataset=snakemake.wildcards.dataset,
         run=snakemake.wildcards.run, **snakemake.params)
