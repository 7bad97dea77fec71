"""The three membership tasks of the fine-tuning scenario (rule finetune_attacks, Table IX). For
each: the paper's attack model on both snapshots (T = 2), trained on the attacker's known records of
the task's two pools, selected on their validation records and scored on their attack-test records;
the threshold baselines on each snapshot beside it."""
import numpy as np
from deepleak import artifacts, attack, baselines, finetune, metrics, splits, variants


def main(features_path, splits_path, scores_out, metrics_out, *, task, variant, hp, metrics_cfg,
         seed):
    feats, meta = artifacts.load_npz(features_path), artifacts.load_npz_meta(features_path)
    sets = splits.load(splits_path)
    part = {p: [sets[k] for k in finetune.task_sets(task, p)] for p in ("train", "val", "test")}
    evaluate = dict(metrics_cfg, seed=seed)
    scores, record = attack.run_supervised(
        (feats, *part["train"]), (feats, *part["val"]), {"test": (feats, *part["test"])},
        spec=variants.VARIANTS[variant].resolve(meta["layer_names"], meta["gradient_layers"]),
        n_classes=meta["n_classes"], hp=hp, seed=seed, evaluate=evaluate,
        description=variants.VARIANTS[variant].description,
        n_observations=len(meta["snapshots"]), variant=variant)
    out_scores, records = scores["test"], {task: record}
    # Threshold baselines on each snapshot alone, thresholds calibrated on the attacker's known
    # records of the task (train + validation; there is no shadow model in this scenario).
    known = [np.concatenate([a, b]) for a, b in zip(part["train"], part["val"], strict=True)]
    for t, snap in enumerate(meta["snapshots"]):
        one = finetune.snapshot(feats, t)
        b_scores, b_records = baselines.calibrated(
            (one, *part["test"]), (one, *known), evaluate=evaluate, suffix=f"@{snap}",
            calibrated_on="the attacker's known records of the task")
        out_scores.update({f"baseline_{name}": b_scores[name] for name in b_records})
        records.update(b_records)
    positive, negative = finetune.TASKS[task]
    artifacts.save_npz(scores_out, out_scores)
    metrics.save(metrics_out, records, scenario="finetune", task=task, positive=positive,
                 negative=negative, snapshots=meta["snapshots"])


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    params = dict(snakemake.params)
    runs = zip(params.pop("tasks"), params.pop("seeds"), snakemake.output.scores,
               snakemake.output.metrics, strict=True)
    for task, seed, scores_out, metrics_out in runs:
        main(snakemake.input.features, snakemake.input.splits, scores_out, metrics_out, task=task,
             seed=seed, **params)
