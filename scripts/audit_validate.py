"""Check an audit's inputs before any long job (rule audit_validate): the model builds, its
state_dict matches, the data fits its first layer, the labels its outputs, the members and
non-members are disjoint and enough for the requested knowledge and test sizes. Writes the
attacker's record sets and what was found (the layers the white-box attacks will read)."""
import logging

import numpy as np
from deepleak import artifacts, audit_model, files, perclass, splits

log = logging.getLogger("audit_validate")


def main(splits_out, checked_out, *, audit, attack_batch_size, seed):
    net = audit_model.build(audit["model"])
    state = audit_model.load_state(audit["model"]["state_dict"], audit["model"].get("sha256"))
    audit_model.load_weights(net, state, audit["model"]["state_dict"])
    X, y, arrays = audit_model.load_data(audit["data"])
    members, nonmembers = audit_model.membership(audit["membership"], len(y), arrays)
    sets = audit_model.attacker_sets(members, nonmembers, audit, seed,
                                     attack_batch_size=attack_batch_size)
    found = audit_model.probe(net, X, y)
    modules = audit_model.choose_layers(found["order"], found["shared"], audit["layers"]["last"],
                                        audit["layers"].get("names"))
    output_layer = _output_layer(net, modules, X)
    # The per-class figure needs one class with enough attack-test members and non-members.
    test_ids = np.concatenate([sets["attack_test_members"], sets["attack_test_nonmembers"]])
    member = np.isin(test_ids, sets["attack_test_members"])
    stats = perclass.class_means(np.zeros(len(test_ids)), y[test_ids], member, found["n_classes"])
    enough = int(((stats["member_count"] >= audit["per_class_min_records"])
                  & (stats["nonmember_count"] >= audit["per_class_min_records"])).sum())
    if not enough:
        raise audit_model.AuditError(
            f"audit: no class has {audit['per_class_min_records']} attack-test members and "
            f"non-members (audit.per_class_min_records), so the per-class figure cannot be drawn; "
            f"give more records, raise audit.test, or lower audit.per_class_min_records")
    sets.update(members=members, nonmembers=nonmembers)
    splits.save(splits_out, sets, meta={"seed": seed, "n_records": len(y)})
    checked = {
        "modules": modules, "layers": audit_model.layer_names(modules),
        "output_layer": output_layer, "forward_order": found["order"],
        "n_classes": found["n_classes"], "n_records": len(y),
        "record_shape": list(np.shape(X)[1:]),
        "sizes": {k: len(v) for k, v in sets.items()},
        "model_class": type(net).__name__,
        "n_parameters": int(sum(p.numel() for p in net.parameters())),
        "user_files": {p: files.sha256(p) for p in audit_model.user_files(audit)},
        "fingerprint": audit_model.fingerprint(net),
    }
    log.info("audit inputs checked: %s", checked)
    artifacts.save_json(checked_out, checked)


def _output_layer(net, modules, X):
    """The layer whose output the black-box attack reads: the last chosen one when its output is
    the model's prediction, else "output" (the logits themselves, added to the features)."""
    import torch
    from deepleak.gradients import _eval_mode

    model = audit_model.hooked(net, modules)
    with torch.no_grad(), _eval_mode(net):
        logits, outs = model(torch.as_tensor(np.asarray(X[:2]), dtype=torch.float32),
                             return_activations=True)
    same = outs[-1].shape == logits.shape and torch.equal(outs[-1], logits)
    return model.layer_names[-1] if same else "output"


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.output.splits, snakemake.output.checked, **snakemake.params)
