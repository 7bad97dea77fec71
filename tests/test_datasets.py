"""Tests of the tabular datasets (deepleak.datasets, through deepleak.registry): readers on
fixtures in the real on-disk formats, the offline stand-ins, checksums, and fetching without a
network."""
from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import tarfile

import numpy as np
import pytest
from deepleak import datasets as D
from deepleak import files, registry
from threadpoolctl import threadpool_limits

# The discard port on the loopback: the connection is refused at once, with or without a network.
UNREACHABLE = ("http://127.0.0.1:9/x.tgz",)


# ----------------------------------------------------------------------------------------- fixtures

def _tgz(path, members: dict[str, bytes]):
    """Write a .tgz the way `tar czf` would (with ./ prefixes, to check the reader strips them)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _csv(X, labels=None, quoted=False, newline="\n"):
    """Hand-written CSV text, independent of the library's writer."""
    lines = []
    for i, row in enumerate(X):
        cells = [str(int(v)) for v in row]
        if labels is not None:
            lab = str(int(labels[i]))
            cells.insert(0, f'"{lab}"' if quoted else lab)
        lines.append(",".join(cells))
    return (newline.join(lines) + newline).encode()


def _random(n, d, n_classes, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.random((n, d)) < 0.3).astype(np.uint8)
    y = rng.integers(1, n_classes + 1, size=n)
    y[:2] = (1, n_classes)  # both ends of the label range
    return X, y


def _source_for(path, urls=UNREACHABLE):
    """The Location entry publishing every digest of ``path``, as if it were the real archive."""
    return dataclasses.replace(registry.DATASETS["location"], urls=urls,
                               digests={path.name: files.digests(path)})


def _standin(name, folder, **kw):
    """Generate a stand-in in ``folder``; return its archive's path and the summary."""
    summary = registry.generate_standin(name, folder, **kw)
    return folder / registry.DATASETS[name].archive, summary


# ------------------------------------------------------------------------------ sources and digests

def test_registry_publishes_the_archives_digests():
    p, t, loc = (registry.DATASETS[n] for n in ("purchase100", "texas100", "location"))
    assert p.urls[0] == "https://github.com/privacytrustlab/datasets/raw/master/dataset_purchase.tgz"
    assert p.urls[1] == "https://www.comp.nus.edu.sg/~reza/files/dataset_purchase.tgz"
    assert p.digests == {"dataset_purchase.tgz": {
        "size": 22_045_876, "blob_sha1": "3efa7476ad5ed7ac3e558d28585a186b38fc5f19"}}
    assert t.urls[0].endswith("privacytrustlab/datasets/raw/master/dataset_texas.tgz")
    assert t.digests == {
        "dataset_texas.tgz": {"blob_sha1": "966f7ff40b24cf5912ff84759aab9adb8c25f30e"}}
    assert loc.digests["dataset_location.tgz"] == {
        "size": 287_293, "md5": "66851c781a61f51b35ead292b5f303e3",
        "sha256": "927203f85a868f8ee17a0ded1dc61699efe602167beabe34fbf45b4b1de94b33",
        "blob_sha1": "0cfc2caa0c8c8569cd68a5d4ab369a98c1f98447"}
    assert sum(D.TEXAS_CLASS_SIZES) == 67_330


def test_blob_sha1_matches_git_hash_object(tmp_path):
    f = tmp_path / "blob.bin"
    f.write_bytes(b"DeepLeak\x00\xff" * 1000)
    expected = subprocess.run(["git", "hash-object", str(f)], capture_output=True, text=True,
                              check=True).stdout.strip()
    assert files.digests(f, ("blob_sha1",)) == {"blob_sha1": expected}
    assert files.digests(f)["blob_sha1"] == expected
    assert files.digests(f)["size"] == 10_000


# ------------------------------------------------------------------------------ readers on fixtures

def test_load_purchase_fixture(tmp_path):
    X, y = _random(40, 600, 100)
    path = _tgz(tmp_path / "dataset_purchase.tgz", {"./dataset_purchase": _csv(X, y)})
    Xr, yr = D.load_archive("purchase100", path)
    assert Xr.dtype == np.uint8 and yr.dtype == np.int64
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(yr, y - 1)  # 0-based


def test_load_texas_fixture_crlf(tmp_path):
    X, y = _random(25, 6169, 100, seed=1)
    labels = ("\r\n".join(map(str, y)) + "\r\n").encode()
    path = _tgz(tmp_path / "dataset_texas.tgz", {"texas/100/feats": _csv(X, newline="\r\n"),
                                                 "texas/100/labels": labels,
                                                 "texas/150/labels": b"1\n"})
    Xr, yr = D.load_archive("texas100", path)
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(yr, y - 1)


