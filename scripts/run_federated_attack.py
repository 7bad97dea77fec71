"""The multi-observation attacks of one federated run (rule federated_attack): the central
attacker against each watched party, the local attacker against the other parties, at Table X's
observed epochs and, for the passive run, at Table XII's epoch sets."""
import logging

import numpy as np
from deepleak import artifacts, federated, metrics, splits

log = logging.getLogger("run_federated_attack")


def central_attacks(feats, sets, watched, epochs, *, spec, n_classes, hp, metrics_cfg, seed):
    """Attack each watched party on its own uploads; pool the parties' equal-size test sets (so
    the accuracy is the average over parties, as the paper reports it); score party 0's targets."""
    per_party, pooled, scores = {}, {"score": [], "member": []}, {}
    targets = None
    for k in watched:
        view = federated.select_epochs(federated.view_data(feats, f"party{k}"), epochs)
        c = lambda name, k=k: sets[federated.central_key(k, name)]  # noqa: E731
        tests = {"test": (c("attack_test_members"), c("attack_test_nonmembers"))}
        if k == federated.TARGET_PARTY:
            tests["targets"] = (c("target_members"), sets["target_nonmembers"])
        out, info = federated.attack_view(
            view, train=(c("attack_train_members"), sets["attack_train_nonmembers"]),
            val=(c("attack_val_members"), sets["attack_val_nonmembers"]), tests=tests, spec=spec,
            n_classes=n_classes, hp=hp,
            seed=federated.sub_seed(seed, "central", k, federated.epochs_label(epochs)))
        s, m, ids = out["test"]
        pooled["score"].append(s)
        pooled["member"].append(m)
        per_party[str(k)] = {**info, "test": metrics.evaluate(s, m, n_bootstrap=0)}
        for name, (s_, m_, ids_) in out.items():
            scores[f"party{k}/{name}"] = (s_, m_, ids_)
        if "targets" in out:
            targets = out["targets"]
    entry = {"observer": "central", "epochs": list(epochs), "parties_attacked": list(watched),
             "per_party": per_party,
             "accuracy_mean_over_parties": float(np.mean([p["test"]["accuracy"]
                                                          for p in per_party.values()])),
             "test": metrics.evaluate(np.concatenate(pooled["score"]),
                                      np.concatenate(pooled["member"]), seed=seed, **metrics_cfg)}
    if targets is not None:
        entry["targets"] = metrics.evaluate(targets[0], targets[1], seed=seed, **metrics_cfg)
    return entry, scores


def local_attack(feats, sets, parties, epochs, *, spec, n_classes, hp, metrics_cfg, seed):
    """The local attacker (the last party) against the union of the other parties' data."""
    view = federated.select_epochs(federated.view_data(feats, "global"), epochs)
    c = lambda name: sets[federated.local_key(parties, name)]  # noqa: E731
    tests = {"test": (c("attack_test_members"), c("attack_test_nonmembers"))}
    if federated.local_key(parties, "target_members") in sets:
        tests["targets"] = (c("target_members"), sets["target_nonmembers"])
    out, info = federated.attack_view(
        view, train=(c("attack_train_members"), sets["attack_train_nonmembers"]),
        val=(c("attack_val_members"), sets["attack_val_nonmembers"]), tests=tests, spec=spec,
        n_classes=n_classes, hp=hp,
        seed=federated.sub_seed(seed, "local", parties, federated.epochs_label(epochs)))
    entry = {"observer": "local", "epochs": list(epochs), "parties": parties, **info}
    for name, (s, m, _) in out.items():
        entry[name] = metrics.evaluate(s, m, seed=seed, **metrics_cfg)
    return entry, {f"global/{name}": v for name, v in out.items()}


def main(features_path, splits_path, meta_path, scores_out, metrics_out, *, dataset, run, parties,
         party_sweep, observed_epochs, central_epochs, features_cfg, hp, metrics_cfg, seed):
    feats, fmeta = artifacts.load_npz(features_path), artifacts.load_npz_meta(features_path)
    sets, meta = splits.load(splits_path), artifacts.load_json(meta_path)
    spec_run = federated.run_of(run, parties, party_sweep)
    spec, _ = federated.attack_spec(fmeta["layer_names"], features_cfg)
    common = dict(spec=spec, n_classes=fmeta["n_classes"], hp=hp, metrics_cfg=metrics_cfg,
                  seed=seed)
    attacks, scores = {}, {}
    if spec_run.observer in ("central", "both"):
        watched = (list(range(spec_run.parties)) if spec_run.observer == "both"
                   else [federated.TARGET_PARTY])
        # Table X's observed epochs, then (passive run) Table XII's other epoch sets, each once.
        epoch_sets = [list(observed_epochs)]
        if run == "passive":
            epoch_sets += [list(e) for e in central_epochs]
        for epochs in list(dict.fromkeys(map(tuple, epoch_sets))):
            entry, sc = central_attacks(feats, sets, watched, list(epochs), **common)
            name = f"central:{federated.epochs_label(epochs)}"
            attacks[name] = entry
            scores.update({f"{name}/{k}": v for k, v in sc.items()})
            log.info("%s: test accuracy %.4f", name, entry["test"]["accuracy"])
    if spec_run.observer in ("local", "both"):
        entry, sc = local_attack(feats, sets, spec_run.parties, list(observed_epochs), **common)
        name = f"local:{federated.epochs_label(observed_epochs)}"
        attacks[name] = entry
        scores.update({f"{name}/{k}": v for k, v in sc.items()})
        log.info("%s: test accuracy %.4f", name, entry["test"]["accuracy"])
    flat = {}
    for key, (s, m, ids) in scores.items():
        flat[f"{key}/score"], flat[f"{key}/member"], flat[f"{key}/records"] = s, m, ids
    artifacts.save_npz(scores_out, flat)
    artifacts.save_json(metrics_out, {
        "dataset": dataset, "run": run, "description": meta["description"],
        "parties": meta["parties"],
        "gamma": meta["gamma"], "rounds": meta["rounds"],
        "global_test_acc": meta["global_test_acc"],
        "target_party_test_acc": meta["target_party_test_acc"],
        "features": {"outputs": spec.outputs, "gradients": spec.gradients, "loss": spec.loss,
                     "label": spec.label},
        "hparams": hp, "attacks": attacks})


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.features, snakemake.input.splits, snakemake.input.meta,
         snakemake.output.scores, snakemake.output.metrics, dataset=snakemake.wildcards.dataset,
         run=snakemake.wildcards.run,
         **snakemake.params)
