"""The image datasets: Fashion-MNIST (real, available offline) and CIFAR-100 (SPEC.md 3.1).

Both end as the same canonical arrays as the tabular datasets (``results/<dataset>/dataset.npz``):
``X`` uint8 images [n, C, H, W] (raw pixel values; every image model normalises inside itself, so
training and inference cannot disagree, deepleak/cnn.py), ``y`` 0-based labels, and
``official_train``, a bool per record saying whether it is one of the dataset's official training
images. The paper's CIFAR-100 members are the training images of the public models and its
non-members the test images (SPEC.md 3.2, DATASETS.md), so the stand-alone splits of an image
dataset draw members from ``official_train`` and non-members from the rest (deepleak/splits.py,
``official_standalone_splits``).

Where the raw files come from (DATASETS.md):

- ``fashion_mnist``: the four IDX files, decompressed, in ``data/raw/fashion_mnist/``. :func:`fetch`
  takes them from the first of: ``.gz`` files already in that folder; the local copy the config
  names (``datasets.<d>.path``: a folder with the IDX files, gzipped or not); the copy Debian's
  ``dataset-fashion-mnist`` package installs under ``/usr/share/datasets/fashion-mnist/``; a
  download through torchvision (md5 of the .gz checked by torchvision). Debian re-gzipped the files
  (its .gz lack the file-name header field, 24 bytes shorter), so their md5 differs from the
  published one: every copy is verified on its *decompressed* bytes instead, against the sha256
  digests below, which other public loaders pin as well. Nothing is ever silently replaced: when no
  copy can be had the error says how to get one.
- ``cifar100``: ``data/raw/cifar100/cifar-100-python/{train,test,meta}``, the layout torchvision's
  ``datasets.CIFAR100`` reads and md5-verifies on every construction (even with ``download=False``).
  :func:`fetch` copies them from the config's ``path`` (that folder, its parent, or the Toronto
  ``.tar.gz``) or downloads through torchvision; :func:`load_cifar100` reads them through
  torchvision, so the md5 check of the extracted files always runs. A synthetic file in that layout
  cannot pass it, which is why the tests exercise the rest of that path with a stand-in for the
  torchvision class.

Nothing here knows about Snakemake; torch/torchvision are imported only where needed (a download,
CIFAR).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepleak.datasets import ChecksumError, DatasetFormatError, DatasetNotFound

__all__ = [
    "ImageSource",
    "SOURCES",
    "FASHION_MNIST_DEBIAN_DIR",
    "is_image",
    "raw_files",
    "fetch",
    "read_idx",
    "load_fashion_mnist",
    "load_cifar100",
    "prepare",
    "subset",
]

_CHUNK = 1 << 20

# Where Debian's `dataset-fashion-mnist` package (apt-get install -y dataset-fashion-mnist) puts the
# data.
FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class ImageSource:
    """One real image dataset: the raw files under ``data/raw/<name>/`` and what they must hold."""

    name: str
    files: tuple[str, ...]  # raw files the prepare step reads, relative to data/raw/<name>/
    shape: tuple[int, int, int]  # C, H, W
    n_classes: int
    n_train: int  # official training images
    n_test: int  # official test images
    how_to_get: str  # what a user does when no copy can be had


SOURCES: dict[str, ImageSource] = {
    "fashion_mnist": ImageSource(
        name="fashion_mnist",
        files=(
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        ),
        shape=(1, 28, 28),
        n_classes=10,
        n_train=60_000,
        n_test=10_000,
        how_to_get=(
            "install Debian's copy (`sudo apt-get update && sudo apt-get install -y "
            "dataset-fashion-mnist`, which puts it under /usr/share/datasets/fashion-mnist/); or "
            "put the four IDX files (.gz or decompressed) from "
            "https://github.com/zalandoresearch/fashion-mnist in data/raw/fashion_mnist/; or set "
            "`datasets.<dataset>.path` in the config to a folder holding them"
        ),
    ),
    "cifar100": ImageSource(
        name="cifar100",
        files=("cifar-100-python/train", "cifar-100-python/test", "cifar-100-python/meta"),
        shape=(3, 32, 32),
        n_classes=100,
        n_train=50_000,
        n_test=10_000,
        how_to_get=(
            "download https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz (169 MB, md5 "
            "eb9058c3a382ffc7106e4002c42a8d85) and set `datasets.<dataset>.path` in the config to "
            "it (or to the folder it extracts to), or extract it into data/raw/cifar100/"
        ),
    ),
}

# sha256 of the *decompressed* Fashion-MNIST IDX files. Upstream (and torchvision) publish only the
# md5 of the .gz files. These digests were measured on Debian's copy (whose .gz files differ from
# upstream's only by the gzip header's file-name field, 24 bytes) and are the ones other public
# loaders pin for the upstream files.
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

# md5 of the extracted CIFAR-100 files (DATASETS.md; torchvision checks them on every construction).
CIFAR100_MD5 = {
    "train": "16019d7e3df5f24257cddd939b257f8d",
    "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
    "meta": "7973b15100ade9c7d40fb424638fde48",
}


def is_image(name: str) -> bool:
    """Whether ``name`` (the underlying data of a dataset entry) is one of the image datasets."""
    return name in SOURCES


def _source(name: str) -> ImageSource:
    if name not in SOURCES:
        raise ValueError(f"unknown image dataset {name!r}; known: {sorted(SOURCES)}")
    return SOURCES[name]


def raw_files(name: str) -> list[str]:
    """The raw files of an image dataset, relative to ``data/raw/<name>/``."""
    return list(_source(name).files)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _replace_atomically(src_stream, dest: Path) -> None:
    """Write a stream to ``dest`` through a temporary file beside it (never a half-written file)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    try:
        with open(tmp, "wb") as out:
            shutil.copyfileobj(src_stream, out, _CHUNK)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


