"""End to end: the paper profile's own DAG (config/paper.yaml), every target, tiny
(config/paper_smoke.yaml, whose keys tests/test_paper_smoke_config.py polices), on archives
generated here in the real formats (tests/archives.py) and a checkpoint in bearpaw's format, given
as local copies with their digests (the references file). Whatever the paper profile would hit at
run time (a missing key, a shape, a table that cannot find its row) fails here.

Also: the peak memory of the largest feature-extraction job (ResNet, per-example conv-layer
gradients) at two record counts, from Snakemake's benchmark files, must not grow with the records
beyond its output, so that a blow-up at 60,000 records shows here."""
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e

CONFIGS = ("config/paper.yaml", "config/paper_smoke.yaml", "config/paper_smoke_refs.yaml")
CIFAR_IMAGES = (400, 200)  # official train / test images of the generated archive
TABULAR_RECORDS = 1200


def snakemake(workdir, *args, configs=CONFIGS, env=None):
    # Targets before --configfile, which takes every word after it.
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args, "--configfile", *configs]
    env = {**os.environ, "PYTHONPATH": str(workdir / "scripts"), **(env or {})}
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env)


def bearpaw_checkpoint(path, spec, seed=0):
    """A checkpoint as bearpaw's cifar.py saves one: the DataParallel model's state dict (keys
    prefixed "module."), the epoch, the best accuracy and the optimizer's state. Returns its
    sha256."""
    import torch
    from deepleak import files, models

    net = models.build_model(spec, [3, 32, 32], 100, seed=seed)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    net(torch.rand(4, 3, 32, 32) * 255).sum().backward()
    opt.step()  # momentum buffers in the optimizer's state, as in a real checkpoint
    torch.save({"epoch": 164, "state_dict": {f"module.{k}": v for k, v in net.state_dict().items()},
                "best_acc": 43.87, "optimizer": opt.state_dict()}, path)
    return files.sha256(path)


def prepare(dest, cifar_images=CIFAR_IMAGES):
    """A copy of the repository with generated archives under archives/ and the references file
    (config/paper_smoke_refs.yaml) naming them, their digests and the checkpoint."""
    import archives
    from test_workflow import fresh_copy

    work = fresh_copy(dest)
    (work / "archives").mkdir()
    paper = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    refs = {"datasets": {}}
    for name, archive in (("purchase100", "dataset_purchase.tgz"),
                          ("texas100", "dataset_texas.tgz")):
        digests = archives.write_shokri(name, work / "archives" / archive, TABULAR_RECORDS, seed=1)
        refs["datasets"][name] = {"path": f"archives/{archive}", "digests": digests}
    digests = archives.write_cifar100(work / "archives/cifar-100-python.tar.gz", *cifar_images,
                                      seed=2)
    for name, cfg in paper["datasets"].items():
        if cfg.get("data") == "cifar100":
            refs["datasets"][name] = {"path": "archives/cifar-100-python.tar.gz",
                                      "digests": digests}
    # cifar100_alexnet attacks a "published" model: bearpaw's format, loaded, not trained.
    spec = paper["datasets"]["cifar100_alexnet"]["model"]
    sha = bearpaw_checkpoint(work / "archives/alexnet.pth.tar", spec)
    refs["datasets"]["cifar100_alexnet"]["model"] = {
        "checkpoint": {"path": "archives/alexnet.pth.tar", "sha256": sha}}
    (work / CONFIGS[-1]).write_text(yaml.safe_dump(refs, sort_keys=True))
    return work, refs


def test_references_stay_within_the_allow_list(tmp_path):
    from test_paper_smoke_config import disallowed

    _, refs = prepare(tmp_path / "refs", cifar_images=(20, 10))
    assert not disallowed(refs)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    work, _ = prepare(tmp_path_factory.mktemp("paper_smoke") / "work")
    start = time.monotonic()
    out = snakemake(work)
    (work / "wall_seconds").write_text(f"{time.monotonic() - start:.0f}\n")
    assert out.returncode == 0, (out.stdout + out.stderr)[-6000:]
    return work


def test_every_target_of_the_paper_profile_is_produced(smoke):
    dry = snakemake(smoke, "-n")
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr
    for table in ("table3", "table4", "table5", "table6", "table7", "table8", "table9", "table10",
                  "table12", "table13", "claims"):
        assert (smoke / f"results/tables/{table}.csv").stat().st_size > 0, table
    for figure in ("figure2", "figure3", "figure4", "figure5", "figure6", "figure7"):
        for ext in ("png", "pdf"):
            assert (smoke / f"figures/{figure}.{ext}").stat().st_size > 0, figure


def test_every_paper_row_has_its_run(smoke):
    def rows(table):
        with open(smoke / f"results/tables/{table}.csv") as f:
            return list(csv.DictReader(f))

    def datasets(table):
        return {r["dataset"] for r in rows(table)}

    standalone = {"purchase100", "texas100", "cifar100_alexnet", "cifar100_resnet",
                  "cifar100_densenet"}
    assert datasets("table8") == standalone
    assert datasets("table9") == {"purchase100", "texas100", "cifar100_alexnet",
                                  "cifar100_densenet"}
    assert datasets("table10") == {"purchase100", "texas100", "cifar100_alexnet",
                                   "cifar100_densenet"}
    # Tables XII and XIII: CIFAR100-AlexNet, four epoch sets and four party counts.
    assert datasets("table12") == datasets("table13") == {"cifar100_alexnet"}
    assert len(rows("table12")) == 4 and len(rows("table13")) == 4
    # Generated archives are not the published data: no row compares itself with the paper.
    assert "unpublished copy" in (smoke / "results/tables/table8.md").read_text()


