"""The paper profile (config/paper.yaml) covers the paper: every row the paper printed has its run,
Table XII's epoch sets are the paper's four, and every split fits the real data sets' record
counts (a profile that cannot split fails here, not hours into a GPU run)."""
from pathlib import Path

import pytest
from deepleak import federated, federated_runs, finetune, paper, registry, resources, splits

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def config():
    return resources.profile_config(ROOT, "config/paper.yaml")


def n_records(config, dataset):
    entry = registry.get(config["datasets"][dataset].get("data", dataset))
    layout = entry.layout
    return layout.n_records if entry.kind == "tabular" else layout.n_train + layout.n_test


def paper_models(config, datasets):
    """The paper's model keys ("cifar100/alexnet", "purchase100") the entries run."""
    out = set()
    for d in datasets:
        cfg = config["datasets"][d]
        data, arch = cfg.get("data", d), cfg["model"]["arch"]
        out |= {f"{data}/{arch}", data}
    return out


@pytest.mark.parametrize("table, scenario", [(paper.TABLE9, "finetune"),
                                             (paper.TABLE10, "federated")])
def test_every_printed_row_has_its_run(config, table, scenario):
    assert set(table.paper) <= paper_models(config, config[scenario]["datasets"])


def test_standalone_covers_table8(config):
    assert set(paper.TABLE8.paper) <= paper_models(config, config["standalone"]["datasets"])


def test_tables_12_and_13_run_on_cifar100_alexnet(config):
    fed = config["federated"]
    assert fed["sweep_datasets"] == ["cifar100_alexnet"]
    assert sorted(fed["party_sweep"]) == [2, 3, 4, 5]
    sets = federated_runs.table12_epoch_sets(fed, "cifar100_alexnet")
    # The paper's four epoch sets, each its own run of the attack (distinct sets).
    assert sets == [list(e) for e in paper.TABLE12_EPOCHS]
    assert len({tuple(s) for s in sets}) == 4


def test_federated_splits_fit_the_real_records(config):
    fed = config["federated"]
    for d in fed["datasets"]:
        sets = federated.federated_splits(
            n_records(config, d), fed["per_dataset"][d]["sizes"], parties=fed["parties"],
            party_sweep=federated_runs.party_sweep(fed, d),
            validation_fraction=fed["validation_fraction"],
            overlapping=federated_runs.overlapping(fed, d), seed=0)
        size = fed["per_dataset"][d]["sizes"]["party_train"]
        assert all(len(sets[f"party{k}"]) == size for k in range(fed["parties"]))
    # Table XI: CIFAR100's 30,000 per party of 50,000 overlap; the others do not (§III-D).
    assert federated_runs.overlapping(fed, "cifar100_alexnet")
    assert not federated_runs.overlapping(fed, "purchase100")


def test_finetune_splits_fit_the_real_records(config):
    ft = config["finetune"]
    for d in ft["datasets"]:
        finetune.finetune_splits(n_records(config, d), ft["sizes"][d], ft["d_fraction"],
                                 ft["validation_fraction"], seed=0)


def test_standalone_splits_fit_the_real_records(config):
    for d in config["standalone"]["datasets"]:
        cfg = config["datasets"][d]
        if registry.get(cfg.get("data", d)).kind == "image":
            continue  # official train / test split: tests/test_splits.py
        splits.standalone_splits(n_records(config, d), cfg["standalone"]["sizes"],
                                 config["standalone"]["validation_fraction"], seed=0)


def test_federated_setting_reads_the_dataset_overlap(config):
    assert paper.run_setting(config, "federated", "cifar100_alexnet")["overlapping"] is True
    assert paper.run_setting(config, "federated", "purchase100")["overlapping"] is False


def test_the_paper_profile_inherits_nothing_from_the_default_profile():
    # Snakemake merges config/paper.yaml over config/config.yaml: a key the paper profile leaves
    # out silently takes the default profile's value (the Texas100 local attacker once ran on the
    # default's 1,000 attack-test members instead of Table XI's 4,000). Only what a source: real
    # entry never reads (a stand-in's settings) and the default's extra entries may come through.
    import yaml
    from snakemake.utils import update_config
    from test_paper_smoke_config import leaves

    own = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    merged = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    update_config(merged, own)
    inherited = set(leaves(merged)) - set(leaves(own))
    used = {*own["datasets"]}
    assert not {k for k in inherited
                if k.split(".")[1] in used and ".standin." not in k
                or k.split(".")[0] != "datasets"}, inherited
