# Names of things: datasets, scenarios, attacks, seeds and the input functions every stage shares.
# Other .smk files hold rules only.
import re
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))
from deepleak import paper  # noqa: E402
from deepleak import registry  # noqa: E402 - the datasets: names, kinds, raw files (no torch)


STANDALONE = config["standalone"]
STANDALONE_DATASETS = sorted(STANDALONE["datasets"])
REPLICATES = [f"r{i}" for i in range(config["replicates"])]
STANDALONE_ATTACKS = paper.standalone_attacks(len(STANDALONE["knowledge_fractions"]))


wildcard_constraints:
    dataset="|".join(sorted(config["datasets"])),
    rep=r"r\d+",
    model="target|shadow",
    attack="|".join(map(re.escape, STANDALONE_ATTACKS)),


def artifact_seed(*parts):
    """Seed of one artifact, derived from the config seed; stable across runs and machines."""
    return zlib.crc32("/".join(map(str, (config["seed"], *parts))).encode())


def dataset_cfg(dataset):
    return config["datasets"][dataset]


def data_of(dataset):
    """The data a dataset entry reads (`data:`, default its own name): several entries may share one,
    as the paper's three CIFAR-100 architectures do (cifar100_alexnet, ... with data: cifar100)."""
    return dataset_cfg(dataset).get("data") or dataset


def uses_gpu(dataset):
    """gpu=1 for jobs that run torch on a GPU: device cuda, or device auto for the image models (the
    rule then uses a GPU if one is visible; `--resources gpu=N` caps how many such jobs run at once)."""
    image = registry.DATASETS[data_of(dataset)].kind == "image"
    return int(config["device"] == "cuda" or (config["device"] == "auto" and image))


def _check_dataset_entries():
    """What the schema cannot say: every entry reads a data set of the registry, a stand-in exists
    where one is asked for, and the stand-alone scenario names existing entries."""
    known = sorted(registry.DATASETS)
    for name, cfg in config["datasets"].items():
        data = data_of(name)
        if data not in registry.DATASETS:
            where = f"datasets.{name}.data is {data!r}" if cfg.get("data") else (
                f"datasets.{name} is not named after a data set and gives no `data:`")
            raise ValueError(f"config: {where}; the registry (scripts/deepleak/registry.py) knows "
                             f"{known}. Name the entry after one of them, give `data:`, or add a "
                             f"registry entry for a new data set")
        if cfg["source"] == "synthetic":
            with_standin = sorted(n for n, d in registry.DATASETS.items() if d.standin)
            if registry.DATASETS[data].standin is None:
                raise ValueError(f"config: datasets.{name}.source is 'synthetic', but {data} has no "
                                 f"offline stand-in (those with one: {with_standin}); use source: real")
            if data != name:
                raise ValueError(f"config: datasets.{name}.source is 'synthetic' with data: {data}; a "
                                 f"stand-in is generated once per data set, so name the entry {data}")
            if "standin" not in cfg:
                raise ValueError(f"config: datasets.{name}.source is 'synthetic' but datasets.{name}"
                                 f".standin is missing; give at least standin.n_records")
    missing = [d for d in STANDALONE_DATASETS if d not in config["datasets"]]
    if missing:
        raise ValueError(f"config: standalone.datasets names {missing}, which have no entry under datasets "
                         f"({sorted(config['datasets'])})")


_check_dataset_entries()


def raw_dir(dataset):
    """The folder of a dataset's raw files: data/raw/<data>/, or data/raw/<data>/synthetic/ for its
    generated stand-in (same files, same format)."""
    synthetic = dataset_cfg(dataset)["source"] == "synthetic"
    return f"data/raw/{data_of(dataset)}" + ("/synthetic" if synthetic else "")


def raw_files(dataset):
    return registry.raw_files(data_of(dataset), raw_dir(dataset))


def source_label(dataset):
    return "stand-in" if dataset_cfg(dataset)["source"] == "synthetic" else "real"


def attack_hparams():
    return config["attack_model"]


def standalone_paths(pattern, datasets=None, attacks=None):
    """Expand a stand-alone path pattern over datasets, replicates and (optionally) attacks."""
    return expand(pattern, dataset=datasets or STANDALONE_DATASETS, rep=REPLICATES,
                  attack=attacks or STANDALONE_ATTACKS)
