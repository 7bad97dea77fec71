"""The shadow-model attack of Table VII (Shokri et al. 2017, as the paper uses it, §II-D): the
white-box attack model trained on the shadow model's members and non-members, then applied to the
target model's attack test set (rule shadow_model_attack)."""
import numpy as np
from deepleak import artifacts, attack, metrics, splits, variants


def hold_out(ids, fraction, rng):
    """Split the attacker's own records into (train, validation); a seeded ``fraction``
    validates."""
    perm = rng.permutation(ids)
    n_val = int(round(fraction * len(ids)))
    if not 0 < n_val < len(ids):
        raise ValueError(f"standalone.validation_fraction {fraction} leaves no shadow records to "
                         f"train or to validate the shadow-model attack ({len(ids)} records)")
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def main(target_path, shadow_path, splits_path, scores_out, metrics_out, *, variant, hp,
         validation_fraction, metrics_cfg, seed):
    target, shadow = artifacts.load_npz(target_path), artifacts.load_npz(shadow_path)
    t_meta, s_meta = artifacts.load_npz_meta(target_path), artifacts.load_npz_meta(shadow_path)
    if t_meta["layer_names"] != s_meta["layer_names"]:
        raise ValueError(f"the shadow model's layers {s_meta['layer_names']} differ from the "
                         f"target's {t_meta['layer_names']}; the shadow model must share the "
                         f"architecture: rerun rule train_model for both")
    sets = splits.load(splits_path)
    rng = np.random.default_rng(seed)
    m_tr, m_va = hold_out(sets["shadow_members"], validation_fraction, rng)
    n_tr, n_va = hold_out(sets["shadow_nonmembers"], validation_fraction, rng)
    v = variants.VARIANTS[variant]
    scores, record = attack.run_supervised(
        (shadow, m_tr, n_tr), (shadow, m_va, n_va),
        {"test": (target, sets["attack_test_members"], sets["attack_test_nonmembers"])},
        spec=v.resolve(t_meta["layer_names"], min(t_meta["gradient_layers"],
                                                  s_meta["gradient_layers"])),
        n_classes=t_meta["n_classes"], hp=hp, seed=seed, evaluate=dict(metrics_cfg, seed=seed),
        description=f"Shadow-model attack: {v.description}, trained on the shadow model's members "
                    f"and non-members", variant=variant)
    artifacts.save_npz(scores_out, scores["test"])
    metrics.save(metrics_out, {"shadow_model": record}, scenario="standalone")


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.target, snakemake.input.shadow, snakemake.input.splits,
         snakemake.output.scores, snakemake.output.metrics, **snakemake.params)
