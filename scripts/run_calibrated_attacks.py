"""LiRA (online, offline), RMIA (offline) and white-box LiRA on the attack-test records, from the
target's and the reference models' statistics (rule calibrated_attacks; deepleak/calibration.py).
The audit's LiRA (rule audit_lira) runs this script too, on the audited model's statistics and
those of reference models trained by the user's own function (``scenario``: "audit")."""
import numpy as np
from deepleak import artifacts, calibration, metrics


def main(mask_path, target_path, references_path, summary_path, scores_out, metrics_out, *,
         global_variance, a, gamma, metrics_cfg, seed, scenario="standalone"):
    drawn = artifacts.load_npz(mask_path)
    target, refs = artifacts.load_npz(target_path), artifacts.load_npz(references_path)
    layers = artifacts.load_npz_meta(target_path)["layer_names"]
    summary = artifacts.load_json(summary_path)
    if not (np.array_equal(target["records"], refs["records"])):
        raise ValueError(f"{target_path} and {references_path} hold different records; rerun "
                         f"the rules target_statistics and train_references")
    target, refs = ({k: v for k, v in s.items() if k != "records"} for s in (target, refs))
    n_test = len(drawn["test"])
    test_in_pool = np.searchsorted(drawn["pool"], drawn["test"])
    mask = drawn["mask"][:, test_in_pool]
    pooled = calibration.use_global_variance(global_variance, len(mask))
    scores, used = calibration.run_attacks(
        target, refs, mask, layers, test_rows=np.arange(n_test),
        population_rows=n_test + np.arange(len(drawn["population"])), global_variance=pooled,
        a=a, gamma=gamma)
    member = drawn["test_member"].astype(np.int64)
    # Members first, as every other attack's scores.npz (deepleak.features.labelled).
    order = np.argsort(-member, kind="stable")
    out = {"records": drawn["test"][order], "member": member[order]}
    records = {}
    for name, s in scores.items():
        out[name] = s[order]
        records[name] = metrics.record(
            "calibrated", calibration.describe(name),
            {"test": metrics.evaluate(s, member, threshold=calibration.threshold(name),
                                      **metrics_cfg, seed=seed)},
            references={"models": len(mask), "batched": summary["batched"],
                        "mean_out_accuracy": float(np.mean(summary["out_accuracy"])),
                        **used[name]})
    artifacts.save_npz(scores_out, out)
    metrics.save(metrics_out, records, scenario=scenario)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.mask, snakemake.input.target, snakemake.input.references,
         snakemake.input.summary, snakemake.output.scores, snakemake.output.metrics,
         **snakemake.params)
