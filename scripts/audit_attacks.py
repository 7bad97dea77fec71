"""The paper's supervised attacks and the threshold baselines on the user's model (rule
audit_attacks): the black-box attack, the white-box attacks on each chosen layer's output and
gradient and on all of them (deepleak/audit_model.py audit_attacks), each trained on the
attacker's known records, selected on its validation split and scored on the attack test set
(deepleak/attack.py run_supervised); the baselines' thresholds are chosen on the attacker's known
records, the only records whose membership it has."""
import numpy as np
from deepleak import artifacts, attack, audit_model, baselines, metrics, splits


def main(features_path, splits_path, scores_out, metrics_out, *, hp, metrics_cfg, seeds,
         baseline_seed):
    feats, meta = artifacts.load_npz(features_path), artifacts.load_npz_meta(features_path)
    sets = splits.load(splits_path)
    test = {"test": (feats, sets["attack_test_members"], sets["attack_test_nonmembers"])}
    known = (feats, np.concatenate([sets["attack_train_members"], sets["attack_val_members"]]),
             np.concatenate([sets["attack_train_nonmembers"], sets["attack_val_nonmembers"]]))
    scores, records = baselines.calibrated(test["test"], known,
                                           evaluate=dict(metrics_cfg, seed=baseline_seed),
                                           calibrated_on="the attacker's known records")
    attacks = audit_model.audit_attacks(meta["layer_names"], meta["modules"], meta["output_layer"])
    for name, (description, spec) in attacks.items():
        s, record = attack.run_supervised(
            (feats, sets["attack_train_members"], sets["attack_train_nonmembers"]),
            (feats, sets["attack_val_members"], sets["attack_val_nonmembers"]), test,
            spec=spec, n_classes=meta["n_classes"], hp=hp, seed=seeds[name],
            description=description, evaluate=dict(metrics_cfg, seed=seeds[name]))
        assert np.array_equal(s["test"]["records"], scores["records"])
        scores[name] = s["test"]["score"]
        records[name] = record
    artifacts.save_npz(scores_out, scores)
    metrics.save(metrics_out, records, scenario="audit")


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.features, snakemake.input.splits, snakemake.output.scores,
         snakemake.output.metrics, **snakemake.params)
