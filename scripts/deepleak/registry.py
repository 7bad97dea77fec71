"""Every dataset DeepLeak can read, in one table: where its raw files come from, their published
digests, the format that reads them and the offline stand-in that can replace them.

The paper's datasets (Section IV-A): Purchase100, Texas100 and Location, published by Shokri et
al. as archives of 0/1 feature vectors; CIFAR-100; and Fashion-MNIST, the small real image dataset
the quick profiles run on. Each is read in its original on-disk layout; a stand-in is written in
exactly that layout, so one loader, and its tests, serve both.

Adding a dataset: one entry in ``DATASETS``; a loader only if its format is new (a key of
``FORMATS`` naming a fetch and a prepare function); one block under ``datasets:`` in the config.

This module imports nothing heavy: the workflow plans its DAG from it without numpy or torch; a
format's functions are imported only when they run.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = [
    "Dataset", "TabularLayout", "ImageLayout", "Format", "DATASETS", "FORMATS",
    "FASHION_MNIST_DEBIAN_DIR",
    "ChecksumError", "DatasetNotFound", "DatasetFormatError",
    "get", "with_digests", "raw_files", "fetch", "prepare", "generate_standin",
]


class ChecksumError(RuntimeError):
    """A file's size or digest differs from the published one (truncated, tampered or another
    file)."""


class DatasetNotFound(RuntimeError):
    """No copy of a real dataset could be had (no local file, every download failed or was
    disabled)."""


class DatasetFormatError(ValueError):
    """A file does not hold what the dataset's on-disk format says it should."""


@dataclass(frozen=True)
class TabularLayout:
    """Shokri et al.'s archive layout: headerless CSV of 0/1 features, labels 1..n_classes."""

    feats: str            # member with the features (and the label column if ``labels`` is None)
    labels: str | None    # separate label member (Texas); None: the label is column 0 of ``feats``
    n_features: int       # 0/1 columns
    quoted_labels: bool = False  # Location writes its label as "12"
    n_records: int | None = None  # rows of the real archive (the resource model's memory estimate)


@dataclass(frozen=True)
class ImageLayout:
    """An image dataset with an official train / test split (members are drawn from the training
    images, non-members from the test images, as the paper's CIFAR-100 models were trained)."""

    shape: tuple[int, int, int]  # C, H, W
    n_train: int                 # official training images
    n_test: int                  # official test images


@dataclass(frozen=True)
class Dataset:
    """One dataset. Its raw files live under ``data/raw/<name>/`` (a stand-in's under
    ``data/raw/<name>/synthetic/``)."""

    name: str
    kind: str                    # "tabular" (0/1 vectors) or "image" (uint8 [C, H, W])
    format: str                  # a key of FORMATS: the functions that fetch and read the files
    files: tuple[str, ...]       # the raw files, relative to data/raw/<name>/
    n_classes: int
    layout: TabularLayout | ImageLayout
    # Published digests per raw file, each checked on every copy (absent: not published).
    digests: dict = field(default_factory=dict)
    urls: tuple[str, ...] = ()   # tried in order when no local copy exists
    local_copy: str | None = None  # a folder where a system package installs the files
    how_to_get: str = ""         # what a user does when no copy can be had
    standin: str | None = None   # "module:function" -> (X, y, summary) of a stand-in, or None

    @property
    def archive(self) -> str:
        """The single raw file of a dataset published as one archive."""
        return self.files[0]


# Where Debian's `dataset-fashion-mnist` package (apt-get install -y dataset-fashion-mnist) puts
# Fashion-MNIST.
FASHION_MNIST_DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"

_FASHION_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                  "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


_SHOKRI_URLS = ("https://github.com/privacytrustlab/datasets/raw/master/",
                "https://www.comp.nus.edu.sg/~reza/files/")


def _shokri(name, archive, feats, labels, n_features, n_classes, digests, **kw) -> Dataset:
    """One of Shokri et al.'s archives: the lab's GitHub mirror first (its git blob SHA-1s are
    known), then the lab's own page, whose byte identity with the mirror is not established."""
    return Dataset(
        name=name, kind="tabular", format="shokri_tgz", files=(archive,), n_classes=n_classes,
        layout=TabularLayout(feats, labels, n_features, kw.pop("quoted_labels", False),
                             kw.pop("n_records", None)),
        digests={archive: digests},
        urls=tuple(url + archive for url in _SHOKRI_URLS),
        how_to_get=(f"download {archive} from {_SHOKRI_URLS[0]}{archive} to data/raw/{name}/; "
                    f"or set `datasets.{name}.path` in the config to a local copy"
                    + (f"; or set `datasets.{name}.source: synthetic` to use the offline stand-in "
                       f"(a generated dataset, labelled as such in every table and figure)"
                       if kw.get("standin") else "")),
        **kw)


