# Names of things: datasets, scenarios, attacks, seeds and the input functions every stage shares.
# Other .smk files hold rules only.
import re
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))
from deepleak import datasets as dl_datasets  # noqa: E402
from deepleak import paper  # noqa: E402


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


def raw_archive(dataset):
    """Where the archive of a dataset lives: the real one, or its generated stand-in."""
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
