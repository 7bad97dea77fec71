"""Train the reference models of the calibrated attacks and keep only their per-record statistics
on the attack-test and population records (rule train_references; rule train_dp_references for a
DP-SGD target, ``dp`` given: the models are trained by the DP target's own recipe)."""
import numpy as np
from deepleak import artifacts, audit, references
from deepleak.checkpoint import Checkpoint


def private_recipe(meta: dict, train: dict, dp: dict) -> dict:
    """The DP-SGD recipe of the target whose meta.json is ``meta`` (rule train_dp): its level and
    noise multiplier, with the config's dp section (clipping norm, accountant, ...). Stops where
    the target was trained by another recipe than the one given (an edited config, the target not
    rebuilt), since reference models of another recipe calibrate nothing."""
    privacy = meta.get("privacy")
    if not privacy:
        raise ValueError("the target's meta.json has no privacy record: not a DP-SGD target")
    if meta["train"] != train or privacy["max_grad_norm"] != dp["max_grad_norm"]:
        raise ValueError(f"the DP target was trained by {meta['train']} at clipping norm "
                         f"{privacy['max_grad_norm']}, not by {train} at {dp['max_grad_norm']}; "
                         f"rerun rule train_dp")
    return {"dp": dp, "level": privacy["level"], "noise_multiplier": privacy["noise_multiplier"]}


def main(dataset_path, mask_path, target_meta_path, statistics_out, summary_out, *, model_cfg,
         train, batched, per_batch, batching, device, seeds, dp=None):
    data, drawn = artifacts.load_npz(dataset_path), artifacts.load_npz(mask_path)
    meta = artifacts.load_json(target_meta_path)
    private = private_recipe(meta, train, dp) if dp is not None else None
    records = np.concatenate([drawn["test"], drawn["population"]])
    ckpt = Checkpoint.for_job(statistics_out, params={
        "model_cfg": model_cfg, "train": train, "batched": batched, "per_batch": per_batch,
        "batching": batching, "device": device, "seeds": seeds,
        **({"private": private} if private else {})},
        inputs=[dataset_path, mask_path, target_meta_path])
    stats, summary = references.statistics(
        model_cfg, meta["in_features"], meta["n_classes"], data["X"], data["y"], drawn["mask"],
        drawn["pool"], records, train, seeds, batched=batched, per_batch=per_batch,
        device=device, batching=batching, private=private, checkpoint=ckpt)
    if private is not None:
        # The same sample rate as the target's (as many records, the same batch size), which with
        # the same sigma and steps is the target's privacy: checked, not assumed.
        rates = {p["sample_rate"] for p in summary["privacy"]}
        if rates != {meta["privacy"]["sample_rate"]}:
            raise ValueError(f"the reference models' sample rates {sorted(rates)} differ from the "
                             f"DP target's {meta['privacy']['sample_rate']}")
        # JSON has no infinity: clip-only's epsilon is written as null.
        summary["privacy"] = [{**p, "epsilon": audit.clip_float(p["epsilon"])}
                              for p in summary["privacy"]]
    artifacts.save_npz(statistics_out, {**stats, "records": records},
                       meta={"n_test": int(len(drawn["test"])), "models": len(seeds),
                             **({"noise_multiplier": private["noise_multiplier"],
                                 "level": private["level"]} if private else {})})
    artifacts.save_json(summary_out, {**summary, "seeds": seeds, "train": train})
    ckpt.remove()


if __name__ == "__main__":
    import torch  # noqa: F401 - before setup, which gives torch the job's threads
    from _common import setup

    setup(snakemake)
    main(snakemake.input.dataset, snakemake.input.mask, snakemake.input.target_meta,
         snakemake.output.statistics, snakemake.output.summary, **snakemake.params)
