"""The audited model's per-record statistics on the records its reference models were summarised
on (rule audit_target_statistics), in the stand-alone target_statistics format: LiRA compares the
two. The model is only read, as in audit_features (scripts/audit_features.py check_read_only)."""
import numpy as np
from audit_features import check_read_only, check_unchanged
from deepleak import artifacts, audit_model, calibration


def main(checked_path, mask_path, statistics_out, *, audit, device):
    checked = artifacts.load_json(checked_path)
    check_unchanged(audit, checked)
    drawn = artifacts.load_npz(mask_path)
    net = audit_model.build(audit["model"])
    state = audit_model.load_state(audit["model"]["state_dict"], audit["model"].get("sha256"))
    audit_model.load_weights(net, state, audit["model"]["state_dict"])
    before = audit_model.fingerprint(net)
    X, y, _ = audit_model.load_data(audit["data"])
    records = np.concatenate([drawn["test"], drawn["population"]])
    stats = calibration.model_statistics(
        audit_model.hooked(net, checked["modules"]), X[records], y[records], device=device,
        batch_size=audit["batch_size"], chunk_size=audit["chunk_size"],
        max_output_features=audit["max_output_features"])
    check_read_only(net, before, audit)
    artifacts.save_npz(statistics_out, {**stats, "records": records},
                       meta={"layer_names": checked["layers"], "n_test": int(len(drawn["test"]))})


if __name__ == "__main__":
    import torch  # noqa: F401 - before setup, which gives torch the job's threads
    from _common import setup

    setup(snakemake)
    main(snakemake.input.checked, snakemake.input.mask, snakemake.output.statistics,
         **snakemake.params)
