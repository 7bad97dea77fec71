"""The paper profile's smoke override (config/paper_smoke.yaml, and the references the end-to-end
test adds, tests/test_paper_smoke.py) touches only the keys declared here, so that the smoke run
is the paper profile's own DAG, models and code paths at tiny sizes, and cannot drift from it."""
from fnmatch import fnmatchcase
from pathlib import Path

import yaml
from deepleak import resources

ROOT = Path(__file__).resolve().parents[1]

# Dotted key patterns (fnmatch: * is any run of characters within or across keys) that the
# override may set, and why.
ALLOWED = {
    # Record counts.
    "datasets.*.standalone.sizes.*": "record counts (Table II sizes)",
    "finetune.sizes.*.*": "record counts (Table IX)",
    "federated.per_dataset.*.sizes.*": "record counts (Table XI)",
    "standalone.track_records": "records followed through training (Figure 3)",
    "federated.track_records": "records followed through the rounds (Figure 7)",
    "unsupervised.clustering.max_points": "a cap on the records clustered",
    "standalone.per_class_min_records": "records per class Figures 2 and 6 need (a few hundred "
                                        "test records leave few per class of 100)",
    "metrics.n_bootstrap": "bootstrap resamples",
    "calibrated.population": "RMIA's population records (the generated archives hold 1,200)",
    # Reference models: the same code path at any count; 4 is the fewest LiRA online takes (two
    # IN and two OUT per record). The paper profile's 64 (calibrated) and 16 per privacy level
    # (dp) would make the smoke run train 2 x 64 + 2 x 4 x 16 models to check that one path.
    "calibrated.references": "reference models per target",
    "dp.references": "DP-SGD reference models per privacy level",
    # Epochs and rounds.
    "datasets.*.train.epochs": "training epochs",
    "finetune.train.epochs": "fine-tuning epochs",
    "dp.train.epochs": "DP-SGD epochs",
    "attack_model.epochs": "attack-model epochs",
    "unsupervised.epochs": "encoder-decoder epochs",
    "federated.per_dataset.*.rounds": "FedAvg rounds",
    "federated.per_dataset.*.observed_epochs": "observed rounds, within the fewer rounds",
    # The attack model's kernel count: Texas100's first-layer gradient component has 6,169 x
    # kernels inputs, ~790M weights at the paper's 1,000, which no CPU test can train; the
    # component's code path is the same at any count.
    "attack_model.kernels": "the gradient component's kernels (size of one layer)",
    # ResNet-164 and DenseNet-BC-190 (k = 40) take ~40 s and ~85 s for one forward and backward
    # pass of 16 images on this CI's 2 CPU cores (measured), before the per-example conv-layer
    # gradients of every layer: too slow even at a few hundred records. Their depth (and
    # DenseNet's growth rate) shrink to one block per stage; the block type, the stages, the
    # layer kinds and every code path stay (AlexNet keeps its real architecture).
    "datasets.cifar100_resnet.model.depth": "ResNet depth (one bottleneck block per stage)",
    "datasets.cifar100_densenet.model.depth": "DenseNet-BC depth (one layer per dense block)",
    "datasets.cifar100_densenet.model.growth_rate": "DenseNet growth rate",
    # References: where the generated archives and checkpoint are, and their digests.
    "datasets.*.path": "a local copy of the archive",
    "datasets.*.digests.*.*": "the digests of a generated archive (not the published file)",
    "datasets.*.model.checkpoint.path": "a bearpaw-format checkpoint",
    "datasets.*.model.checkpoint.sha256": "its sha256",
}


def leaves(tree, prefix=()):
    """Every leaf of a nested dict as a dotted key (lists are leaves)."""
    if isinstance(tree, dict) and tree:
        for key, value in tree.items():
            yield from leaves(value, (*prefix, str(key)))
    else:
        yield ".".join(prefix)


def disallowed(override: dict) -> list[str]:
    """The leaves of ``override`` that no ALLOWED pattern covers."""
    return [key for key in leaves(override) if not any(fnmatchcase(key, p) for p in ALLOWED)]


def test_every_leaf_of_the_smoke_override_is_declared():
    override = yaml.safe_load((ROOT / "config/paper_smoke.yaml").read_text())
    assert not disallowed(override)


def test_the_allow_list_rejects_what_would_make_another_experiment():
    for key in ({"attack_model": {"lr": 0.1}}, {"datasets": {"cifar100_alexnet": {"model": {
            "arch": "fc"}}}}, {"federated": {"parties": 2}}, {"standalone": {"datasets": []}},
            {"datasets": {"purchase100": {"source": "synthetic"}}}):
        assert disallowed(key), key


def test_the_smoke_profile_keeps_the_paper_profiles_dag():
    # Same datasets per scenario, the same architectures and the same attacks: only values change.
    paper = resources.profile_config(ROOT, "config/paper.yaml")
    smoke = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    from snakemake.utils import update_config

    update_config(smoke, yaml.safe_load((ROOT / "config/paper_smoke.yaml").read_text()))
    for scenario in ("standalone", "finetune", "federated"):
        assert smoke[scenario]["datasets"] == paper[scenario]["datasets"]
    for name, cfg in paper["datasets"].items():
        if name in smoke["datasets"]:
            assert smoke["datasets"][name]["model"]["arch"] == cfg["model"]["arch"]
