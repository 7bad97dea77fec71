"""Simulate one federated run (FedAvg with or without an active attack) and record what its
attackers observe: the attack features of their records at the observed epochs (rule
federated_simulate)."""
import logging

from deepleak import artifacts, federated, models, splits
from deepleak.checkpoint import Checkpoint

log = logging.getLogger("simulate_federated")


def main(dataset_path, splits_path, features_out, model_out, meta_out, history_out, *, run,
         model_cfg, fed, parties, party_sweep, gamma, features_cfg, central_epochs, track_records,
         batched, seed):
    data, sets = artifacts.load_npz(dataset_path), splits.load(splits_path)
    X, y = data["X"], data["y"]
    n_classes = int(y.max()) + 1
    spec_run = federated.run_of(run, parties, party_sweep)
    rounds = fed["rounds"]
    observed = federated.check_epochs(fed["observed_epochs"], rounds,
                                      "federated.per_dataset.<dataset>.observed_epochs")
    extra = sorted({e for epochs in central_epochs for e in epochs}) if run == "passive" else []

    in_features = int(X.shape[1]) if X.ndim == 2 else [int(d) for d in X.shape[1:]]

    def make_net():
        return models.build_model(model_cfg, in_features, n_classes)

    layer_names = list(make_net().layer_names)
    spec, gradient_layers = federated.attack_spec(layer_names, features_cfg)
    views = federated.observer_views(spec_run, sets, observed, extra)
    observations = federated.Observations(X, y, views, spec, gradient_layers)
    ckpt = Checkpoint.for_job(features_out, params={
        "run": run, "model_cfg": model_cfg, "fed": fed, "parties": parties,
        "party_sweep": party_sweep, "gamma": gamma, "features_cfg": features_cfg,
        "central_epochs": central_epochs, "track_records": track_records, "seed": seed},
        inputs=[dataset_path, splits_path])
    global_state, history = federated.simulate(
        make_net, X, y, [sets[f"party{k}"] for k in range(spec_run.parties)], run=spec_run,
        train=fed["train"], rounds=rounds, gamma=gamma,
        target_ids=federated.target_records(sets, spec_run), test_ids=sets["test"],
        observations=observations, track=federated.figure7_groups(sets, spec_run, track_records),
        seed=seed, batched=batched, checkpoint=ckpt)
    final = history.iloc[-1]
    meta = {
        "run": run, "description": spec_run.description, "parties": spec_run.parties,
        "ascent": spec_run.ascent, "isolating": spec_run.isolating, "observer": spec_run.observer,
        "target_party": federated.TARGET_PARTY, "local_attacker": spec_run.local_attacker,
        "gamma": gamma if spec_run.ascent else None, "rounds": rounds, "train": fed["train"],
        "model_cfg": model_cfg, "in_features": in_features, "n_classes": n_classes,
        "layer_names": layer_names, "gradient_layers": gradient_layers,
        "views": {v: {"n_records": int(len(r)), "epochs": e} for v, (r, e) in views.items()},
        "party_train": int(len(sets["party0"])), "n_test": int(len(sets["test"])), "seed": seed,
        "global_test_acc": float(final["global_test_acc"]),
        "target_party_test_acc": float(final["target_party_test_acc"]),
    }
    artifacts.save_npz(features_out, observations.arrays(), meta={
        "layer_names": layer_names, "gradient_layers": gradient_layers, "n_classes": n_classes,
        "run": run, "views": meta["views"]})
    history.to_csv(history_out, index=False, float_format="%.6g")
    net = make_net()
    net.load_state_dict(global_state)
    artifacts.save_model(net, model_out, meta_out, meta)
    ckpt.remove()


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.dataset, snakemake.input.splits, snakemake.output.features,
         snakemake.output.model, snakemake.output.meta, snakemake.output.history,
         run=snakemake.wildcards.run, **snakemake.params)
