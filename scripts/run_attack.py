"""Train neural attack variants on the target model's features and score the attack test set
(rules attack_<group>; the variants and groups are defined in deepleak/paper.py)."""
import logging


from deepleak import attack, features, artifacts, metrics, paper, splits

log = logging.getLogger("run_attack")


def main(features_path, splits_path, scores_outs, metrics_outs, *, attacks, hp, knowledge_fractions,
         metrics_cfg, seeds):
    feats, meta = artifacts.load_npz(features_path), artifacts.load_npz_meta(features_path)
    sets = splits.load(splits_path)
    for attack_name, scores_out, metrics_out, seed in zip(attacks, scores_outs, metrics_outs, seeds):
        run_one(feats, meta, sets, scores_out, metrics_out, attack_name=attack_name, hp=hp,
                knowledge_fractions=knowledge_fractions, metrics_cfg=metrics_cfg, seed=seed)


def run_one(feats, meta, sets, scores_out, metrics_out, *, attack_name, hp, knowledge_fractions,
            metrics_cfg, seed):
    """Train, select on validation and score one attack variant."""
    sets = dict(sets)
    variant, known = paper.variant_of(attack_name)
    spec = variant.resolve(meta["layer_names"], meta["gradient_layers"])
    if known is not None:
        # Table VI: the attacker knows only a fraction of the members / non-members it could know.
        f_m, f_n = knowledge_fractions[known]
        sets["attack_train_members"] = splits.subsample(sets["attack_train_members"], f_m, seed)
        sets["attack_train_nonmembers"] = splits.subsample(sets["attack_train_nonmembers"], f_n,
                                                           seed + 1)
    tr, tr_member, _ = features.labelled(feats, sets["attack_train_members"],
                                         sets["attack_train_nonmembers"])
    va, va_member, _ = features.labelled(feats, sets["attack_val_members"],
                                         sets["attack_val_nonmembers"])
    te, te_member, te_ids = features.labelled(feats, sets["attack_test_members"],
                                              sets["attack_test_nonmembers"])
    model, std, history = attack.fit_supervised(
        attack.gather_inputs(tr, spec), tr_member, attack.gather_inputs(va, spec), va_member,
        spec, meta["n_classes"], hp, seed)
    scores = attack.predict(model, std(attack.gather_inputs(te, spec)))
    result = metrics.evaluate(scores, te_member, n_bootstrap=metrics_cfg["n_bootstrap"],
                              confidence=metrics_cfg["confidence"], seed=seed)
    log.info("%s: %s", attack_name, result)
    artifacts.save_npz(scores_out, {"records": te_ids, "member": te_member, "score": scores})
    artifacts.save_json(metrics_out, attack.result_record(
        attack_name, variant.description, spec, tr_member, va_member, model, hp, history, result))


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.features, snakemake.input.splits, snakemake.output.scores,
         snakemake.output.metrics, **snakemake.params)
