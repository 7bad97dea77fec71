"""The image formats: Fashion-MNIST's IDX files and CIFAR-100's Python pickles (paper Section
IV-A), each read into the same canonical arrays as the tabular datasets
(``results/<dataset>/dataset.npz``): ``X`` uint8 images [n, C, H, W] (raw pixel values; every
image model normalises inside itself, so training and inference cannot disagree,
deepleak/cnn.py), ``y`` 0-based labels, and ``official_train``, a bool per record saying whether
it is one of the dataset's official training images. The paper's CIFAR-100 members are the
training images of its models and its non-members the test images, so the stand-alone splits of
an image dataset draw members from ``official_train`` and non-members from the rest
(deepleak/splits.py, ``official_standalone_splits``).

Where the raw files come from (their names and digests are in deepleak/registry.py):

- ``idx`` (Fashion-MNIST): the four IDX files, decompressed, in ``data/raw/<name>/``.
  :func:`fetch_idx` takes them from the first of: ``.gz`` files already in that folder; the local
  copy the config names (``datasets.<d>.path``: a folder with the IDX files, gzipped or not); the
  folder a system package installs (the entry's ``local_copy``: Debian's
  ``dataset-fashion-mnist``); a download through torchvision (md5 of the .gz checked by
  torchvision). Every copy is verified on its *decompressed* bytes against the registry's sha256.
  Nothing is ever silently replaced: when no copy can be had the error says how to get one.
- ``cifar_python`` (CIFAR-100): ``cifar-100-python/{train,test,meta}``, the layout torchvision's
  ``datasets.CIFAR100`` reads and md5-verifies on every construction (even with
  ``download=False``). :func:`fetch_cifar` copies them from the config's ``path`` (that folder,
  its parent, or the Toronto ``.tar.gz``) or downloads through torchvision; :func:`load_cifar100`
  reads them through torchvision, so the md5 check of the extracted files always runs. A copy that
  is not the published file (a test's generated archive) passes it only where the config gives its
  own digests (``datasets.<d>.digests``, deepleak/registry.py ``with_digests``); its provenance
  then says it is not the published data.

Nothing here knows about Snakemake; torch/torchvision are imported only where needed (a download,
CIFAR).
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
from pathlib import Path

import numpy as np

from deepleak import files
from deepleak.registry import ChecksumError, Dataset, DatasetFormatError, DatasetNotFound

__all__ = [
    "read_idx",
    "load_idx",
    "fetch_idx",
    "prepare_idx",
    "load_cifar100",
    "fetch_cifar",
    "prepare_cifar",
    "subset",
]


def _copy_atomically(src_stream, dest: Path) -> None:
    with files.atomic_path(dest, ".part") as tmp, open(tmp, "wb") as out:
        shutil.copyfileobj(src_stream, out, 1 << 20)


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


def _verify_idx_file(entry: Dataset, path: Path, name: str) -> str:
    """Check one decompressed IDX file against the registry's sha256; return the digest."""
    digest, expected = files.sha256(path), entry.digests[name]["sha256"]
    if digest != expected:
        raise ChecksumError(
            f"{path} is not the published {entry.name} {name}: sha256 {digest}, expected "
            f"{expected}. Delete it and fetch it again ({entry.how_to_get})."
        )
    return digest


def _candidates(entry: Dataset, name: str, dest_dir: Path, local_path) -> list[tuple[str, Path]]:
    """Where an IDX file may already be, in the order they are tried. A folder the config names
    (``datasets.<d>.path``) is the only place looked in: a copy found elsewhere (Debian's, an
    earlier download) would be another source than the one asked for."""
    if local_path is not None:
        local = Path(local_path)
        return [("config path", local / name), ("config path", local / f"{name}.gz")]
    out = [("data/raw (gzipped)", dest_dir / f"{name}.gz")]
    if entry.local_copy is not None:
        system = Path(entry.local_copy)
        out += [("system package copy", system / f"{name}.gz"),
                ("system package copy", system / name)]
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