# --------------------------------------------------------------------------------------------------
# Fashion-MNIST
# --------------------------------------------------------------------------------------------------

_IDX_TYPES = {0x08: np.uint8}  # the only element type the MNIST family uses


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzipped or not): header ``0, 0, type, ndim``, big-endian dims, data."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise DatasetFormatError(
            f"{path} cannot be read as an IDX file ({err}); delete it and fetch it again."
        ) from err
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise DatasetFormatError(
            f"{path} is not an IDX file of unsigned bytes (magic "
            f"{data[:4].hex() if data else 'empty'}); expected 0000 08 0n."
        )
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    body = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(data) - body != expected:
        raise DatasetFormatError(
            f"{path}: the header says {tuple(dims)} ({expected} bytes) but the file holds "
            f"{len(data) - body}; it is truncated or not this dataset. Delete it and fetch it "
            "again."
        )
    return np.frombuffer(data, dtype=_IDX_TYPES[data[2]], offset=body).reshape(tuple(dims))


def _verify_fashion_file(path: Path, name: str) -> str:
    """Check one decompressed IDX file against its sha256; return the digest."""
    digest = _sha256(path)
    if digest != FASHION_MNIST_SHA256[name]:
        raise ChecksumError(
            f"{path} is not the published Fashion-MNIST {name}: sha256 {digest}, expected "
            f"{FASHION_MNIST_SHA256[name]}. Delete it and fetch it again "
            f"({SOURCES['fashion_mnist'].how_to_get})."
        )
    return digest


def _candidates(name: str, dest_dir: Path, local_path) -> list[tuple[str, Path]]:
    """Where a Fashion-MNIST file may already be, in the order they are tried."""
    out = [("data/raw (gzipped)", dest_dir / f"{name}.gz")]
    if local_path is not None:
        local = Path(local_path)
        out += [("config path", local / name), ("config path", local / f"{name}.gz")]
    out += [
        ("Debian package dataset-fashion-mnist", FASHION_MNIST_DEBIAN_DIR / f"{name}.gz"),
        ("Debian package dataset-fashion-mnist", FASHION_MNIST_DEBIAN_DIR / name),
    ]
    return out


