# Names of things: datasets, scenarios, attacks, seeds and the input functions every stage shares.
# Other .smk files hold rules only.
import re
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))
from deepleak import datasets as dl_datasets  # noqa: E402
from deepleak import images as dl_images  # noqa: E402
from deepleak import paper  # noqa: E402
from deepleak import variants  # noqa: E402


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


def is_image(dataset):
    return dl_images.is_image(data_of(dataset))


def uses_gpu(dataset):
    """gpu=1 for jobs that run torch on a GPU: device cuda, or device auto for the image models (the
    rule then uses a GPU if one is visible; `--resources gpu=N` caps how many such jobs run at once)."""
    return int(config["device"] == "cuda" or (config["device"] == "auto" and is_image(dataset)))


def _check_dataset_entries():
    """What the schema cannot say: every entry's data is known, image data is real, and the stand-alone
    scenario names existing entries."""
    known = sorted(set(dl_datasets.SOURCES) | set(dl_images.SOURCES))
    for name in config["datasets"]:
        if data_of(name) not in known:
            raise ValueError(f"config: datasets.{name} reads data {data_of(name)!r}, which is not one of "
                             f"{known}; name the entry after one of them or give `data:`")
        if not is_image(name) and data_of(name) != name:
            raise ValueError(f"config: datasets.{name} has data: {data_of(name)}; only the image data sets "
                             f"can be shared by several entries, name a tabular entry after its data")
        if is_image(name) and dataset_cfg(name)["source"] != "real":
            raise ValueError(f"config: datasets.{name}.source is {dataset_cfg(name)['source']!r}; the image "
                             f"data sets have no stand-in, use source: real (deepleak/images.py)")
    missing = [d for d in STANDALONE_DATASETS if d not in config["datasets"]]
    if missing:
        raise ValueError(f"config: standalone.datasets names {missing}, which have no entry under datasets "
                         f"({sorted(config['datasets'])})")


_check_dataset_entries()


def raw_archive(dataset):
    """Where the archive of a dataset lives: the real one, or its generated stand-in. An image dataset
    has several raw files (deepleak/images.py) under data/raw/<data>/."""
    if is_image(dataset):
        return [f"data/raw/{data_of(dataset)}/{f}" for f in dl_images.raw_files(data_of(dataset))]
    cfg = dataset_cfg(dataset)
    archive = dl_datasets.SOURCES[dataset].archive
    if cfg["source"] == "synthetic":
        return f"data/raw/{dataset}/synthetic/{archive}"
    return f"data/raw/{dataset}/{archive}"


def source_label(dataset):
    return "stand-in" if dataset_cfg(dataset)["source"] == "synthetic" else "real"


def attack_hparams():
    return config["attack_model"]


def standalone_paths(pattern, datasets=None, attacks=None):
    """Expand a stand-alone path pattern over datasets, replicates and (optionally) attacks."""
    return expand(pattern, dataset=datasets or STANDALONE_DATASETS, rep=REPLICATES,
                  attack=attacks or STANDALONE_ATTACKS)
