"""The worked example's weights (rule audit_example_weights): the user's own training function
(audit.model.train_function) run on the members, as a user would have trained their model before
auditing it. A user with weights of their own never runs this."""
import io

import torch
from deepleak import audit_model, files


def main(state_out, *, audit, seed):
    model_cfg = audit["model"]
    if not model_cfg.get("train_function"):
        raise audit_model.AuditError(
            f"audit.model.state_dict: {model_cfg['state_dict']} does not exist, and only the "
            f"worked examples' weights (results/audit_examples/...) are made by the workflow, from "
            f"audit.model.train_function; give the path of your own weights")
    X, y, arrays = audit_model.load_data(audit["data"])
    members, _ = audit_model.membership(audit["membership"], len(y), arrays)
    # The one call of the user's training function, as LiRA's reference models are trained.
    net = audit_model.train_model(model_cfg, X[members], y[members], seed)
    buffer = io.BytesIO()  # through a buffer: the same weights give the same bytes
    torch.save(net.state_dict(), buffer)
    with files.atomic_path(state_out, ".pt") as tmp:
        tmp.write_bytes(buffer.getvalue())


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.output.state_dict, **snakemake.params)