DATASETS: dict[str, Dataset] = {d.name: d for d in (
    _shokri("purchase100", "dataset_purchase.tgz", "dataset_purchase", None, 600, 100,
            {"size": 22_045_876, "blob_sha1": "3efa7476ad5ed7ac3e558d28585a186b38fc5f19"},
            standin="deepleak.datasets:purchase_standin", n_records=197_324),
    # 6,169 columns in the file (the paper's text says 6,170); the archive's size is not published.
    _shokri("texas100", "dataset_texas.tgz", "texas/100/feats", "texas/100/labels", 6169, 100,
            {"blob_sha1": "966f7ff40b24cf5912ff84759aab9adb8c25f30e"},
            standin="deepleak.datasets:texas_standin", n_records=67_330),
    _shokri("location", "dataset_location.tgz", "bangkok", None, 446, 30,
            {"size": 287_293, "blob_sha1": "0cfc2caa0c8c8569cd68a5d4ab369a98c1f98447",
             "sha256": "927203f85a868f8ee17a0ded1dc61699efe602167beabe34fbf45b4b1de94b33",
             "md5": "66851c781a61f51b35ead292b5f303e3"},
            quoted_labels=True, n_records=5_010),
    # The four IDX files, decompressed. Upstream (and torchvision) publish only the md5 of the .gz
    # files, and Debian re-gzipped them (its .gz lack the file-name header field), so every copy is
    # verified on its decompressed bytes, against sha256 digests measured on Debian's copy that
    # other public loaders pin for the upstream files too. Downloads go through torchvision, which
    # checks its md5 of each .gz.
    Dataset(
        name="fashion_mnist", kind="image", format="idx", files=_FASHION_FILES, n_classes=10,
        layout=ImageLayout(shape=(1, 28, 28), n_train=60_000, n_test=10_000),
        digests={f: {"sha256": d} for f, d in zip(_FASHION_FILES, (
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"), strict=True)},
        local_copy=FASHION_MNIST_DEBIAN_DIR,
        how_to_get=(
            "install Debian's copy (`sudo apt-get update && sudo apt-get install -y "
            f"dataset-fashion-mnist`, which puts it under {FASHION_MNIST_DEBIAN_DIR}/); or put the "
            "four IDX files (.gz or decompressed) from "
            "https://github.com/zalandoresearch/fashion-mnist in data/raw/fashion_mnist/; or set "
            "`datasets.<dataset>.path` in the config to a folder holding them"),
    ),
    # torchvision's layout; torchvision md5-checks the extracted files on every construction.
    Dataset(
        name="cifar100", kind="image", format="cifar_python",
        files=("cifar-100-python/train", "cifar-100-python/test", "cifar-100-python/meta"),
        n_classes=100, layout=ImageLayout(shape=(3, 32, 32), n_train=50_000, n_test=10_000),
        digests={"cifar-100-python/train": {"md5": "16019d7e3df5f24257cddd939b257f8d"},
                 "cifar-100-python/test": {"md5": "f0ef6b0ae62326f3e7ffdfab6717acfc"},
                 "cifar-100-python/meta": {"md5": "7973b15100ade9c7d40fb424638fde48"}},
        urls=("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",),
        how_to_get=(
            "download https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz (169 MB, md5 "
            "eb9058c3a382ffc7106e4002c42a8d85) and set `datasets.<dataset>.path` in the config to "
            "it (or to the folder it extracts to), or extract it into data/raw/cifar100/"),
    ),
)}

@dataclass(frozen=True)
class Format:
    """The functions that handle one on-disk format, as "module:function" (imported when called)."""

    fetch: str                # fetch(entry, raw_dir, *, local_path, download) -> record
    prepare: str              # prepare(entry, raw_dir, *, subset, seed) -> (arrays, provenance)
    write: str | None = None  # write(entry, raw_dir, X, y) -> path: how a stand-in is written


FORMATS: dict[str, Format] = {
    "shokri_tgz": Format("deepleak.datasets:fetch", "deepleak.datasets:prepare",
                         "deepleak.datasets:write"),
    "idx": Format("deepleak.images:fetch_idx", "deepleak.images:prepare_idx"),
    "cifar_python": Format("deepleak.images:fetch_cifar", "deepleak.images:prepare_cifar"),
}


def get(name: str) -> Dataset:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; the registry (deepleak/registry.py) knows "
                         f"{sorted(DATASETS)}")
    return DATASETS[name]


def _resolve(ref: str):
    module, function = ref.split(":")
    return getattr(importlib.import_module(module), function)


def raw_files(name: str, raw_dir: str) -> list[str]:
    """The paths of a dataset's raw files under ``raw_dir``."""
    return [f"{raw_dir}/{f}" for f in get(name).files]


def with_digests(name: str, digests: dict | None) -> Dataset:
    """``name``'s entry, verified against ``digests`` instead of the published ones where the
    config gives them (``datasets.<d>.digests``: a copy that is not the published file, such as a
    test's generated archive, per raw file as ``Dataset.digests``). Every raw file must be named:
    a partial override would leave a file unchecked. Without ``digests`` the published digests
    hold, unchanged."""
    entry = get(name)
    if not digests:
        return entry
    missing = sorted(set(entry.digests) - set(digests))
    stray = sorted(set(digests) - set(entry.files))
    if missing or stray:
        raise ValueError(
            f"datasets.<dataset>.digests must give a digest for each raw file of {name} "
            f"({list(entry.files)}), like the registry's; missing {missing}, unknown {stray}")
    return replace(entry, digests={f: dict(d) for f, d in digests.items()})


def fetch(name: str, raw_dir, *, local_path=None, download: bool = True,
          digests: dict | None = None) -> dict:
    """Put the verified raw files of ``name`` under ``raw_dir`` and say where each came from.
    Raises ``DatasetNotFound`` / ``ChecksumError`` with what to do; never falls back to a
    stand-in. ``digests``: the config's own digests (:func:`with_digests`)."""
    entry = with_digests(name, digests)
    return _resolve(FORMATS[entry.format].fetch)(entry, Path(raw_dir), local_path=local_path,
                                                 download=download)


def prepare(name: str, raw_dir, *, subset=None, seed: int = 0,
            digests: dict | None = None) -> tuple[dict, dict]:
    """The canonical arrays of ``name`` (``X``, ``y`` 0-based, and ``official_train`` for image
    data) read from the raw files under ``raw_dir``, and their provenance record. With the
    config's own ``digests`` (:func:`with_digests`) that differ from the published ones, the
    provenance says the files are not the published ones (``matches_published``: False), and the
    tables treat the run as not the paper's data."""
    entry = with_digests(name, digests)
    arrays, provenance = _resolve(FORMATS[entry.format].prepare)(entry, Path(raw_dir),
                                                                 subset=subset, seed=seed)
    if entry.digests != get(name).digests:
        provenance.update(matches_published=False, digests_from="config datasets.<d>.digests")
    return arrays, provenance


def generate_standin(name: str, raw_dir, *, n_records: int, seed: int, **params) -> dict:
    """Write ``name``'s offline stand-in under ``raw_dir`` in the real on-disk layout, atomically
    and deterministically from ``seed``; ``params`` override the generator's defaults (unknown keys
    are an error). Returns a summary for the provenance record."""
    entry = get(name)
    if entry.standin is None:
        raise ValueError(
            f"dataset {name!r} has no offline stand-in; those with one: "
            f"{sorted(n for n, d in DATASETS.items() if d.standin)}. Use source: real.")
    if int(n_records) < 1:
        raise ValueError(f"datasets.{name}.standin.n_records must be positive, got {n_records}")
    X, y, summary = _resolve(entry.standin)(int(n_records), int(seed), **params)
    path = _resolve(FORMATS[entry.format].write)(entry, Path(raw_dir), X, y)
    import numpy as np

    from deepleak import files

    counts = np.bincount(y, minlength=entry.n_classes)
    return {"dataset": name, "source": "synthetic", "generator": entry.standin, "seed": int(seed),
            **summary, "n_records": int(len(X)), "n_features": int(X.shape[1]),
            "density": float(X.mean()), "class_count_min": int(counts.min()),
            "class_count_max": int(counts.max()), "path": str(path),
            # what prepare_dataset checks the archive against: a stand-in has no published digest
            "sha256": files.sha256(path)}
