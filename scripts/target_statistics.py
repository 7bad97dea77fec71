"""The target model's per-record statistics on the records the reference models were summarised on
(rule target_statistics): the calibrated attacks compare the two."""
import numpy as np
from deepleak import artifacts, calibration, models


def main(dataset_path, mask_path, model_path, meta_path, statistics_out, *, batching, device):
    data, drawn = artifacts.load_npz(dataset_path), artifacts.load_npz(mask_path)
    meta = artifacts.load_json(meta_path)
    net = models.build_model(meta["model_cfg"], meta["in_features"], meta["n_classes"])
    artifacts.load_state_dict(net, model_path)
    records = np.concatenate([drawn["test"], drawn["population"]])
    opts = {k: v for k, v in (batching or {}).items() if k in ("batch_size", "chunk_size")}
    stats = calibration.model_statistics(net, data["X"][records], data["y"][records],
                                         device=device, **opts)
    artifacts.save_npz(statistics_out, {**stats, "records": records},
                       meta={"layer_names": list(net.layer_names),
                             "n_test": int(len(drawn["test"]))})


if __name__ == "__main__":
    import torch  # noqa: F401 - before setup, which gives torch the job's threads
    from _common import setup

    setup(snakemake)
    main(snakemake.input.dataset, snakemake.input.mask, snakemake.input.model,
         snakemake.input.meta, snakemake.output.statistics, **snakemake.params)