def fetch_idx(entry: Dataset, dest_dir: Path, *, local_path=None, download: bool = True) -> dict:
    """Put the verified, decompressed IDX files of ``entry`` under ``dest_dir`` and say where each
    came from. Raises ``DatasetNotFound`` / ``ChecksumError`` with what to do."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    if local_path is not None and not Path(local_path).is_dir():
        raise DatasetNotFound(
            f"datasets.<dataset>.path in the config points at {local_path}, which is not a folder; "
            f"give the folder holding the {entry.name} IDX files {list(entry.files)}."
        )
    record = {}
    for name in entry.files:
        dest = dest_dir / name
        candidates = _candidates(entry, name, dest_dir, local_path)
        origin = None
        for where, cand in candidates:
            if cand.is_file():
                opener = gzip.open if cand.suffix == ".gz" else open
                with opener(cand, "rb") as stream:
                    _copy_atomically(stream, dest)
                origin = (where, str(cand))
                break
        if origin is None:
            looked = [str(c) for _, c in candidates]
            if local_path is not None:
                raise DatasetNotFound(
                    f"datasets.<dataset>.path in the config points at {local_path}, which holds "
                    f"no {name} (looked for {looked}); nothing else was tried, so that the data "
                    f"come from the source the config names. Put the {entry.name} IDX files "
                    f"{list(entry.files)} (gzipped or not) there, or remove path: to use "
                    f"{entry.local_copy or 'the download'}."
                )
            if not download:
                raise DatasetNotFound(
                    f"no copy of {entry.name}'s {name} was found (looked in {looked}) and "
                    f"downloading is disabled. To fix this: {entry.how_to_get}."
                )
            with tempfile.TemporaryDirectory(dir=dest_dir) as tmp:
                try:
                    gz = _download_fashion_gz(name, Path(tmp))
                except Exception as err:  # noqa: BLE001 - re-raised with what to do
                    raise DatasetNotFound(
                        f"no local copy of {entry.name}'s {name} (looked in {looked}) and the "
                        f"torchvision download failed ({err}). To fix this: {entry.how_to_get}."
                    ) from err
                with gzip.open(gz, "rb") as stream:
                    _copy_atomically(stream, dest)
            origin = ("torchvision download", "md5 of the .gz checked by torchvision")
        try:
            digest = _verify_idx_file(entry, dest, name)
        except ChecksumError:
            dest.unlink(missing_ok=True)  # never leave an unverified file where the pipeline reads
            raise
        record[name] = {"from": origin[0], "path": origin[1], "sha256": digest}
    return record


def load_idx(entry: Dataset, folder: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X uint8 [n, 1, H, W], y [n], official_train [n])`` from the four IDX files
    (``train-``/``t10k-`` ``images-idx3-ubyte`` and ``labels-idx1-ubyte``).

    Training images first, then the test images. Shapes, image counts and the label range are
    checked, so a wrong or truncated file is an error here even without its checksum.
    """
    folder, layout = Path(folder), entry.layout
    parts = []
    for split, n in (("train", layout.n_train), ("t10k", layout.n_test)):
        images = read_idx(folder / f"{split}-images-idx3-ubyte")
        labels = read_idx(folder / f"{split}-labels-idx1-ubyte")
        if (images.ndim != 3 or images.shape[1:] != layout.shape[1:]
                or labels.shape != (len(images),)):
            raise DatasetFormatError(
                f"{folder}: {split} images {images.shape} / labels {labels.shape} are not n x "
                f"{layout.shape[1]} x {layout.shape[2]} images with one label each."
            )
        if len(images) != n:
            raise DatasetFormatError(
                f"{folder}: {split} has {len(images)} images, {entry.name} has {n}."
            )
        if labels.max(initial=0) >= entry.n_classes:
            raise DatasetFormatError(
                f"{folder}: {split} labels reach {labels.max()}; {entry.name} has labels "
                f"0..{entry.n_classes - 1}."
            )
        parts.append(
            (images[:, None], labels.astype(np.int64), np.full(len(images), split == "train"))
        )
    X, y, official_train = (np.concatenate(a) for a in zip(*parts, strict=True))
    return X, y, official_train