def _download_fashion_gz(name: str, folder: Path) -> Path:
    """Download one .gz through torchvision's mirrors; torchvision checks its published md5."""
    from torchvision.datasets import FashionMNIST
    from torchvision.datasets.utils import download_url

    md5 = dict(FashionMNIST.resources)[f"{name}.gz"]
    failures = []
    for mirror in FashionMNIST.mirrors:
        try:
            download_url(f"{mirror}{name}.gz", root=str(folder), filename=f"{name}.gz", md5=md5)
            return folder / f"{name}.gz"
        except Exception as err:  # noqa: BLE001 - every failure is reported, none swallowed
            failures.append(f"{mirror}{name}.gz: {type(err).__name__}: {err}")
    raise DatasetNotFound("; ".join(failures))


def _fetch_fashion_mnist(dest_dir: Path, local_path, download: bool) -> dict:
    src = SOURCES["fashion_mnist"]
    if local_path is not None and not Path(local_path).is_dir():
        raise DatasetNotFound(
            f"datasets.<dataset>.path in the config points at {local_path}, which is not a folder; "
            "give the folder holding the four Fashion-MNIST IDX files."
        )
    record = {}
    for name in src.files:
        dest = dest_dir / name
        origin = None
        for where, cand in _candidates(name, dest_dir, local_path):
            if cand.is_file():
                opener = gzip.open if cand.suffix == ".gz" else open
                with opener(cand, "rb") as stream:
                    _replace_atomically(stream, dest)
                origin = (where, str(cand))
                break
        if origin is None:
            if not download:
                raise DatasetNotFound(
                    f"no copy of Fashion-MNIST's {name} was found (looked in "
                    f"{[str(c) for _, c in _candidates(name, dest_dir, local_path)]}) and "
                    f"downloading is disabled. To fix this: {src.how_to_get}."
                )
            with tempfile.TemporaryDirectory(dir=dest_dir) as tmp:
                try:
                    gz = _download_fashion_gz(name, Path(tmp))
                except Exception as err:  # noqa: BLE001 - re-raised with what to do
                    raise DatasetNotFound(
                        f"no local copy of Fashion-MNIST's {name} (looked in "
                        f"{[str(c) for _, c in _candidates(name, dest_dir, local_path)]}) and the "
                        f"torchvision download failed ({err}). To fix this: {src.how_to_get}."
                    ) from err
                with gzip.open(gz, "rb") as stream:
                    _replace_atomically(stream, dest)
            origin = ("torchvision download", "md5 of the .gz checked by torchvision")
        try:
            digest = _verify_fashion_file(dest, name)
        except ChecksumError:
            dest.unlink(missing_ok=True)  # never leave an unverified file where the pipeline reads
            raise
        record[name] = {"from": origin[0], "path": origin[1], "sha256": digest}
    return record


