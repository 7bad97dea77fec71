"""The image formats (deepleak.images, through deepleak.registry): the Fashion-MNIST IDX loader
and its sources on fixtures written here, CIFAR-100 through torchvision (with a stand-in for the
torchvision class, since no synthetic file can pass torchvision's md5 check), subsets and the
official train / test split."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from deepleak import images, registry
from deepleak.registry import ChecksumError, DatasetFormatError, DatasetNotFound

N_TRAIN, N_TEST = 30, 20
CIFAR = registry.DATASETS["cifar100"]


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file written by hand: 0, 0, type 0x08 (ubyte), ndim, big-endian dims, then data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def fashion_fixture(rng):
    """Four small IDX payloads shaped like Fashion-MNIST: name -> bytes, and the arrays."""
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(N_TRAIN, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(N_TEST, dtype=np.uint8) * 3) % 10,
    }
    return {name: idx_bytes(a) for name, a in arrays.items()}, arrays


@pytest.fixture
def small_fashion(monkeypatch, tmp_path):
    """Fixture files; the library expects their sizes and digests, and finds no Debian copy."""
    payloads, arrays = fashion_fixture(np.random.default_rng(0))
    debian = tmp_path / "debian"
    debian.mkdir()
    entry = registry.DATASETS["fashion_mnist"]
    monkeypatch.setitem(
        registry.DATASETS,
        "fashion_mnist",
        dataclasses.replace(
            entry,
            layout=dataclasses.replace(entry.layout, n_train=N_TRAIN, n_test=N_TEST),
            digests={k: {"sha256": hashlib.sha256(v).hexdigest()} for k, v in payloads.items()},
            local_copy=str(debian),
        ),
    )

    def no_network(name, folder):
        raise OSError("network unreachable (test)")

    monkeypatch.setattr(images, "_download_fashion_gz", no_network)
    return payloads, arrays, debian


def write_files(folder, payloads, gz: bool):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in payloads.items():
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


# -------------------------------------------------------------------------------------------------
# IDX
def test_read_idx_plain_and_gzipped(tmp_path):
    a = np.random.default_rng(1).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    (tmp_path / "x").write_bytes(idx_bytes(a))
    (tmp_path / "x.gz").write_bytes(gzip.compress(idx_bytes(a)))
    np.testing.assert_array_equal(images.read_idx(tmp_path / "x"), a)
    np.testing.assert_array_equal(images.read_idx(tmp_path / "x.gz"), a)


def test_read_idx_rejects_truncated_and_foreign_files(tmp_path):
    a = np.zeros((4, 28, 28), dtype=np.uint8)
    (tmp_path / "short").write_bytes(idx_bytes(a)[:-10])
    with pytest.raises(DatasetFormatError, match="truncated"):
        images.read_idx(tmp_path / "short")
    (tmp_path / "csv").write_bytes(b"1,2,3\n")
    with pytest.raises(DatasetFormatError, match="not an IDX file"):
        images.read_idx(tmp_path / "csv")


def test_load_fashion_mnist_on_fixture(small_fashion, tmp_path):
    payloads, arrays, _ = small_fashion
    write_files(tmp_path / "raw", payloads, gz=False)
    X, y, official_train = images.load_idx(registry.DATASETS["fashion_mnist"], tmp_path / "raw")
    assert X.shape == (N_TRAIN + N_TEST, 1, 28, 28) and X.dtype == np.uint8
    np.testing.assert_array_equal(X[:N_TRAIN, 0], arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(X[N_TRAIN:, 0], arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(y[N_TRAIN:], arrays["t10k-labels-idx1-ubyte"])
    assert official_train[:N_TRAIN].all() and not official_train[N_TRAIN:].any()


def test_load_fashion_mnist_checks_counts_and_labels(small_fashion, tmp_path):
    payloads, arrays, _ = small_fashion
    bad = dict(payloads, **{"t10k-labels-idx1-ubyte": idx_bytes(np.full(N_TEST, 12, np.uint8))})
    write_files(tmp_path / "raw", bad, gz=False)
    with pytest.raises(DatasetFormatError, match="labels reach 12"):
        images.load_idx(registry.DATASETS["fashion_mnist"], tmp_path / "raw")


# ---------------------------------------------------------------------------------------------
# sources
@pytest.mark.parametrize("where", ["data_raw_gz", "config_path", "debian"])
def test_fetch_fashion_mnist_from_each_source(small_fashion, tmp_path, where):
    payloads, _, debian = small_fashion
    raw = tmp_path / "data/raw/fashion_mnist"
    local = None
    if where == "data_raw_gz":
        write_files(raw, payloads, gz=True)
    elif where == "config_path":
        local = tmp_path / "mine"
        write_files(local, payloads, gz=False)
    else:
        write_files(debian, payloads, gz=True)  # Debian ships .gz files
    record = registry.fetch("fashion_mnist", raw, local_path=local)
    for name, data in payloads.items():
        assert (raw / name).read_bytes() == data  # decompressed where the pipeline reads them
    expected = {
        "data_raw_gz": "data/raw (gzipped)",
        "config_path": "config path",
        "debian": "system package copy",
    }[where]
    assert {r["from"] for r in record.values()} == {expected}


def test_config_path_comes_before_the_debian_copy(small_fashion, tmp_path):
    payloads, _, debian = small_fashion
    write_files(debian, payloads, gz=True)
    write_files(tmp_path / "mine", payloads, gz=True)
    record = registry.fetch("fashion_mnist", tmp_path / "raw", local_path=tmp_path / "mine")
    assert {r["from"] for r in record.values()} == {"config path"}


def test_no_copy_anywhere_says_how_to_get_it(small_fashion, tmp_path):
    with pytest.raises(DatasetNotFound, match="apt-get install -y dataset-fashion-mnist") as err:
        registry.fetch("fashion_mnist", tmp_path / "raw")
    assert "network unreachable" in str(err.value)  # the failed download is named too
    with pytest.raises(DatasetNotFound, match="downloading is disabled"):
        registry.fetch("fashion_mnist", tmp_path / "raw", download=False)


def test_a_tampered_copy_is_refused_and_not_left_behind(small_fashion, tmp_path):
    payloads, _, debian = small_fashion
    tampered = dict(payloads)
    data = bytearray(tampered["train-images-idx3-ubyte"])
    data[-1] ^= 0xFF
    tampered["train-images-idx3-ubyte"] = bytes(data)
    write_files(debian, tampered, gz=True)
    with pytest.raises(ChecksumError, match="sha256"):
        registry.fetch("fashion_mnist", tmp_path / "raw")
    assert not (tmp_path / "raw/train-images-idx3-ubyte").exists()


def test_a_local_path_that_is_not_a_folder_is_named(small_fashion, tmp_path):
    with pytest.raises(DatasetNotFound, match="not a folder"):
        registry.fetch("fashion_mnist", tmp_path / "raw", local_path=tmp_path / "nope.gz")


def test_a_local_path_without_the_files_is_named_not_replaced(small_fashion, tmp_path):
    """A configured path that does not hold the files is an error naming it, even where Debian's
    copy (or an earlier download in data/raw) would do: never a quiet switch of source."""
    payloads, _, debian = small_fashion
    write_files(debian, payloads, gz=True)
    write_files(tmp_path / "raw", payloads, gz=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetNotFound, match="holds no train-images-idx3-ubyte") as err:
        registry.fetch("fashion_mnist", tmp_path / "raw", local_path=empty)
    assert str(empty) in str(err.value) and "datasets.<dataset>.path" in str(err.value)
    assert not (tmp_path / "raw/train-images-idx3-ubyte").exists()


def test_prepare_fashion_mnist_with_a_seeded_subset(small_fashion, tmp_path):
    payloads, arrays, _ = small_fashion
    write_files(tmp_path / "raw", payloads, gz=False)
    sizes = {"train": 7, "test": 5}
    a, prov = registry.prepare("fashion_mnist", tmp_path / "raw", subset=sizes, seed=3)
    b, _ = registry.prepare("fashion_mnist", tmp_path / "raw", subset=sizes, seed=3)
    assert a["official_train"].sum() == 7 and (~a["official_train"]).sum() == 5
    np.testing.assert_array_equal(a["X"], b["X"])  # the seed fixes the subset
    assert prov["n_records"] == 12 and prov["subset"] == {"train": 7, "test": 5}
    with pytest.raises(ValueError, match="subset.test"):
        registry.prepare("fashion_mnist", tmp_path / "raw", subset={"train": 1, "test": N_TEST + 1})


@pytest.mark.skipif(
    not Path(registry.FASHION_MNIST_DEBIAN_DIR).is_dir(),
    reason="Debian's dataset-fashion-mnist is not installed",
)
def test_pinned_digests_match_the_debian_copy():
    for name, digest in registry.DATASETS["fashion_mnist"].digests.items():
        with gzip.open(Path(registry.FASHION_MNIST_DEBIAN_DIR) / f"{name}.gz", "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest["sha256"], name


# -------------------------------------------------------------------------------------------
# CIFAR-100
class FakeCIFAR100:
    """Stands in for torchvision.datasets.CIFAR100 after its md5 check: H, W, C uint8 images."""

    sizes = {True: 50_000, False: 10_000}

    def __init__(self, root, train, download):
        assert download is False  # prepare never downloads: the fetch step does
        n = self.sizes[train]
        rng = np.random.default_rng(int(train))
        self.data = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        self.targets = list(np.arange(n) % 100)


def test_load_cifar100_transposes_to_channels_first_and_flags_the_split():
    X, y, official_train = images.load_cifar100(CIFAR, "unused", dataset_class=FakeCIFAR100)
    assert X.shape == (60_000, 3, 32, 32) and X.dtype == np.uint8
    ref = FakeCIFAR100("unused", True, False).data
    np.testing.assert_array_equal(X[123], ref[123].transpose(2, 0, 1))
    assert official_train.sum() == 50_000 and not official_train[50_000:].any()
    assert y.max() == 99


def test_load_cifar100_names_a_missing_or_corrupt_copy():
    class Missing:
        def __init__(self, root, train, download):
            raise RuntimeError(
                "Dataset not found or corrupted. You can use download=True to download it"
            )

    with pytest.raises(DatasetNotFound, match="cifar-100-python.tar.gz"):
        images.load_cifar100(CIFAR, "somewhere", dataset_class=Missing)


def test_load_cifar100_checks_shapes():
    class Wrong(FakeCIFAR100):
        sizes = {True: 10, False: 10}

    with pytest.raises(DatasetFormatError, match="expected"):
        images.load_cifar100(CIFAR, "unused", dataset_class=Wrong)


def test_cifar100_md5s_are_torchvisions():
    from torchvision.datasets import CIFAR100

    listed = dict(CIFAR100.train_list + CIFAR100.test_list)
    listed[CIFAR100.meta["filename"]] = CIFAR100.meta["md5"]
    ours = {f.split("/")[-1]: d["md5"] for f, d in CIFAR.digests.items()}
    assert listed == ours


def synthetic_cifar_folder(folder):
    """Files in CIFAR-100's exact layout and pickle format, but not the real data."""
    base = folder / "cifar-100-python"
    base.mkdir(parents=True)
    for name, n in (("train", 10), ("test", 5)):
        entry = {"data": np.zeros((n, 3072), np.uint8), "fine_labels": [0] * n}
        (base / name).write_bytes(pickle.dumps(entry))
    (base / "meta").write_bytes(pickle.dumps({"fine_label_names": [str(i) for i in range(100)]}))
    return base