def prepare_idx(entry: Dataset, raw_dir: Path, *, subset=None, seed: int = 0):
    """The canonical arrays and their provenance: ``({X, y, official_train}, provenance)``."""
    for f in entry.files:  # prepare re-checks: a file edited after the fetch is caught here
        _verify_idx_file(entry, raw_dir / f, f)
    return _described(entry, raw_dir, load_idx(entry, raw_dir), subset, seed)


# --------------------------------------------------------------------------------------------------
# CIFAR-100
# --------------------------------------------------------------------------------------------------


def fetch_cifar(entry: Dataset, dest_dir: Path, *, local_path=None, download: bool = True) -> dict:
    """Put ``cifar-100-python/{train,test,meta}`` under ``dest_dir`` (torchvision's root),
    md5-checked."""
    from torchvision.datasets import CIFAR100
    from torchvision.datasets.utils import check_integrity, extract_archive

    dest_dir.mkdir(parents=True, exist_ok=True)
    expected = _cifar_md5s(entry)
    base = dest_dir / CIFAR100.base_folder
    origin = "data/raw"
    if local_path is not None:
        local = Path(local_path)
        if local.is_file():
            # The archive's md5 is published for the real file only; a copy the config gives its
            # own digests for (datasets.<d>.digests) is checked file by file below.
            if _published(entry) and not check_integrity(str(local), CIFAR100.tgz_md5):
                raise ChecksumError(
                    f"{local} (datasets.<dataset>.path) is not the published {CIFAR100.filename} "
                    f"(md5 {CIFAR100.tgz_md5}). To fix this: {entry.how_to_get}."
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
                        f"this: {entry.how_to_get}."
                    )
                with open(folder / name, "rb") as stream:
                    _copy_atomically(stream, base / name)
            origin = f"config path {folder}"
        else:
            raise DatasetNotFound(
                f"datasets.<dataset>.path points at {local}, which does not exist. To fix this: "
                f"{entry.how_to_get}."
            )
    elif not all((base / name).is_file() for name in expected):
        if not download:
            raise DatasetNotFound(
                f"CIFAR-100 is not in {base} and downloading is disabled. To fix this: "
                f"{entry.how_to_get}."
            )
        try:
            CIFAR100(
                root=str(dest_dir), train=True, download=True
            )  # checks the .tar.gz md5, extracts
        except Exception as err:  # noqa: BLE001 - re-raised with what to do
            raise DatasetNotFound(
                f"CIFAR-100 could not be downloaded by torchvision ({type(err).__name__}: {err}). "
                f"To fix this: {entry.how_to_get}."
            ) from err
        origin = f"torchvision download of {CIFAR100.url}"
    bad = [name for name, md5 in expected.items() if not check_integrity(str(base / name), md5)]
    if bad:
        raise ChecksumError(
            f"{[str(base / b) for b in bad]} fail torchvision's md5 check (missing, truncated or "
            f"not CIFAR-100). Delete them and fetch again. To fix this: {entry.how_to_get}."
        )
    return {name: {"from": origin, "md5": md5} for name, md5 in expected.items()}


def _published(entry: Dataset) -> bool:
    """Whether ``entry`` is verified against the published digests (not the config's own)."""
    from deepleak import registry

    return entry.digests == registry.get(entry.name).digests


def _cifar_md5s(entry: Dataset) -> dict[str, str]:
    """The md5 of each extracted file (``train``, ``test``, ``meta``) ``entry`` is verified
    against: the registry's, which are torchvision's, or the config's own (datasets.<d>.digests)."""
    prefix = "cifar-100-python/"
    return {f[len(prefix):]: d["md5"] for f, d in entry.digests.items() if f.startswith(prefix)}


def _cifar_class(entry: Dataset):
    """torchvision's ``CIFAR100``, its integrity check reading ``entry``'s md5s: the published
    ones (torchvision's own) or the config's, so that a copy the config vouches for is read by the
    same code and checked as strictly."""
    from torchvision.datasets import CIFAR100

    md5 = _cifar_md5s(entry)
    if _published(entry):
        return CIFAR100
    return type("ConfiguredCIFAR100", (CIFAR100,), {
        "train_list": [[name, md5[name]] for name, _ in CIFAR100.train_list],
        "test_list": [[name, md5[name]] for name, _ in CIFAR100.test_list],
        "meta": {**CIFAR100.meta, "md5": md5[CIFAR100.meta["filename"]]},
    })


