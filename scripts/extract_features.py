"""Attack features of the target or shadow model on every record its attacks use
(rule extract_features)."""
import numpy as np
from deepleak import artifacts, features, models, splits

# The records whose features each model's attacks read.
RECORD_SETS = {"target": splits.ATTACK_SETS, "shadow": ("shadow_members", "shadow_nonmembers")}


def main(dataset_path, splits_path, model_path, meta_path, features_out, *, model, gradient_layers,
         conv_gradient="channel_norms", max_output_features=None, batching=None, device="cpu"):
    data, sets = artifacts.load_npz(dataset_path), splits.load(splits_path)
    meta = artifacts.load_json(meta_path)
    net = models.build_model(meta["model_cfg"], meta["in_features"], meta["n_classes"])
    artifacts.load_state_dict(net, model_path)
    records = np.unique(np.concatenate([sets[name] for name in RECORD_SETS[model]]))
    report = {}
    feats = features.extract(net, data["X"][records], data["y"][records],
                             gradient_layers=gradient_layers, conv_gradient=conv_gradient,
                             max_output_features=max_output_features, device=device, report=report,
                             **(batching or {}))
    feats["records"] = records
    artifacts.save_npz(features_out, feats, meta={"layer_names": list(net.layer_names),
                                           "gradient_layers": gradient_layers,
                                           "n_classes": meta["n_classes"], **report})


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.dataset, snakemake.input.splits, snakemake.input.model,
         snakemake.input.meta, snakemake.output.features, model=snakemake.wildcards.model,
         **snakemake.params)
