"""LiRA's reference models in an audit (rule audit_references): the pool (the attack-test records,
then the attacker's known records, then records outside the membership) and the balanced IN/OUT
mask (deepleak/calibration.py reference_mask), then each reference model built by the user's
audit.model.function and trained by their audit.model.train_function on its half of the pool
(deepleak/audit_model.py train_model), read through the same hooks as the audited model and
summarised by its per-record statistics (deepleak/references.py trained_statistics); the models
are not kept. The files have the stand-alone calibrated attacks' formats, so that their scoring
script, scripts/run_calibrated_attacks.py, reads them as they are."""
import numpy as np
from deepleak import artifacts, audit_model, calibration, references, splits


def main(splits_path, checked_path, mask_out, statistics_out, summary_out, *, audit, device,
         seed, seeds):
    checked = artifacts.load_json(checked_path)
    sets = splits.load(splits_path)
    cfg = audit["references"]
    X, y, _ = audit_model.load_data(audit["data"])
    train_size = cfg["train_size"] or len(sets["members"])
    drawn = audit_model.reference_pool(sets, len(y), train_size, cfg["population"], seed)
    mask = calibration.reference_mask(len(drawn["pool"]), cfg["models"], seed + 1)
    member = np.isin(drawn["test"], sets["attack_test_members"])
    artifacts.save_npz(mask_out, {**drawn, "mask": mask, "test_member": member},
                       meta={"references": cfg["models"], "train_size": train_size,
                             "population": int(len(drawn["population"])), "seed": seed})
    model_cfg = audit["model"]
    train_fn = audit_model.load_function(model_cfg["file"], model_cfg["train_function"])

    def train_model(X_k, y_k, seed_k):
        net = audit_model.train_model(model_cfg, X_k, y_k, seed_k, train_fn=train_fn)
        return audit_model.hooked(net, checked["modules"])

    records = np.concatenate([drawn["test"], drawn["population"]])
    stats, summary = references.trained_statistics(
        train_model, X, y, mask, drawn["pool"], records, seeds, device=device,
        feature_opts={"batch_size": audit["batch_size"], "chunk_size": audit["chunk_size"],
                      "max_output_features": audit["max_output_features"]})
    artifacts.save_npz(statistics_out, {**stats, "records": records},
                       meta={"n_test": int(len(drawn["test"])), "models": len(seeds)})
    artifacts.save_json(summary_out, {**summary, "seeds": seeds, "train_size": train_size,
                                      "pool": int(len(drawn["pool"])),
                                      "train_function": model_cfg["train_function"],
                                      "train_kwargs": model_cfg.get("train_kwargs", {})})


if __name__ == "__main__":
    import torch  # noqa: F401 - before setup, which gives torch the job's threads
    from _common import setup

    setup(snakemake)
    main(snakemake.input.splits, snakemake.input.checked, snakemake.output.mask,
         snakemake.output.statistics, snakemake.output.summary, **snakemake.params)