def load_cifar100(
    entry: Dataset, root: str | Path, dataset_class=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X uint8 [60000, 3, 32, 32], y [60000], official_train [60000])`` through torchvision.

    ``root`` is torchvision's root (the folder holding ``cifar-100-python/``). torchvision
    md5-checks the extracted files on every construction; its "not found or corrupted" error is
    re-raised with what to do.
    ``dataset_class`` replaces ``torchvision.datasets.CIFAR100`` (tests only); by default it is
    torchvision's, checking ``entry``'s md5s (:func:`_cifar_class`).
    """
    if dataset_class is None:
        dataset_class = _cifar_class(entry)
    # The published files hold 50,000 + 10,000 images; a copy the config gives its own digests for
    # may hold fewer (a test's generated archive), every other check unchanged.
    published = _published(entry)
    parts = []
    for train, n in ((True, entry.layout.n_train), (False, entry.layout.n_test)):
        try:
            ds = dataset_class(root=str(root), train=train, download=False)
        except RuntimeError as err:
            raise DatasetNotFound(
                f"torchvision cannot read CIFAR-100 under {root} ({err}). To fix this: "
                f"{entry.how_to_get}."
            ) from err
        data = np.asarray(ds.data)
        labels = np.asarray(ds.targets, dtype=np.int64)
        n = n if published else len(data)
        if data.shape != (n, 32, 32, 3) or data.dtype != np.uint8 or labels.shape != (n,):
            raise DatasetFormatError(
                f"CIFAR-100 {'train' if train else 'test'} under {root} has images {data.shape} "
                f"{data.dtype} and labels {labels.shape}; expected ({n}, 32, 32, 3) uint8 and "
                f"({n},)."
            )
        if labels.min(initial=0) < 0 or labels.max(initial=0) >= entry.n_classes:
            raise DatasetFormatError(
                f"CIFAR-100 labels under {root} fall outside 0..{entry.n_classes - 1}."
            )
        # torchvision hands out H, W, C images; the models take C, H, W (as ToTensor would give
        # them).
        parts.append((np.ascontiguousarray(data.transpose(0, 3, 1, 2)), labels, np.full(n, train)))
    X, y, official_train = (np.concatenate(a) for a in zip(*parts, strict=True))
    return X, y, official_train


def prepare_cifar(entry: Dataset, raw_dir: Path, *, subset=None, seed: int = 0):
    """The canonical arrays and their provenance: ``({X, y, official_train}, provenance)``."""
    arrays = load_cifar100(entry, raw_dir)  # torchvision md5-checks every file as it reads it
    return _described(entry, raw_dir, arrays, subset, seed)


# --------------------------------------------------------------------------------------------------
# Shared by both formats
# --------------------------------------------------------------------------------------------------


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


def _described(entry: Dataset, raw_dir: Path, arrays, subset_sizes: dict | None, seed: int):
    """Keep the seeded subset of ``arrays`` (``X, y, official_train``) and describe it."""
    X, y, official_train = arrays
    keep = subset(official_train, subset_sizes, seed)
    X, y, official_train = X[keep], y[keep], official_train[keep]
    counts = np.bincount(y, minlength=entry.n_classes)
    provenance = {
        "data": entry.name,
        "raw_dir": str(raw_dir),
        "digests": entry.digests,
        "matches_published": True,  # every raw file was verified, or loading failed
        "n_records": int(len(X)),
        "n_official_train": int(official_train.sum()),
        "n_official_test": int((~official_train).sum()),
        "subset": subset_sizes or None,
        "image_shape": list(X.shape[1:]),
        "n_classes": entry.n_classes,
        "classes_present": int((counts > 0).sum()),
        "class_count_min": int(counts.min()),
        "class_count_max": int(counts.max()),
        "labels": "0-based",
        "official_split": "official_train marks the dataset's training images; members are drawn "
        "from them and non-members from the test images, as for the paper's CIFAR-100 models",
    }
    return {"X": X, "y": y, "official_train": official_train}, provenance
