"""What the attacker observes of the user's model on every record the audit's attacks use (rule
audit_features): the outputs, the loss, and the per-example gradients of the chosen layers
(deepleak/features.py extract, through forward hooks). The model is only read: its weights and
buffers (batch-norm statistics included) and every file of the user's are checked unchanged
afterwards, and the model is left in eval mode."""
import logging

import numpy as np
from deepleak import artifacts, audit_model, features, files, splits

log = logging.getLogger("audit_features")


def main(splits_path, checked_path, features_out, read_only_out, *, audit, device):
    checked = artifacts.load_json(checked_path)
    check_unchanged(audit, checked)
    net = audit_model.build(audit["model"])
    state = audit_model.load_state(audit["model"]["state_dict"], audit["model"].get("sha256"))
    audit_model.load_weights(net, state, audit["model"]["state_dict"])
    before = audit_model.fingerprint(net)
    X, y, _ = audit_model.load_data(audit["data"])
    sets = splits.load(splits_path)
    records = np.unique(np.concatenate([sets[k] for k in splits.ATTACK_SETS]))
    model = audit_model.hooked(net, checked["modules"])
    report = {}
    feats = features.extract(model, X[records], y[records],
                             gradient_layers=len(checked["modules"]),
                             conv_gradient=audit["conv_gradient"],
                             max_output_features=audit["max_output_features"],
                             batch_size=audit["batch_size"], chunk_size=audit["chunk_size"],
                             device=device, report=report)
    if checked["output_layer"] == "output":
        feats["out/output"] = feats["logits"]
    feats["records"] = records
    read_only = check_read_only(net, before, audit)
    artifacts.save_npz(features_out, feats, meta={
        "layer_names": checked["layers"], "gradient_layers": len(checked["modules"]),
        "n_classes": checked["n_classes"], "modules": checked["modules"],
        "output_layer": checked["output_layer"], **report})
    artifacts.save_json(read_only_out, read_only)


def check_unchanged(audit: dict, checked: dict) -> None:
    """Raise unless every file of the user's is what audit_validate checked."""
    digests = {p: files.sha256(p) for p in audit_model.user_files(audit)}
    changed = sorted(p for p, d in digests.items() if checked["user_files"].get(p) != d)
    if changed:
        raise audit_model.AuditError(f"audit: {changed} changed since audit_validate checked "
                                     f"them; rerun the audit (snakemake -R audit_validate)")


def check_read_only(net, before: str, audit: dict) -> dict:
    """Raise unless the model's weights and buffers are what they were, no module is left in
    training mode and no parameter holds a gradient, and every file of the user's is unchanged;
    return what was checked."""
    after = audit_model.fingerprint(net)
    training = sorted(n or type(net).__name__ for n, m in net.named_modules() if m.training)
    grads = sorted(n for n, p in net.named_parameters() if p.grad is not None)
    if after != before or training or grads:
        raise RuntimeError(f"the audit changed the model (fingerprint {before} -> {after}; modules "
                           f"in training mode {training}; parameters with a gradient {grads}); "
                           f"this is a bug of deepleak/audit_model.py, please report it")
    return {"fingerprint_before": before, "fingerprint_after": after,
            "modules_in_training_mode": training, "parameters_with_grad": grads,
            "user_files": {p: files.sha256(p) for p in audit_model.user_files(audit)}}


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.splits, snakemake.input.checked, snakemake.output.features,
         snakemake.output.read_only, **snakemake.params)
