"""The three membership tasks of the fine-tuning scenario (rule finetune_attacks, Table IX). For
each: the paper's attack model on both snapshots (T = 2), trained on the attacker's known records of
the task's two pools, selected on their validation records and scored on their attack-test records;
the threshold baselines on each snapshot beside it."""
import logging

import numpy as np
from deepleak import artifacts, attack, baselines, features, finetune, metrics, paper, splits

log = logging.getLogger("run_finetune_attack")


def main(features_path, splits_path, scores_out, metrics_out, *, task, variant, hp, metrics_cfg,
         seed):
    feats, meta = artifacts.load_npz(features_path), artifacts.load_npz_meta(features_path)
    sets = splits.load(splits_path)
    spec = paper.VARIANTS[variant].resolve(meta["layer_names"], meta["gradient_layers"])
    T = len(meta["snapshots"])
    tr, tr_label, _ = features.labelled(feats, *(sets[k] for k in finetune.task_sets(task, "train")))
    va, va_label, _ = features.labelled(feats, *(sets[k] for k in finetune.task_sets(task, "val")))
    te, te_label, te_ids = features.labelled(feats, *(sets[k] for k in finetune.task_sets(task, "test")))
    model, std, history = attack.fit_supervised(
        attack.gather_inputs(tr, spec), tr_label, attack.gather_inputs(va, spec), va_label, spec,
        meta["n_classes"], hp, seed, n_observations=T)
    scores = attack.predict(model, std(attack.gather_inputs(te, spec)))
    evaluate = dict(n_bootstrap=metrics_cfg["n_bootstrap"], confidence=metrics_cfg["confidence"],
                    seed=seed)
    result = metrics.evaluate(scores, te_label, **evaluate)
    log.info("%s: %s", task, result)
    # Threshold baselines on each snapshot alone, thresholds calibrated on the attacker's known
    # records of the task (train + validation; there is no shadow model in this scenario).
    known = {k: np.concatenate([tr[k], va[k]]) for k in tr}
    known_label = np.r_[tr_label, va_label]
    out_scores = {"records": te_ids, "member": te_label, "score": scores}
    baseline_results = {}
    for t, snap in enumerate(meta["snapshots"]):
        test_t, known_t = finetune.snapshot(te, t), finetune.snapshot(known, t)
        for name in baselines.BASELINES:
            s = baselines.scores(name, test_t)
            thr = 0.5 if name == "correctness" else metrics.best_threshold(
                baselines.scores(name, known_t), known_label)
            baseline_results[f"{name}@{snap}"] = metrics.evaluate(s, te_label, threshold=thr,
                                                                  **evaluate)
            out_scores[f"baseline_{name}@{snap}"] = s
    positive, negative = finetune.TASKS[task]
    artifacts.save_npz(scores_out, out_scores)
    artifacts.save_json(metrics_out, {
        "task": task, "positive": positive, "negative": negative, "attack": variant,
        "description": paper.VARIANTS[variant].description, "n_observations": T,
        "snapshots": meta["snapshots"],
        "features": {"outputs": spec.outputs, "gradients": spec.gradients, "loss": spec.loss,
                     "label": spec.label},
        "n_train": {"members": int(tr_label.sum()), "nonmembers": int((1 - tr_label).sum())},
        "n_validation": {"members": int(va_label.sum()), "nonmembers": int((1 - va_label).sum())},
        "selected_epoch": model.selected_epoch, "hparams": hp, "history": history,
        "baselines": baseline_results, **result})


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    params = dict(snakemake.params)
    runs = zip(params.pop("tasks"), params.pop("seeds"), snakemake.output.scores,
               snakemake.output.metrics, strict=True)
    for task, seed, scores_out, metrics_out in runs:
        main(snakemake.input.features, snakemake.input.splits, scores_out, metrics_out, task=task,
             seed=seed, **params)
