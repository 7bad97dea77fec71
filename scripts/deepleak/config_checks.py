"""Checks of a whole config that its schema cannot express and that would otherwise fail inside a
job, run while the DAG is planned (workflow/rules/common.smk), before any job starts. Torch-free.

Sizes that do not fit the data: each scenario's record sets are drawn here, at parse time, by the
very functions its split jobs call (deepleak/splits.py, finetune.py, federated_runs.py), on the
number of records the dataset will have (the stand-in's ``n_records``, the subset's, the image
set's, or the archive's row count from the registry), so a size that a split job would refuse
stops the plan instead, naming the key. Drawing is a permutation of the record indices: a few
milliseconds for the largest dataset.
"""
from __future__ import annotations

from deepleak import federated_runs, finetune, registry, resources, splits


class ConfigError(ValueError):
    """A config value the schema cannot judge alone (it names the key and what to do)."""


def _drawn(draw, *args, **kwargs) -> None:
    try:
        draw(*args, **kwargs)
    except splits.SplitError as err:
        raise ConfigError(f"config: {err}") from None


def _records(config: dict, d: str) -> int | None:
    """The records dataset ``d`` will have, or None for an archive of unknown size (its split job
    then checks)."""
    cfg = config["datasets"][d]
    layout = registry.DATASETS[cfg.get("data", d)].layout
    known = (cfg["source"] == "synthetic" or cfg.get("subset")
             or isinstance(layout, registry.ImageLayout) or layout.n_records)
    return resources.n_records(config, d) if known else None


def _official_train(config: dict, d: str):
    """An image dataset's official-training-image mask as rule prepare_dataset writes it (the
    subset's counts, else the whole set's), or None for other data."""
    import numpy as np

    cfg = config["datasets"][d]
    layout = registry.DATASETS[cfg.get("data", d)].layout
    if not isinstance(layout, registry.ImageLayout) or cfg["source"] == "synthetic":
        return None
    n_train, n_test = ((cfg["subset"]["train"], cfg["subset"]["test"]) if cfg.get("subset")
                       else (layout.n_train, layout.n_test))
    return np.r_[np.ones(n_train, bool), np.zeros(n_test, bool)]


def check_sizes(config: dict) -> None:
    """Every scenario's sizes fit its dataset (a validated config: the schema's defaults are in)."""
    standalone = sorted({d for section in ("standalone", "calibrated", "dp")
                         for d in config[section]["datasets"] if d in config["datasets"]})
    for d in (d for d in standalone if _records(config, d)):
        cfg, key = config["datasets"][d]["standalone"], f"datasets.{d}.standalone.sizes"
        official = _official_train(config, d)
        if official is not None:  # image data: members from the official training images
            _drawn(splits.official_standalone_splits, official, cfg["sizes"],
                   config["standalone"]["validation_fraction"], 0, key=key,
                   shadow_overlap=cfg["shadow_overlap"])
        else:
            _drawn(splits.standalone_splits, _records(config, d), cfg["sizes"],
                   config["standalone"]["validation_fraction"], 0, key=key)
    fine = config["finetune"]
    for d in sorted(fine["datasets"]):
        if d in config["datasets"] and d in fine["sizes"] and _records(config, d):
            _drawn(finetune.finetune_splits, _records(config, d), fine["sizes"][d],
                   fine["d_fraction"], fine["validation_fraction"], 0,
                   key=f"finetune.sizes.{d}")
    fed = config["federated"]
    for d in fed["datasets"]:
        if d in config["datasets"] and d in fed["per_dataset"] and _records(config, d):
            _drawn(federated_runs.federated_splits, _records(config, d),
                   fed["per_dataset"][d]["sizes"], parties=fed["parties"],
                   party_sweep=federated_runs.party_sweep(fed, d),
                   validation_fraction=fed["validation_fraction"],
                   overlapping=federated_runs.overlapping(fed, d), seed=0,
                   key=f"federated.per_dataset.{d}.sizes")