def load_fashion_mnist(folder: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X uint8 [70000, 1, 28, 28], y [70000], official_train [70000])`` from the four IDX files.

    Training images first, then the test images. Shapes, image counts and the label range are
    checked, so a wrong or truncated file is an error here even without its checksum.
    """
    folder = Path(folder)
    src = SOURCES["fashion_mnist"]
    parts = []
    for split, n in (("train", src.n_train), ("t10k", src.n_test)):
        images = read_idx(folder / f"{split}-images-idx3-ubyte")
        labels = read_idx(folder / f"{split}-labels-idx1-ubyte")
        if images.ndim != 3 or images.shape[1:] != src.shape[1:] or labels.shape != (len(images),):
            raise DatasetFormatError(
                f"{folder}: {split} images {images.shape} / labels {labels.shape} are not n x 28 x "
                "28 images with one label each."
            )
        if len(images) != n:
            raise DatasetFormatError(
                f"{folder}: {split} has {len(images)} images, Fashion-MNIST has {n}."
            )
        if labels.max(initial=0) >= src.n_classes:
            raise DatasetFormatError(
                f"{folder}: {split} labels reach {labels.max()}; Fashion-MNIST has labels "
                f"0..{src.n_classes - 1}."
            )
        parts.append(
            (images[:, None], labels.astype(np.int64), np.full(len(images), split == "train"))
        )
    X, y, official_train = (np.concatenate(a) for a in zip(*parts, strict=True))
    return X, y, official_train


# --------------------------------------------------------------------------------------------------
# CIFAR-100
# --------------------------------------------------------------------------------------------------


def _fetch_cifar100(dest_dir: Path, local_path, download: bool) -> dict:
    """Put ``cifar-100-python/{train,test,meta}`` under ``dest_dir`` (torchvision's root),
    md5-checked."""
    from torchvision.datasets import CIFAR100
    from torchvision.datasets.utils import check_integrity, extract_archive

    src = SOURCES["cifar100"]
    expected = {name: md5 for name, md5 in CIFAR100.train_list + CIFAR100.test_list}
    expected[CIFAR100.meta["filename"]] = CIFAR100.meta["md5"]
    base = dest_dir / CIFAR100.base_folder
    origin = "data/raw"
    if local_path is not None:
        local = Path(local_path)
        if local.is_file():
            if not check_integrity(str(local), CIFAR100.tgz_md5):
                raise ChecksumError(
                    f"{local} (datasets.<dataset>.path) is not the published {CIFAR100.filename} "
                    f"(md5 {CIFAR100.tgz_md5}). To fix this: {src.how_to_get}."
                )
            extract_archive(str(local), str(dest_dir))
            origin = f"config path {local}"
        elif local.is_dir():
            folder = (
                local / CIFAR100.base_folder if (local / CIFAR100.base_folder).is_dir() else local
            )
            for name in expected:
                if not (folder / name).is_file():
                    raise DatasetNotFound(
                        f"{folder} (datasets.<dataset>.path) holds no CIFAR-100 {name}. To fix "
                        f"this: {src.how_to_get}."
                    )
                with open(folder / name, "rb") as stream:
                    _replace_atomically(stream, base / name)
            origin = f"config path {folder}"
        else:
            raise DatasetNotFound(
                f"datasets.<dataset>.path points at {local}, which does not exist. To fix this: "
                f"{src.how_to_get}."
            )
    elif not all((base / name).is_file() for name in expected):
        if not download:
            raise DatasetNotFound(
                f"CIFAR-100 is not in {base} and downloading is disabled. To fix this: "
                f"{src.how_to_get}."
            )
        try:
            CIFAR100(
                root=str(dest_dir), train=True, download=True
            )  # checks the .tar.gz md5, extracts
        except Exception as err:  # noqa: BLE001 - re-raised with what to do
            raise DatasetNotFound(
                f"CIFAR-100 could not be downloaded by torchvision ({type(err).__name__}: {err}). "
                f"To fix this: {src.how_to_get}."
            ) from err
        origin = f"torchvision download of {CIFAR100.url}"
    bad = [name for name, md5 in expected.items() if not check_integrity(str(base / name), md5)]
    if bad:
        raise ChecksumError(
            f"{[str(base / b) for b in bad]} fail torchvision's md5 check (missing, truncated or "
            f"not CIFAR-100). Delete them and fetch again. To fix this: {src.how_to_get}."
        )
    return {name: {"from": origin, "md5": md5} for name, md5 in expected.items()}


def load_cifar100(
    root: str | Path, dataset_class=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X uint8 [60000, 3, 32, 32], y [60000], official_train [60000])`` through torchvision.

    ``root`` is torchvision's root (the folder holding ``cifar-100-python/``). torchvision
    md5-checks the extracted files on every construction; its "not found or corrupted" error is
    re-raised with what to do.
    ``dataset_class`` replaces ``torchvision.datasets.CIFAR100`` (tests only: no synthetic file can
    pass the md5 check, DATASETS.md).
    """
    if dataset_class is None:
        from torchvision.datasets import CIFAR100 as dataset_class
    src = SOURCES["cifar100"]
    parts = []
    for train, n in ((True, src.n_train), (False, src.n_test)):
        try:
            ds = dataset_class(root=str(root), train=train, download=False)
        except RuntimeError as err:
            raise DatasetNotFound(
                f"torchvision cannot read CIFAR-100 under {root} ({err}). To fix this: "
                f"{src.how_to_get}."
            ) from err
        data = np.asarray(ds.data)
        labels = np.asarray(ds.targets, dtype=np.int64)
        if data.shape != (n, 32, 32, 3) or data.dtype != np.uint8 or labels.shape != (n,):
            raise DatasetFormatError(
                f"CIFAR-100 {'train' if train else 'test'} under {root} has images {data.shape} "
                f"{data.dtype} and labels {labels.shape}; expected ({n}, 32, 32, 3) uint8 and "
                f"({n},)."
            )
        if labels.min(initial=0) < 0 or labels.max(initial=0) >= src.n_classes:
            raise DatasetFormatError(
                f"CIFAR-100 labels under {root} fall outside 0..{src.n_classes - 1}."
            )
        # torchvision hands out H, W, C images; the models take C, H, W (as ToTensor would give
        # them).
        parts.append((np.ascontiguousarray(data.transpose(0, 3, 1, 2)), labels, np.full(n, train)))
    X, y, official_train = (np.concatenate(a) for a in zip(*parts, strict=True))
    return X, y, official_train


# --------------------------------------------------------------------------------------------------
# The pipeline's entry points
# --------------------------------------------------------------------------------------------------


def fetch(name: str, dest_dir: str | Path, *, local_path=None, download: bool = True) -> dict:
    """Put the verified raw files of image dataset ``name`` under ``dest_dir`` (``data/raw/<name>``)
    and
    say where each came from. Raises ``DatasetNotFound`` / ``ChecksumError`` with what to do."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    if name == "fashion_mnist":
        return _fetch_fashion_mnist(dest_dir, local_path, download)
    if name == "cifar100":
        return _fetch_cifar100(dest_dir, local_path, download)
    _source(name)
    raise AssertionError(name)  # unreachable: every source has a fetcher


def subset(official_train: np.ndarray, sizes: dict | None, seed: int) -> np.ndarray:
    """Record ids of a seeded random subset: ``sizes['train']`` official training and
    ``sizes['test']`` official test images (quick profiles), in their original order. ``None`` keeps
    everything."""
    if not sizes:
        return np.arange(len(official_train))
    rng = np.random.default_rng(seed)
    keep = []
    for flag, key in ((True, "train"), (False, "test")):
        pool = np.flatnonzero(official_train == flag)
        n = sizes[key]
        if n > len(pool):
            raise ValueError(
                f"datasets.<dataset>.subset.{key} is {n} but the dataset has only {len(pool)} "
                f"official {key} images; lower it or remove `subset`."
            )
        keep.append(rng.choice(pool, size=n, replace=False))
    return np.sort(np.concatenate(keep))


def prepare(
    name: str,
    raw_dir: str | Path,
    *,
    subset_sizes: dict | None = None,
    seed: int = 0,
    dataset_class=None,
) -> tuple[dict[str, np.ndarray], dict]:
    """The canonical arrays and their description: ``({X, y, official_train}, provenance)``."""
    src = _source(name)
    raw_dir = Path(raw_dir)
    if name == "fashion_mnist":
        for f in src.files:  # prepare re-checks: a file edited after the fetch is caught here
            _verify_fashion_file(raw_dir / f, f)
        X, y, official_train = load_fashion_mnist(raw_dir)
        digests = {f: {"sha256": FASHION_MNIST_SHA256[f]} for f in src.files}
    else:
        X, y, official_train = load_cifar100(raw_dir, dataset_class=dataset_class)
        digests = {
            f: {"md5": CIFAR100_MD5[f.split("/")[-1]], "checked_by": "torchvision"}
            for f in src.files
        }
    keep = subset(official_train, subset_sizes, seed)
    X, y, official_train = X[keep], y[keep], official_train[keep]
    counts = np.bincount(y, minlength=src.n_classes)
    provenance = {
        "data": name,
        "raw_dir": str(raw_dir),
        "digests": digests,
        "matches_published": True,  # every raw file was verified above, or load failed
        "n_records": int(len(X)),
        "n_official_train": int(official_train.sum()),
        "n_official_test": int((~official_train).sum()),
        "subset": subset_sizes or None,
        "image_shape": list(X.shape[1:]),
        "n_classes": src.n_classes,
        "classes_present": int((counts > 0).sum()),
        "class_count_min": int(counts.min()),
        "class_count_max": int(counts.max()),
        "labels": "0-based",
        "official_split": "official_train marks the dataset's training images; members are drawn "
        "from them "
        "and non-members from the test images (SPEC.md 3.2)",
    }
    return {"X": X, "y": y, "official_train": official_train}, provenance
