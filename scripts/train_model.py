"""Train the target or the shadow model of the stand-alone scenario (rule train_model)."""

import numpy as np
from deepleak import artifacts, cnn, models, splits, training
from deepleak.checkpoint import Checkpoint

# Which split each model trains on and is tested on (deepleak/splits.py names the sets).
TRAIN_SETS = {"target": ("members", "target_test"),
              "shadow": ("shadow_members", "shadow_nonmembers")}


def check_pretrained_members(data, member_ids):
    """A pretrained model's members are all of its training images: the splits must say so."""
    official = data.get("official_train")
    if official is None or not np.array_equal(np.sort(member_ids), np.flatnonzero(official)):
        n = "all" if official is None else int(official.sum())
        raise ValueError(
            "model.checkpoint is set, so the target was trained on every official training "
            f"image, but the splits' members are {len(member_ids)} records that are not exactly "
            f"those ({n}). Set datasets.<dataset>.standalone.sizes.target_train to {n} and remove "
            "`subset` for this dataset, or remove model.checkpoint to train the target on the "
            "configured members.")


def main(dataset_path, splits_path, model_out, meta_out, history_out, *, model, model_cfg, train,
         track_records, evaluate_every, device, seed):
    data, sets = artifacts.load_npz(dataset_path), splits.load(splits_path)
    X, y = data["X"], data["y"]
    n_classes = int(y.max()) + 1
    train_ids, test_ids = (sets[k] for k in TRAIN_SETS[model])
    # Figure 3 follows a fixed sample of members and non-members through training.
    track = [ids[:track_records] for ids in (train_ids, test_ids)]
    # Records are vectors (FC nets) or images [C, H, W] (deepleak/cnn.py).
    in_features = int(X.shape[1]) if X.ndim == 2 else [int(d) for d in X.shape[1:]]
    net = models.build_model(model_cfg, in_features, n_classes, seed=seed)
    tracked = {"track_members": (X[track[0]], y[track[0]]),
               "track_nonmembers": (X[track[1]], y[track[1]])}
    pretrained = model == "target" and model_cfg["checkpoint"]
    if pretrained:
        # The paper attacked bearpaw's public CIFAR-100 models (§III-C): load, do not train.
        check_pretrained_members(data, train_ids)
        info = cnn.load_bearpaw_checkpoint(net, model_cfg["checkpoint"]["path"],
                                           model_cfg["checkpoint"]["sha256"])
        net, history = training.evaluate_pretrained(net, X[train_ids], y[train_ids], X[test_ids],
                                                    y[test_ids], device=device, **tracked)
    else:
        # Saved every epoch beside model.pt and resumed by a rerun after a kill (README, "When a
        # run is interrupted"); removed once the outputs are written.
        ckpt = Checkpoint.for_job(model_out, params={
            "model": model, "model_cfg": model_cfg, "train": train, "track_records": track_records,
            "evaluate_every": evaluate_every,
            "device": device, "seed": seed}, inputs=[dataset_path, splits_path])
        net, history = training.fit(
            net, X[train_ids], y[train_ids], X[test_ids], y[test_ids], train=train, seed=seed,
            evaluate_every=evaluate_every, device=device, checkpoint=ckpt, **tracked)
    final = history.iloc[-1]
    meta = {"model": model, "model_cfg": model_cfg, "train": train, "seed": seed,
            "pretrained": {"checkpoint": model_cfg["checkpoint"], **info} if pretrained else None,
            "in_features": in_features, "n_classes": n_classes,
            "n_train": int(len(train_ids)), "n_test": int(len(test_ids)),
            "train_acc": float(final["train_acc"]), "test_acc": float(final["test_acc"]),
            "epochs_trained": int(final["epoch"])}
    artifacts.save_model(net, model_out, meta_out, meta)
    history.to_csv(history_out, index=False, float_format="%.6g")
    if not pretrained:
        ckpt.remove()

if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.dataset, snakemake.input.splits, snakemake.output.model,
         snakemake.output.meta, snakemake.output.history, model=snakemake.wildcards.model,
         **snakemake.params)