def test_load_location_fixture_quoted_no_final_newline(tmp_path):
    X, y = _random(30, 446, 30, seed=2)
    path = _tgz(tmp_path / "dataset_location.tgz", {"bangkok": _csv(X, y, quoted=True)[:-1]})
    Xr, yr = D.load_archive("location", path)
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(yr, y - 1)


def test_general_reader_fallback_accepts_float_text(tmp_path):
    X, y = _random(10, 600, 100, seed=3)
    lines = (",".join([str(int(y[i]))] + [f"{v}.0" for v in X[i]]) for i in range(10))
    text = "\n".join(lines).encode()
    path = _tgz(tmp_path / "p.tgz", {"dataset_purchase": text})
    Xr, yr = D.load_archive("purchase100", path)
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(yr, y - 1)


@pytest.mark.parametrize("problem", ["label_range", "value", "columns"])
def test_bad_purchase_content_names_file_and_problem(tmp_path, problem):
    X, y = _random(5, 600, 100, seed=4)
    if problem == "label_range":
        y[3] = 101
    elif problem == "value":
        X[2, 7] = 2
    else:
        X = X[:, :599]
    path = _tgz(tmp_path / "bad.tgz", {"dataset_purchase": _csv(X, y)})
    with pytest.raises(D.DatasetFormatError) as err:
        D.load_archive("purchase100", path)
    msg = str(err.value)
    assert "bad.tgz" in msg and "dataset_purchase" in msg
    expected = {"label_range": ["line 4", "101", "1..100"], "value": ["line 3", "column 8", "'2'"],
                "columns": ["600 columns", "expected 601"]}[problem]
    for word in expected:
        assert word in msg


def test_texas_row_count_mismatch(tmp_path):
    X, y = _random(6, 6169, 100, seed=5)
    labels = ("\n".join(map(str, y[:5])) + "\n").encode()
    path = _tgz(tmp_path / "t.tgz", {"texas/100/feats": _csv(X), "texas/100/labels": labels})
    with pytest.raises(D.DatasetFormatError, match="6 rows but texas/100/labels has 5 labels"):
        D.load_archive("texas100", path)


def test_missing_member_and_damaged_archive(tmp_path):
    path = _tgz(tmp_path / "wrong.tgz", {"something_else": b"1,0\n"})
    with pytest.raises(D.DatasetFormatError, match="no member 'bangkok'"):
        D.load_archive("location", path)
    X, y = _random(200, 446, 30)
    good = _tgz(tmp_path / "loc.tgz", {"bangkok": _csv(X, y, quoted=True)})
    cut = tmp_path / "cut.tgz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(D.DatasetFormatError, match="truncated"):
        D.load_archive("location", cut)


def test_write_archive_round_trip(tmp_path):
    X, y = _random(120, 446, 30, seed=6)
    D.write_archive("location", tmp_path / "l.tgz", X, y - 1)
    with tarfile.open(tmp_path / "l.tgz") as tar:
        # the real layout, byte for byte
        assert tar.extractfile("bangkok").read() == _csv(X, y, quoted=True)
    Xr, yr = D.load_archive("location", tmp_path / "l.tgz")
    np.testing.assert_array_equal(Xr, X)
    np.testing.assert_array_equal(yr, y - 1)


# ---------------------------------------------------------------------------------------- stand-ins

def test_purchase_standin_round_trip_and_determinism(tmp_path):
    # One BLAS/OpenMP thread: k-means' many small products crawl when threads outnumber free cores.
    with threadpool_limits(limits=1):
        a, s = _standin("purchase100", tmp_path / "a", n_records=1200, seed=7)
        b, _ = _standin("purchase100", tmp_path / "b", n_records=1200, seed=7)
        c, _ = _standin("purchase100", tmp_path / "c", n_records=500, seed=8)
    with tarfile.open(a) as tar:
        assert tar.getnames() == ["dataset_purchase"]
    Xa, ya = D.load_archive("purchase100", a)
    Xb, yb = D.load_archive("purchase100", b)
    Xc, yc = D.load_archive("purchase100", c)
    # exactly n_records rows, although all-zero rows were dropped
    assert Xa.shape == (1200, 600) and ya.shape == (1200,)
    assert ya.min() >= 0 and ya.max() <= 99 and len(np.unique(ya)) > 90
    assert Xa.any(axis=1).all()
    assert abs(Xa.mean() - 0.3) < 0.02 and abs(s["density"] - Xa.mean()) < 1e-12
    assert Xa.tobytes() == Xb.tobytes() and ya.tobytes() == yb.tobytes()
    assert a.read_bytes() == b.read_bytes()
    assert not np.array_equal(Xa[:500], Xc)
    assert s["n_records"] == 1200 and s["source"] == "synthetic" and s["params"]["archetypes"] > 0
    assert s["class_count_min"] == np.bincount(ya, minlength=100).min()
    # The label is the k-means cluster of the L2-normalised row, so equal rows never disagree.
    assert len(np.unique(np.c_[Xa, ya], axis=0)) == len(np.unique(Xa, axis=0))


