"""The unsupervised attack of Table VII and Figure 5 (§II-D; rule unsupervised_attack).

The encoder-decoder is trained on every record the attacker holds (its known members and non-members
as one unlabelled set, in record-id order), the test records are encoded and clustered, and only
then, to score the result, is their membership read."""
import logging

import numpy as np
from deepleak import artifacts, attack, features, metrics, splits, unsupervised, variants

log = logging.getLogger("run_unsupervised_attack")

# The records the attacker holds without knowing which are members (§II-D: D' overlaps D).
UNLABELLED_SETS = ("attack_train_members", "attack_val_members", "attack_train_nonmembers",
                   "attack_val_nonmembers")
TEST_SETS = ("attack_test_members", "attack_test_nonmembers")


def main(features_path, splits_path, scores_out, metrics_out, *, variant, hp, unsup, metrics_cfg,
         seed):
    feats, meta = artifacts.load_npz(features_path), artifacts.load_npz_meta(features_path)
    sets = splits.load(splits_path)
    spec = variants.VARIANTS[variant].resolve(meta["layer_names"], meta["gradient_layers"])
    last = meta["layer_names"][-1]
    # np.unique: one sorted set of ids, so neither the order nor the grouping says who is a member.
    train_ids = np.unique(np.concatenate([sets[name] for name in UNLABELLED_SETS]))
    test_ids = np.unique(np.concatenate([sets[name] for name in TEST_SETS]))
    train = features.take(feats, features.rows_of(feats["records"], train_ids))
    test = features.take(feats, features.rows_of(feats["records"], test_ids))
    model, std, history = unsupervised.fit(
        attack.gather_inputs(train, spec),
        unsupervised.decoder_targets(train, unsup["decoder_targets"], last), spec,
        meta["n_classes"], hp, unsup, seed)
    codes = unsupervised.encode(model, std(attack.gather_inputs(test, spec)))
    threshold, clustering = unsupervised.spectral_clusters(codes, seed=seed, **unsup["clustering"])
    scores, sign, side_norms = unsupervised.membership_scores(codes, test[f"grad_norm/{last}"],
                                                              threshold)
    # Membership enters here, and only to score the attack.
    member = np.isin(test_ids, sets["attack_test_members"]).astype(np.int64)
    result = metrics.evaluate(scores, member, threshold=0.0, n_bootstrap=metrics_cfg["n_bootstrap"],
                              confidence=metrics_cfg["confidence"], seed=seed)
    log.info("unsupervised attack: %s", result)
    artifacts.save_npz(scores_out, {"records": test_ids, "member": member, "score": scores,
                                    "code": codes, "threshold": np.float64(threshold),
                                    "member_side": np.float64(sign)})
    record = metrics.record(
        "unsupervised",
        f"Unsupervised attack: encoder on {variants.VARIANTS[variant].description}; decoder "
        f"reconstructs {', '.join(unsup['decoder_targets'])}; spectral clustering of the codes",
        {"test": result}, features=spec.as_dict(),
        training={"n_unlabelled_train": int(len(train_ids)), "settings": unsup, "hparams": hp,
                  "history": history},
        variant=variant, clustering=clustering,
        member_side="above the threshold" if sign > 0 else "below the threshold",
        mean_last_layer_grad_norm=side_norms)
    metrics.save(metrics_out, {"unsupervised": record}, scenario="standalone")

if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.features, snakemake.input.splits, snakemake.output.scores,
         snakemake.output.metrics, **snakemake.params)
