"""Adding a dataset takes one registry entry and one config block (and a loader only for a new
format): a toy tabular dataset, added that way to a fresh copy of the workflow, runs through the
stand-alone scenario to Table VIII."""
import os
import subprocess
import sys

import pytest
import yaml
from test_workflow import ROOT, fresh_copy

pytestmark = pytest.mark.e2e

# The registry entry: Shokri et al.'s archive format, 40 features, 10 classes, generated offline by
# the Purchase100 generator (its parameters come from the config block below).
TOY_ENTRY = '''
    Dataset(
        name="toy", kind="tabular", format="shokri_tgz", files=("dataset_toy.tgz",), n_classes=10,
        layout=TabularLayout(feats="toy", labels=None, n_features=40),
        standin="deepleak.datasets:purchase_standin",
    ),
)}
'''

SIZES = {"target_train": 120, "target_test": 120, "attack_train_members": 60,
         "attack_train_nonmembers": 60, "attack_test_members": 60, "attack_test_nonmembers": 60,
         "shadow_train": 120, "shadow_test": 120}


def toy_config():
    """config/test.yaml with the toy dataset alone (the federated scenario needs one dataset)."""
    config = yaml.safe_load((ROOT / "config/test.yaml").read_text())
    purchase = config["datasets"]["purchase100"]
    config["datasets"] = {"toy": {
        "source": "synthetic",
        "standin": {"n_records": 600,
                    "params": {"n_items": 40, "archetypes": 10, "n_clusters": 10}},
        # Five linear layers: the stand-alone attacks read the last four layers' gradients.
        "model": {"arch": "fc", "hidden": [16, 16, 8, 8], "activation": "tanh"},
        "train": {**purchase["train"], "epochs": 3},
        "standalone": {"sizes": SIZES},
    }}
    config["standalone"]["datasets"] = ["toy"]
    config["standalone"]["knowledge_fractions"] = [[1.0, 1.0]]
    config["finetune"]["datasets"] = []
    # The stages beyond the paper name their datasets too; this test is about Table VIII.
    config["calibrated"]["datasets"] = config["dp"]["datasets"] = []
    federated = config["federated"]
    federated["datasets"] = federated["sweep_datasets"] = ["toy"]
    federated["per_dataset"] = {"toy": federated["per_dataset"]["purchase100"]}
    return config


def test_a_toy_dataset_runs_to_table8(tmp_path):
    work = fresh_copy(tmp_path / "toy")
    registry = work / "scripts/deepleak/registry.py"
    text = registry.read_text()
    assert text.count("\n)}\n") == 1  # the end of the DATASETS table
    registry.write_text(text.replace("\n)}\n", TOY_ENTRY, 1))
    (work / "config/toy.yaml").write_text(yaml.safe_dump(toy_config()))

    # The copy's library, not an installed one, must serve the jobs.
    env = {**os.environ, "PYTHONPATH": str(work / "scripts")}
    out = subprocess.run([sys.executable, "-m", "snakemake", "table8", "--cores", "2",
                          "--configfile", "config/toy.yaml"], cwd=work, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-5000:]
    table = (work / "results/tables/table8.md").read_text()
    assert "toy (stand-in)" in table, table
    assert (work / "data/raw/toy/synthetic/dataset_toy.tgz").is_file()