def test_texas_standin_round_trip_and_determinism(tmp_path):
    a, s = _standin("texas100", tmp_path / "a", n_records=2000, seed=7)
    b, _ = _standin("texas100", tmp_path / "b", n_records=2000, seed=7)
    c, _ = _standin("texas100", tmp_path / "c", n_records=2000, seed=8, rho=0.2)
    with tarfile.open(a) as tar:
        assert {"texas/100/feats", "texas/100/labels"} <= set(tar.getnames())
    Xa, ya = D.load_archive("texas100", a)
    Xb, yb = D.load_archive("texas100", b)
    Xc, _ = D.load_archive("texas100", c)
    assert Xa.shape == (2000, 6169) and ya.min() >= 0 and ya.max() <= 99
    # ~ p * 40 prototype features + <= Poisson(15) background features per record
    per_row = Xa.sum(1).mean()
    assert 20 < per_row < 32, per_row
    assert Xa.tobytes() == Xb.tobytes() and ya.tobytes() == yb.tobytes()
    assert not np.array_equal(Xa, Xc)
    # Labels follow the real class sizes: the biggest real class (label 99, 3,046 records) is ~4.5%.
    assert 0.03 < np.mean(ya == 98) < 0.06
    assert s["params"]["rho"] == D.TEXAS_DEFAULTS["rho"]
    assert abs(s["sibling_fraction"] - D.TEXAS_DEFAULTS["rho"]) < 0.05
    assert abs(s["blank_fraction"] - D.TEXAS_DEFAULTS["blank"]) < 0.05


def test_texas_blank_records_collide_across_labels(tmp_path):
    """Blank records share a few popular features, so equal rows carry different labels (what caps
    the training accuracy); with blank=0 every row is distinct, as in the plain prototype model."""
    def conflicted_fraction(path):
        X, y = D.load_archive("texas100", path)
        _, inverse = np.unique(X, axis=0, return_inverse=True)
        pairs = np.unique(np.c_[inverse.ravel(), y], axis=0)
        n_labels = np.bincount(pairs[:, 0])
        return np.mean(n_labels[inverse.ravel()] > 1)

    blank, _ = _standin("texas100", tmp_path / "b", n_records=1000, seed=3, blank=0.2)
    none, _ = _standin("texas100", tmp_path / "n", n_records=1000, seed=3, blank=0.0)
    assert conflicted_fraction(blank) > 0.1
    assert conflicted_fraction(none) == 0.0


def test_standin_rejects_unknown_parameter(tmp_path):
    with pytest.raises(ValueError, match="unknown purchase100 stand-in parameter"):
        registry.generate_standin("purchase100", tmp_path, n_records=10, seed=0, rhoo=1)
    with pytest.raises(ValueError, match="cifar100' has no offline stand-in"):
        registry.generate_standin("cifar100", tmp_path, n_records=10, seed=0)
    with pytest.raises(ValueError, match="unknown dataset 'purchase'"):
        registry.generate_standin("purchase", tmp_path, n_records=10, seed=0)
    assert list(tmp_path.iterdir()) == []


def test_prepare_provenance(tmp_path):
    path, _ = _standin("texas100", tmp_path, n_records=300, seed=1)
    arrays, prov = registry.prepare("texas100", tmp_path)
    X, y = arrays["X"], arrays["y"]
    assert prov["n_records"] == 300 == len(X) == len(y) and prov["n_features"] == 6169
    assert prov["matches_published"] is False  # a stand-in is never the real archive
    assert prov["digests"]["sha256"] == files.sha256(path)


# --------------------------------------------------------------------------- verification, fetching

@pytest.fixture
def location_archive(tmp_path, monkeypatch):
    """A small archive in the Location layout, registered as if it were the published one."""
    X, y = _random(50, 446, 30, seed=9)
    (tmp_path / "src").mkdir()
    path = _tgz(tmp_path / "src" / "dataset_location.tgz", {"bangkok": _csv(X, y, quoted=True)})
    monkeypatch.setitem(registry.DATASETS, "location", _source_for(path))
    return path


def test_verify_accepts_the_published_digests(location_archive):
    d = D.verify_archive(location_archive, registry.DATASETS["location"])
    assert d == files.digests(location_archive)


