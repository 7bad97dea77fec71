"""Generated archives in the real datasets' on-disk formats, for tests that run the real loaders
(the paper-profile smoke run, tests/test_paper_smoke.py; tests/test_images.py). Each returns the
digests a config gives for it (``datasets.<d>.digests``), since no generated file is the
published one."""
from __future__ import annotations

import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
from deepleak import datasets, files, registry


class _Py2Pickler(pickle._Pickler):
    """Pickles ``bytes`` as Python 2 ``str`` (SHORT_BINSTRING / BINSTRING), as the published
    CIFAR-100 files were written: ``pickle.load(f, encoding="latin1")`` (torchvision) reads their
    keys as ``"data"``, ``pickle.load(f, encoding="bytes")`` as ``b"data"``, and numpy arrays
    restore under both."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def _py2_pickle(obj) -> bytes:
    out = io.BytesIO()
    _Py2Pickler(out, protocol=2).dump(obj)
    return out.getvalue()


def cifar100_images(n: int, rng: np.random.Generator, templates: np.ndarray):
    """``n`` learnable images: a coarse per-class template (upsampled 4x4 blocks) plus noise,
    uint8 rows of 3,072 (R plane, G plane, B plane, as the published files store them)."""
    y = rng.integers(0, len(templates), size=n)
    noise = rng.normal(0, 40, size=(n, 3, 32, 32))
    X = np.clip(templates[y] + noise, 0, 255).astype(np.uint8)
    return X.reshape(n, 3072), y


def write_cifar100(path: str | Path, n_train: int, n_test: int, seed: int = 0) -> dict:
    """``cifar-100-python.tar.gz`` as the Toronto archive is: a ``cifar-100-python/`` folder with
    ``train``, ``test`` (dicts of ``data`` uint8 [n, 3072], ``fine_labels``, ``coarse_labels``,
    ``filenames``, ``batch_label``) and ``meta`` (the label names), pickled with Python 2 strings.
    Returns the config's ``datasets.<d>.digests`` (md5 per extracted file, as the registry's)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(40, 215, size=(100, 3, 8, 8))
    templates = coarse.repeat(4, axis=2).repeat(4, axis=3)
    members = {}
    for split, n in (("train", n_train), ("test", n_test)):
        X, y = cifar100_images(n, rng, templates)
        members[split] = _py2_pickle({
            b"filenames": [f"image_{split}_{i}.png".encode() for i in range(n)],
            b"batch_label": f"{split}ing batch 1 of 1".encode(),
            b"fine_labels": [int(v) for v in y],
            b"coarse_labels": [int(v) // 5 for v in y],
            b"data": X,
        })
    members["meta"] = _py2_pickle({
        b"fine_label_names": [f"class_{i}".encode() for i in range(100)],
        b"coarse_label_names": [f"superclass_{i}".encode() for i in range(20)],
    })
    path = Path(path)
    with files.atomic_path(path, ".part") as tmp, tarfile.open(tmp, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return {f"cifar-100-python/{name}": {"md5": hashlib.md5(data).hexdigest()}
            for name, data in members.items()}


def write_shokri(name: str, path: str | Path, n_records: int, seed: int = 0) -> dict:
    """Shokri et al.'s archive of ``name`` (``purchase100``, ``texas100``) in the published layout,
    records from the offline stand-in's generator (deepleak/datasets.py). Returns the config's
    ``datasets.<d>.digests``."""
    entry = registry.get(name)
    generate = {"purchase100": datasets.purchase_standin, "texas100": datasets.texas_standin}[name]
    X, y, _ = generate(n_records, seed)
    datasets.write_archive(name, path, X, y)
    return {entry.archive: {"sha256": files.sha256(path)}}
