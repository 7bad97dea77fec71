"""Threshold baselines (loss, confidence, entropy, modified entropy, correctness) on the same attack
test set as the neural attacks, thresholds calibrated on the shadow model (rule baselines)."""
from deepleak import artifacts, baselines, metrics, splits


def main(target_path, shadow_path, splits_path, scores_out, metrics_out, *, metrics_cfg, seed):
    target, shadow = artifacts.load_npz(target_path), artifacts.load_npz(shadow_path)
    sets = splits.load(splits_path)
    scores, records = baselines.calibrated(
        (target, sets["attack_test_members"], sets["attack_test_nonmembers"]),
        (shadow, sets["shadow_members"], sets["shadow_nonmembers"]),
        evaluate=dict(metrics_cfg, seed=seed), calibrated_on="the shadow model")
    artifacts.save_npz(scores_out, scores)
    metrics.save(metrics_out, records, scenario="standalone")


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.target, snakemake.input.shadow, snakemake.input.splits,
         snakemake.output.scores, snakemake.output.metrics, **snakemake.params)
