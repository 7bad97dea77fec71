"""The shadow-model attack of Table VII (Shokri et al. 2017 as the paper uses it, SPEC.md 1.5): the
white-box attack model trained on the shadow model's members and non-members, then applied to the
target model's attack test set (rule shadow_model_attack)."""
import logging

import numpy as np
from deepleak import artifacts, attack, features, metrics, paper, splits

log = logging.getLogger("run_shadow_attack")


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
    spec = paper.VARIANTS[variant].resolve(t_meta["layer_names"], min(t_meta["gradient_layers"],
                                                                      s_meta["gradient_layers"]))
    rng = np.random.default_rng(seed)
    m_tr, m_va = hold_out(sets["shadow_members"], validation_fraction, rng)
    n_tr, n_va = hold_out(sets["shadow_nonmembers"], validation_fraction, rng)
    tr, tr_member, _ = features.labelled(shadow, m_tr, n_tr)
    va, va_member, _ = features.labelled(shadow, m_va, n_va)
    model, std, history = attack.fit_supervised(
        attack.gather_inputs(tr, spec), tr_member, attack.gather_inputs(va, spec), va_member, spec,
        t_meta["n_classes"], hp, seed)
    te, te_member, te_ids = features.labelled(target, sets["attack_test_members"],
                                     sets["attack_test_nonmembers"])
    scores = attack.predict(model, std(attack.gather_inputs(te, spec)))
    result = metrics.evaluate(scores, te_member, n_bootstrap=metrics_cfg["n_bootstrap"],
                              confidence=metrics_cfg["confidence"], seed=seed)
    log.info("shadow-model attack: %s", result)
    artifacts.save_npz(scores_out, {"records": te_ids, "member": te_member, "score": scores})
    artifacts.save_json(metrics_out, {**attack.result_record(
        "shadow_model", f"Shadow-model attack: {paper.VARIANTS[variant].description}, trained on "
        f"the shadow model's members and non-members", spec, tr_member, va_member, model, hp,
        history, result), "variant": variant})


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.target, snakemake.input.shadow, snakemake.input.splits,
         snakemake.output.scores, snakemake.output.metrics, **snakemake.params)
