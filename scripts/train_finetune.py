"""Train a model on D, save it (the first snapshot), fine-tune it on D_delta and save it again (the
second snapshot): rule train_finetune, Table IX."""
import logging

import numpy as np
import torch
from deepleak import artifacts, models, splits, training
from deepleak.checkpoint import Checkpoint

log = logging.getLogger("train_finetune")


def _accuracy(net, X, y):
    return training.evaluate(net, torch.as_tensor(X, dtype=torch.float32),
                             torch.as_tensor(y, dtype=torch.long))[1]


def main(dataset_path, splits_path, trained_out, finetuned_out, *, model_cfg, train, finetune_train,
         evaluate_every, device, seed, finetune_seed):
    """``trained_out`` / ``finetuned_out``: (model.pt, meta.json, history.csv) of each snapshot."""
    data, sets = artifacts.load_npz(dataset_path), splits.load(splits_path)
    X, y = data["X"], data["y"]
    n_classes = int(y.max()) + 1
    in_features = int(X.shape[1]) if X.ndim == 2 else list(X.shape[1:])
    d, d_delta, nonmembers = sets["d"], sets["d_delta"], sets["nonmembers"]
    net = models.build_model(model_cfg, in_features, n_classes, seed=seed)
    phases = [("trained", d, train, seed, trained_out), ("finetuned", d_delta, finetune_train,
                                                         finetune_seed, finetuned_out)]
    # One checkpoint per phase, both kept until the job ends: a rerun after a kill in the
    # fine-tuning phase finds the first phase done (its last epoch saved) and goes on from there.
    ckpt = Checkpoint.for_job(trained_out[0], params={
        "model_cfg": model_cfg, "train": train, "finetune_train": finetune_train,
        "evaluate_every": evaluate_every, "device": device, "seed": seed,
        "finetune_seed": finetune_seed},
        inputs=[dataset_path, splits_path])
    for name, ids, cfg, phase_seed, (model_out, meta_out, history_out) in phases:
        # The fine-tuning phase continues from the trained weights with a fresh optimiser.
        net, history = training.fit(net, X[ids], y[ids], X[nonmembers], y[nonmembers], train=cfg,
                                    seed=phase_seed, evaluate_every=evaluate_every, device=device,
                                    checkpoint=ckpt.child(name))
        both = np.concatenate([d, d_delta])
        meta = {"snapshot": name, "model_cfg": model_cfg, "train": cfg, "seed": phase_seed,
                "in_features": in_features, "n_classes": n_classes, "n_train": int(len(ids)),
                "n_test": int(len(nonmembers)),
                # Table IX reports the fine-tuned model's accuracy on all its training data, D and
                # D_delta, and on the non-members (its test set).
                "train_acc": _accuracy(net, X[both], y[both]) if name == "finetuned"
                else float(history.iloc[-1]["train_acc"]),
                "test_acc": float(history.iloc[-1]["test_acc"]),
                "acc_d": _accuracy(net, X[d], y[d]), "acc_d_delta": _accuracy(net, X[d_delta],
                                                                             y[d_delta]),
                "epochs_trained": int(history.iloc[-1]["epoch"])}
        log.info("%s snapshot: %s", name, {k: v for k, v in meta.items() if "acc" in k})
        artifacts.save_model(net, model_out, meta_out, meta)
        history.to_csv(history_out, index=False, float_format="%.6g")
    ckpt.remove()


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    out = snakemake.output
    main(snakemake.input.dataset, snakemake.input.splits,
         (out.trained_model, out.trained_meta, out.trained_history),
         (out.finetuned_model, out.finetuned_meta, out.finetuned_history), **snakemake.params)
