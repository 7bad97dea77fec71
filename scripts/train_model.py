"""Train the target or the shadow model of the stand-alone scenario (rule train_model)."""

from deepleak import artifacts, models, splits, training

# Which split each model trains on and is tested on (deepleak/splits.py names the sets).
TRAIN_SETS = {"target": ("members", "target_test"), "shadow": ("shadow_members", "shadow_nonmembers")}

def main(dataset_path, splits_path, model_out, meta_out, history_out, *, model, model_cfg, train,
         track_records, device, seed):
    data, sets = artifacts.load_npz(dataset_path), splits.load(splits_path)
    X, y = data["X"], data["y"]
    n_classes = int(y.max()) + 1
    train_ids, test_ids = (sets[k] for k in TRAIN_SETS[model])
    # Figure 3 follows a fixed sample of members and non-members through training.
    track = [ids[:track_records] for ids in (train_ids, test_ids)]
    net = models.build_model(model_cfg, X.shape[1], n_classes)
    net, history = training.fit(
        net, X[train_ids], y[train_ids], X[test_ids], y[test_ids], train=train, seed=seed,
        device=device, track_members=(X[track[0]], y[track[0]]),
        track_nonmembers=(X[track[1]], y[track[1]]))
    final = history.iloc[-1]
    meta = {"model": model, "model_cfg": model_cfg, "train": train, "seed": seed,
            "in_features": int(X.shape[1]), "n_classes": n_classes,
            "n_train": int(len(train_ids)), "n_test": int(len(test_ids)),
            "train_acc": float(final["train_acc"]), "test_acc": float(final["test_acc"]),
            "epochs_trained": int(final["epoch"])}
    artifacts.save_model(net, model_out, meta_out, meta)
    history.to_csv(history_out, index=False, float_format="%.6g")

if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.dataset, snakemake.input.splits, snakemake.output.model,
         snakemake.output.meta, snakemake.output.history, model=snakemake.wildcards.model,
         **snakemake.params)
