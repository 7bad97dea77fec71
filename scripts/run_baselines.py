"""Threshold baselines (loss, confidence, entropy, modified entropy, correctness) on the same attack test
set as the neural attacks, thresholds calibrated on the shadow model (rule baselines)."""
import numpy as np

from deepleak import baselines, features, artifacts, metrics, splits


def main(target_path, shadow_path, splits_path, scores_out, metrics_out, *, metrics_cfg, seed):
    target, shadow, sets = artifacts.load_npz(target_path), artifacts.load_npz(shadow_path), splits.load(splits_path)
    test_ids = np.concatenate([sets["attack_test_members"], sets["attack_test_nonmembers"]])
    member = np.r_[np.ones(len(sets["attack_test_members"])),
                   np.zeros(len(sets["attack_test_nonmembers"]))].astype(np.int64)
    test = features.take(target, features.rows_of(target["records"], test_ids))
    cal_ids = np.concatenate([sets["shadow_members"], sets["shadow_nonmembers"]])
    cal_member = np.isin(cal_ids, sets["shadow_members"])
    calib = features.take(shadow, features.rows_of(shadow["records"], cal_ids))
    out, scores = {}, {"records": test_ids, "member": member}
    for name in baselines.BASELINES:
        s = baselines.scores(name, test)
        # Correctness is its own decision (a correct prediction says "member").
        thr = 0.5 if name == "correctness" else metrics.best_threshold(
            baselines.scores(name, calib), cal_member)
        out[name] = metrics.evaluate(s, member, threshold=thr, n_bootstrap=metrics_cfg["n_bootstrap"],
                                     confidence=metrics_cfg["confidence"], seed=seed)
        scores[name] = s
    artifacts.save_npz(scores_out, scores)
    artifacts.save_json(metrics_out, {"calibration": "shadow model", "baselines": out})


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.target, snakemake.input.shadow, snakemake.input.splits,
         snakemake.output.scores, snakemake.output.metrics, **snakemake.params)