def test_a_synthetic_cifar_copy_fails_torchvisions_md5_check(tmp_path):
    # torchvision md5-checks the extracted files on every construction, so the real
    # loader refuses anything but the real files, and says what to do.
    synthetic_cifar_folder(tmp_path)
    with pytest.raises(DatasetNotFound, match="To fix this"):
        images.load_cifar100(CIFAR, tmp_path)
    with pytest.raises(ChecksumError, match="md5"):
        registry.fetch("cifar100", tmp_path / "raw", local_path=tmp_path)


def test_fetch_cifar100_names_a_missing_local_path(tmp_path):
    with pytest.raises(DatasetNotFound, match="does not exist"):
        registry.fetch("cifar100", tmp_path / "raw", local_path=tmp_path / "nope")
    with pytest.raises(DatasetNotFound, match="downloading is disabled"):
        registry.fetch("cifar100", tmp_path / "raw", download=False)


# A generated archive in the published layout (tests/archives.py), read by torchvision's own
# CIFAR100 class with the digests the config gives for it (datasets.<d>.digests).
def test_generated_cifar_archive_reads_through_torchvision_with_the_configs_digests(tmp_path):
    import archives

    tgz = tmp_path / "cifar-100-python.tar.gz"
    digests = archives.write_cifar100(tgz, n_train=40, n_test=12, seed=3)
    raw = tmp_path / "raw"
    # Against the published digests it is rejected (the real check is unchanged).
    with pytest.raises(ChecksumError):
        registry.fetch("cifar100", raw, local_path=tgz, download=False)
    record = registry.fetch("cifar100", raw, local_path=tgz, download=False, digests=digests)
    assert set(record) == {"train", "test", "meta"}
    arrays, prov = registry.prepare("cifar100", raw, digests=digests)
    assert arrays["X"].shape == (52, 3, 32, 32) and arrays["X"].dtype == np.uint8
    assert arrays["official_train"].sum() == 40 and arrays["y"].max() < 100
    assert prov["matches_published"] is False
    # The same files fail the published md5s (torchvision's own class), and a tampered copy the
    # config's.
    with pytest.raises(DatasetNotFound):
        registry.prepare("cifar100", raw)
    with open(raw / "cifar-100-python/test", "ab") as f:
        f.write(b"x")
    with pytest.raises(DatasetNotFound):
        registry.prepare("cifar100", raw, digests=digests)


def test_generated_cifar_archive_reads_as_the_published_pickles(tmp_path):
    # The published files are Python 2 pickles: keys read as b"data" with encoding="bytes".
    import tarfile

    import archives

    tgz = tmp_path / "cifar-100-python.tar.gz"
    archives.write_cifar100(tgz, n_train=5, n_test=3)
    with tarfile.open(tgz) as tar:
        names = sorted(tar.getnames())
        assert names == [f"cifar-100-python/{n}" for n in ("meta", "test", "train")]
        entry = pickle.loads(tar.extractfile("cifar-100-python/train").read(), encoding="bytes")
    assert {b"data", b"fine_labels", b"coarse_labels", b"filenames", b"batch_label"} == set(entry)
    assert entry[b"data"].shape == (5, 3072) and entry[b"data"].dtype == np.uint8


def test_digests_override_must_name_every_raw_file():
    with pytest.raises(ValueError, match="missing"):
        registry.with_digests("cifar100", {"cifar-100-python/train": {"md5": "0" * 32}})