def test_verify_rejects_one_changed_byte(location_archive):
    src = registry.DATASETS["location"]
    data = bytearray(location_archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    location_archive.write_bytes(bytes(data))
    with pytest.raises(D.ChecksumError) as err:
        D.verify_archive(location_archive, src)
    msg = str(err.value)
    actual = files.digests(location_archive)
    assert str(location_archive) in msg
    for key in ("blob_sha1", "sha256", "md5"):
        assert f"{key}: expected {src.digests[src.archive][key]}, got {actual[key]}" in msg
    assert "size:" not in msg and "Delete the file and download it again" in msg


def test_verify_rejects_truncated_file(location_archive):
    src = registry.DATASETS["location"]
    data = location_archive.read_bytes()
    location_archive.write_bytes(data[:-100])
    expected = f"size: expected {len(data)}, got {len(data) - 100}"
    with pytest.raises(D.ChecksumError, match=expected) as err:
        D.verify_archive(location_archive, src)
    assert "truncated" in str(err.value)


def test_fetch_from_local_path(location_archive, tmp_path):
    dest = tmp_path / "data" / "raw" / "location" / "dataset_location.tgz"
    out = registry.fetch("location", dest.parent, local_path=location_archive)
    assert out["source"] == "local" and out["path"] == str(dest)
    assert dest.read_bytes() == location_archive.read_bytes()
    assert out["digests"]["sha256"] == files.sha256(location_archive)
    assert os.listdir(dest.parent) == ["dataset_location.tgz"]  # no temporary file left behind
    # An existing verified file is kept as it is.
    assert registry.fetch("location", dest.parent)["source"] == "existing"


def test_fetch_from_tampered_local_path_fails(location_archive, tmp_path):
    location_archive.write_bytes(location_archive.read_bytes() + b"x")
    dest = tmp_path / "out" / "dataset_location.tgz"
    with pytest.raises(D.ChecksumError, match="check that it points at the original archive"):
        registry.fetch("location", dest.parent, local_path=location_archive)
    assert not dest.exists()


def test_fetch_without_network_raises_and_leaves_nothing(location_archive, tmp_path):
    dest = tmp_path / "raw" / "dataset_location.tgz"
    with pytest.raises(D.DatasetNotFound) as err:
        registry.fetch("location", dest.parent)
    msg = str(err.value)
    assert str(dest) in msg and UNREACHABLE[0] in msg
    # Location has no stand-in, so only the datasets with one offer `source: synthetic`.
    assert "synthetic" not in msg
    assert "source: synthetic" in registry.DATASETS["purchase100"].how_to_get
    assert "datasets.location.path" in msg
    assert not dest.exists() and os.listdir(dest.parent) == []
    with pytest.raises(D.DatasetNotFound, match="disabled"):
        registry.fetch("location", dest.parent, download=False)


def test_fetch_tries_the_next_url_and_renames_atomically(location_archive, tmp_path, monkeypatch):
    src = registry.DATASETS["location"]
    monkeypatch.setitem(registry.DATASETS, "location",
                        dataclasses.replace(src, urls=UNREACHABLE + (location_archive.as_uri(),)))
    dest = tmp_path / "dl" / "dataset_location.tgz"
    out = registry.fetch("location", dest.parent)
    assert out["source"] == "download" and out["url"] == location_archive.as_uri()
    assert dest.read_bytes() == location_archive.read_bytes()
    assert os.listdir(dest.parent) == ["dataset_location.tgz"]


def test_fetch_rejects_a_download_with_wrong_digest(location_archive, tmp_path, monkeypatch):
    other = _tgz(tmp_path / "other.tgz", {"bangkok": b'"1",' + b"0," * 445 + b"1\n"})
    monkeypatch.setitem(registry.DATASETS, "location",
                        dataclasses.replace(registry.DATASETS["location"], urls=(other.as_uri(),)))
    dest = tmp_path / "dl" / "dataset_location.tgz"
    with pytest.raises(D.DatasetNotFound, match="ChecksumError"):
        registry.fetch("location", dest.parent)
    assert not dest.exists() and os.listdir(dest.parent) == []


def test_config_digests_admit_a_generated_archive_and_label_it(tmp_path):
    # A generated archive in the published layout (tests/archives.py) passes only with the digests
    # the config gives for it; its provenance then says it is not the published archive.
    import archives

    tgz = tmp_path / "copy" / "dataset_purchase.tgz"
    tgz.parent.mkdir()
    digests = archives.write_shokri("purchase100", tgz, n_records=300)
    with pytest.raises(registry.ChecksumError):
        registry.fetch("purchase100", tmp_path / "raw", local_path=tgz, download=False)
    registry.fetch("purchase100", tmp_path / "raw", local_path=tgz, download=False,
                   digests=digests)
    arrays, prov = registry.prepare("purchase100", tmp_path / "raw", digests=digests)
    assert arrays["X"].shape == (300, 600) and prov["matches_published"] is False
    bad = {"dataset_purchase.tgz": {"sha256": "0" * 64}}
    with pytest.raises(registry.ChecksumError):
        registry.fetch("purchase100", tmp_path / "raw2", local_path=tgz, download=False,
                       digests=bad)