def test_the_bearpaw_checkpoint_is_what_was_attacked(smoke):
    meta = json.loads((smoke / "results/cifar100_alexnet/standalone/r0/models/target/meta.json")
                      .read_text())
    assert meta["pretrained"]["epoch"] == 164 and meta["pretrained"]["best_acc"] == 43.87
    assert meta["n_train"] == CIFAR_IMAGES[0]  # its members: every official training image
    prov = json.loads((smoke / "results/cifar100_alexnet/provenance.json").read_text())
    assert prov["matches_published"] is False and prov["n_records"] == sum(CIFAR_IMAGES)


def test_the_smoke_run_stays_small(smoke):
    # Its wall time, for the report (CI budget: all of .ci/run within 30 minutes on 2 cores).
    seconds = int((smoke / "wall_seconds").read_text())
    print(f"paper-profile smoke run: {seconds} s")
    assert seconds > 0


# --------------------------------------------------------------------------------------------------
# Memory of the largest feature-extraction job at two record counts
# --------------------------------------------------------------------------------------------------
# The feature-extraction job with the largest peak of the smoke run: ResNet's (1.7 GB against
# DenseNet's 1.0 GB at the same records; its features batch 256 records and 64 per-example
# conv-layer gradients at a time, config/paper.yaml).
MEMORY_DATASET = "cifar100_resnet"
# Featured records (the attack's known and test members + non-members), both several batches: the
# allocator's peak rises over the first batches and then stays (exact peaks: 1,706, 1,982 and
# 2,037 MB at 400, 800 and 1,600 records with one malloc arena), so a first size of one batch would
# read the warm-up as growth.
MEMORY_RECORDS = (800, 1600)


def sizes_for(n_records):
    """Stand-alone sizes whose attack sets hold ``n_records`` records, half members."""
    q = n_records // 4
    return {"target_train": 2 * q, "target_test": 2 * q, "attack_train_members": q,
            "attack_train_nonmembers": q, "attack_test_members": q, "attack_test_nonmembers": q,
            "shadow_train": q, "shadow_test": q}


# Every Python process of the run appends its script's name and its peak resident memory, as the
# kernel counts it (ru_maxrss, KiB on Linux), when it exits. Snakemake's benchmark files sample the
# memory now and then instead, and miss the peak of a job that lasts seconds.
PEAK_RSS_HOOK = """
import atexit, os, resource, sys

def _peak_rss():
    with open(os.environ["DEEPLEAK_PEAK_RSS"], "a") as f:
        f.write(f"{os.path.basename(sys.argv[0])}\\t{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n")

if os.environ.get("DEEPLEAK_PEAK_RSS") and sys.argv and sys.argv[0]:
    atexit.register(_peak_rss)
"""


def peak_memory(n_records, base):
    """Peak resident memory (MB) of the feature-extraction job at ``n_records`` featured records,
    and the size of its output (MB)."""
    from test_paper_smoke_config import disallowed

    work, _ = prepare(base / f"n{n_records}", cifar_images=(2000, 1000))
    override = {"datasets": {MEMORY_DATASET: {"standalone": {"sizes": sizes_for(n_records)}}}}
    assert not disallowed(override)
    (work / "config/memory.yaml").write_text(yaml.safe_dump(override))
    hook, peaks = base / f"hook{n_records}", base / f"peaks{n_records}.tsv"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(PEAK_RSS_HOOK)
    target = f"results/{MEMORY_DATASET}/standalone/r0/features/target.npz"
    out = snakemake(work, target, configs=(*CONFIGS, "config/memory.yaml"),
                    env={"PYTHONPATH": f"{work / 'scripts'}{os.pathsep}{hook}",
                         "DEEPLEAK_PEAK_RSS": str(peaks), "MALLOC_ARENA_MAX": "1"})
    assert out.returncode == 0, (out.stdout + out.stderr)[-6000:]
    # Snakemake runs a rule script as a temporary copy named after it (...extract_features.py).
    kib = [int(v) for name, v in (line.split("\t") for line in peaks.read_text().splitlines())
           if name.endswith("extract_features.py")]
    assert len(kib) == 1, peaks.read_text()
    return kib[0] / 1024, (work / target).stat().st_size / 2**20


def test_feature_extraction_memory_does_not_grow_with_the_records(tmp_path):
    (small_rss, small_out), (large_rss, large_out) = (peak_memory(n, tmp_path)
                                                       for n in MEMORY_RECORDS)
    print(f"{MEMORY_DATASET} extract_features peak RSS: {small_rss:.0f} MB at "
          f"{MEMORY_RECORDS[0]} records (features {small_out:.1f} MB), {large_rss:.0f} MB at "
          f"{MEMORY_RECORDS[1]} (features {large_out:.1f} MB)")
    # The job holds its output (the features) in memory before writing it; everything else is
    # bounded by the batch and chunk sizes. 250 MB of slack for the allocator, whose peak varies
    # between runs (800 -> 1,600 records measured +55 and +126 MB on a quiet machine): what this
    # guards against is per-record memory (800 more records' per-example ResNet gradients would add
    # ~5 GB; anything above ~0.3 MB a record shows).
    assert large_rss - small_rss <= 2 * (large_out - small_out) + 250
