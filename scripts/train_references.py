"""Train the reference models of the calibrated attacks and keep only their per-record statistics
on the attack-test and population records (rule train_references)."""
import numpy as np
from deepleak import artifacts, references
from deepleak.checkpoint import Checkpoint


def main(dataset_path, mask_path, target_meta_path, statistics_out, summary_out, *, model_cfg,
         train, batched, per_batch, batching, device, seeds):
    data, drawn = artifacts.load_npz(dataset_path), artifacts.load_npz(mask_path)
    meta = artifacts.load_json(target_meta_path)
    records = np.concatenate([drawn["test"], drawn["population"]])
    ckpt = Checkpoint.for_job(statistics_out, params={
        "model_cfg": model_cfg, "train": train, "batched": batched, "per_batch": per_batch,
        "batching": batching, "device": device, "seeds": seeds},
        inputs=[dataset_path, mask_path, target_meta_path])
    stats, summary = references.statistics(
        model_cfg, meta["in_features"], meta["n_classes"], data["X"], data["y"], drawn["mask"],
        drawn["pool"], records, train, seeds, batched=batched, per_batch=per_batch,
        device=device, batching=batching, checkpoint=ckpt)
    artifacts.save_npz(statistics_out, {**stats, "records": records},
                       meta={"n_test": int(len(drawn["test"])), "models": len(seeds)})
    artifacts.save_json(summary_out, {**summary, "seeds": seeds, "train": train})
    ckpt.remove()


if __name__ == "__main__":
    import torch  # noqa: F401 - before setup, which gives torch the job's threads
    from _common import setup

    setup(snakemake)
    main(snakemake.input.dataset, snakemake.input.mask, snakemake.input.target_meta,
         snakemake.output.statistics, snakemake.output.summary, **snakemake.params)
