"""Train a DP-SGD target at one privacy level with Opacus (rule train_dp; deepleak/dp.py)."""
from deepleak import artifacts, audit, dp, models, splits
from deepleak.checkpoint import Checkpoint


def main(dataset_path, splits_path, model_out, meta_out, history_out, *, level, model_cfg, train,
         dp_cfg, device, init_seed, seed):
    data, sets = artifacts.load_npz(dataset_path), splits.load(splits_path)
    X, y = data["X"], data["y"]
    n_classes = int(y.max()) + 1
    train_ids, test_ids = sets["members"], sets["target_test"]  # the stand-alone target's
    in_features = int(X.shape[1]) if X.ndim == 2 else [int(d) for d in X.shape[1:]]
    net = models.build_model(model_cfg, in_features, n_classes, seed=init_seed)
    # Saved every epoch beside model.pt and resumed by a rerun after a kill (README, "When a run
    # is interrupted"); removed once the outputs are written.
    ckpt = Checkpoint.for_job(model_out, params={
        "level": level, "model_cfg": model_cfg, "train": train, "dp": dp_cfg, "device": device,
        "init_seed": init_seed, "seed": seed}, inputs=[dataset_path, splits_path])
    net, history, privacy = dp.fit_private(net, X[train_ids], y[train_ids], X[test_ids],
                                           y[test_ids], train=train, dp=dp_cfg, level=level,
                                           seed=seed, device=device, checkpoint=ckpt)
    final = history.iloc[-1]
    meta = {"model": "target", "model_cfg": model_cfg, "train": train, "seed": seed,
            "init_seed": init_seed, "pretrained": None, "in_features": in_features,
            "n_classes": n_classes, "n_train": int(len(train_ids)), "n_test": int(len(test_ids)),
            "train_acc": float(final["train_acc"]), "test_acc": float(final["test_acc"]),
            "epochs_trained": int(final["epoch"]),
            # JSON has no infinity: clip-only's epsilon is written as null.
            "privacy": {**privacy, "epsilon": audit.clip_float(privacy["epsilon"])}}
    # The unwrapped model (dp.unwrap): keys without Opacus's "_module." prefix.
    artifacts.save_model(net, model_out, meta_out, meta)
    history.to_csv(history_out, index=False, float_format="%.6g")
    ckpt.remove()


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    params = dict(snakemake.params)
    main(snakemake.input.dataset, snakemake.input.splits, snakemake.output.model,
         snakemake.output.meta, snakemake.output.history, level=snakemake.wildcards.level,
         dp_cfg=params.pop("dp"), **params)
