"""Attack features of both snapshots (trained, fine-tuned) on every record the fine-tuning attacks
read, stacked to [n, 2, ...] (rule finetune_features; the T observations of Fig. 1)."""
from deepleak import artifacts, features, finetune, models, splits


def main(dataset_path, splits_path, model_paths, meta_paths, features_out, *, gradient_layers,
         device):
    data, sets = artifacts.load_npz(dataset_path), splits.load(splits_path)
    records = finetune.attack_records(sets)
    per_snapshot, layer_names = [], None
    for model_path, meta_path in zip(model_paths, meta_paths, strict=True):
        meta = artifacts.load_json(meta_path)
        net = models.build_model(meta["model_cfg"], meta["in_features"], meta["n_classes"])
        artifacts.load_state_dict(net, model_path)
        layer_names = list(net.layer_names)
        per_snapshot.append(features.extract(net, data["X"][records], data["y"][records],
                                             gradient_layers=gradient_layers, device=device))
    feats = finetune.stack_snapshots(per_snapshot)
    feats["records"] = records
    artifacts.save_npz(features_out, feats, meta={
        "layer_names": layer_names, "gradient_layers": gradient_layers,
        "n_classes": meta["n_classes"], "snapshots": list(finetune.SNAPSHOTS)})


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.dataset, snakemake.input.splits, snakemake.input.models,
         snakemake.input.metas, snakemake.output.features, **snakemake.params)
