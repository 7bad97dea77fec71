"""Train neural attack variants on the target model's features and score the attack test set
(rules attack_<group>; the variants and their groups are declared in deepleak/variants.py)."""
from deepleak import artifacts, attack, metrics, splits, variants
from deepleak.checkpoint import Checkpoint

# The attack model's checkpoint is written at most once a minute: the default profile's attack
# models run many epochs of well under a second, the paper profile's 1,000-kernel gradient
# components minutes per epoch on a CPU (README, "When a run is interrupted").
CHECKPOINT_EVERY_S = 60.0


def main(features_path, splits_path, scores_outs, metrics_outs, *, attacks, hp, knowledge_fractions,
         metrics_cfg, seeds):
    feats, meta = artifacts.load_npz(features_path), artifacts.load_npz_meta(features_path)
    sets = splits.load(splits_path)
    for name, scores_out, metrics_out, seed in zip(attacks, scores_outs, metrics_outs, seeds,
                                                   strict=True):
        variant, known = variants.variant_of(name)
        own = {k: sets[k] for k in splits.KNOWN_SETS}
        if known is not None:
            # Table VI: the attacker knows a fraction of the members / non-members it could know,
            # its validation records included.
            own = splits.known_subsets(sets, *knowledge_fractions[known], seed)
        ckpt = Checkpoint.for_job(scores_out, params={"attack": name, "hp": hp, "seed": seed,
                                                      "knowledge_fractions": knowledge_fractions},
                                  inputs=[features_path, splits_path], every_s=CHECKPOINT_EVERY_S)
        scores, record = attack.run_supervised(
            (feats, own["attack_train_members"], own["attack_train_nonmembers"]),
            (feats, own["attack_val_members"], own["attack_val_nonmembers"]),
            {"test": (feats, sets["attack_test_members"], sets["attack_test_nonmembers"])},
            spec=variant.resolve(meta["layer_names"], meta["gradient_layers"]),
            n_classes=meta["n_classes"], hp=hp, seed=seed, description=variant.description,
            evaluate=dict(metrics_cfg, seed=seed), checkpoint=ckpt)
        artifacts.save_npz(scores_out, scores["test"])
        metrics.save(metrics_out, {name: record}, scenario="standalone")
        ckpt.remove()


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.features, snakemake.input.splits, snakemake.output.scores,
         snakemake.output.metrics, **snakemake.params)
