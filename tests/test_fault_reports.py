"""What a job says when its input or its disk fails it (deepleak/errors.py, deepleak/files.py): a
truncated or corrupted intermediate names the file and the rule that remakes it; a full disk names
the file and leaves no half of it; a user's error is one line, its traceback in the job's log.
tests/test_faults.py makes the same faults happen in a real run of the DAG."""
from __future__ import annotations

import errno
import json
import subprocess
import sys
from base64 import urlsafe_b64encode
from pathlib import Path

import numpy as np
import pytest
from deepleak import artifacts, errors, files

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _snakemake_record(workdir: Path, path: str, rule: str) -> None:
    """What Snakemake writes for each output it makes (.snakemake/metadata/<base64 of the path>)."""
    meta = workdir / ".snakemake/metadata"
    meta.mkdir(parents=True, exist_ok=True)
    (meta / urlsafe_b64encode(path.encode()).decode()).write_text(json.dumps({"rule": rule}))


@pytest.mark.parametrize("damage", ["truncated", "zeroed", "empty"])
def test_a_damaged_npz_names_the_file_and_its_rule(tmp_path, monkeypatch, damage):
    monkeypatch.chdir(tmp_path)
    path = "results/d/standalone/r0/features/target.npz"
    artifacts.save_npz(path, {"x": np.arange(1000.0), "y": np.ones((30, 30))}, meta={"a": 1})
    _snakemake_record(tmp_path, path, "extract_features")
    data = Path(path).read_bytes()
    Path(path).write_bytes({"truncated": data[: len(data) // 2],
                            "zeroed": data[:100] + bytes(len(data) - 100),
                            "empty": b""}[damage])
    for load in (artifacts.load_npz, artifacts.load_npz_meta):
        with pytest.raises(errors.UnreadableFile) as err:
            load(path)
        said = str(err.value)
        assert path in said and "rule extract_features" in said and f"--forcerun={path}" in said


def test_a_corrupted_model_and_json_are_named(tmp_path, monkeypatch):
    import torch

    monkeypatch.chdir(tmp_path)
    net = torch.nn.Linear(3, 2)
    artifacts.save_model(net, "m/model.pt", "m/meta.json", {"k": 1})
    raw = bytearray(Path("m/model.pt").read_bytes())
    raw[len(raw) // 3: len(raw) // 3 + 64] = bytes(64)  # a damaged middle, length kept
    Path("m/model.pt").write_bytes(bytes(raw[: len(raw) - 10]))
    Path("m/meta.json").write_text('{"k": ')
    with pytest.raises(errors.UnreadableFile, match="m/model.pt"):
        artifacts.load_state_dict(torch.nn.Linear(3, 2), "m/model.pt")
    with pytest.raises(errors.UnreadableFile, match="m/meta.json") as err:
        artifacts.load_json("m/meta.json")
    # no Snakemake record here: the message says who finds the rule
    assert "Snakemake finds the rule" in str(err.value)
    with pytest.raises(FileNotFoundError):  # a missing file is another matter
        artifacts.load_npz("m/none.npz")


def test_a_long_path_is_found_in_snakemakes_split_record(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = "results/" + "x" * 300 + "/features.npz"
    b64 = urlsafe_b64encode(path.encode()).decode()
    parts = [b64[i: i + 254] for i in range(0, len(b64), 254)]
    record = tmp_path.joinpath(".snakemake/metadata", *["@" + p for p in parts[:-1]], parts[-1])
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"rule": "extract_features"}))
    assert errors.producing_rule(path) == "extract_features"


def test_a_full_disk_leaves_no_half_file_and_names_it(tmp_path, monkeypatch):
    """A write that fails with ENOSPC half-way (as the disk fills): neither the file nor a
    temporary is left, and the error names the file."""
    dest = tmp_path / "results/features.npz"
    real_savez = np.savez

    def savez_until_full(path, **arrays):
        real_savez(path, **arrays)
        with open(path, "r+b") as f:
            f.truncate(1000)  # what was written before the disk filled
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", savez_until_full)
    with pytest.raises(OSError) as err:
        artifacts.save_npz(dest, {"x": np.zeros(10_000)})
    assert err.value.errno == errno.ENOSPC
    assert str(dest) in str(err.value) and "Free space" in str(err.value)
    assert list(dest.parent.iterdir()) == []
    # ... and a file already there (an earlier run's) is left as it was.
    monkeypatch.setattr(np, "savez", real_savez)
    artifacts.save_npz(dest, {"x": np.ones(3)})
    before = dest.read_bytes()
    monkeypatch.setattr(np, "savez", savez_until_full)
    with pytest.raises(OSError):
        artifacts.save_npz(dest, {"x": np.zeros(10_000)})
    assert dest.read_bytes() == before and [p.name for p in dest.parent.iterdir()] == [dest.name]


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    dest = tmp_path / "model.pt"
    stale = tmp_path / ".model.pt.tmp-x1y2.pt"  # what a SIGKILL in the middle of a write leaves
    stale.write_bytes(b"half")
    other = tmp_path / ".model.pt.ckpt.tmp-x1y2"  # another file's temporary: not this write's
    other.write_bytes(b"half")
    with files.atomic_path(dest, ".pt") as tmp:
        tmp.write_bytes(b"whole")
    assert dest.read_bytes() == b"whole" and not stale.exists() and other.exists()


def test_a_users_error_is_one_line_and_a_bug_keeps_its_traceback(tmp_path):
    """scripts/_common.py's hook, in a process of its own as a job is."""
    log = tmp_path / "job.log"
    code = f"""
import logging, sys
sys.path.insert(0, {str(SCRIPTS)!r})
from deepleak import errors
logging.basicConfig(filename={str(log)!r})  # as scripts/_common.py sets up a job's log
sys.excepthook = errors.excepthook("extract_features", {str(log)!r})
if sys.argv[1] == "user":
    raise errors.UnreadableFile("results/x.npz", "BadZipFile: not a zip file")
raise ZeroDivisionError("a bug")
"""
    user = subprocess.run([sys.executable, "-c", code, "user"], capture_output=True, text=True)
    assert user.returncode == 1
    assert "Traceback" not in user.stderr
    assert "rule extract_features failed" in user.stderr and "results/x.npz" in user.stderr
    assert "Traceback" in log.read_text()  # kept for whoever debugs it
    bug = subprocess.run([sys.executable, "-c", code, "bug"], capture_output=True, text=True)
    assert bug.returncode == 1 and "Traceback" in bug.stderr and "ZeroDivisionError" in bug.stderr


@pytest.mark.parametrize("damage", ["tampered", "truncated"])
def test_a_damaged_standin_archive_is_named_before_it_is_read(tmp_path, monkeypatch, damage):
    """A stand-in has no published digest: the one recorded when it was generated is checked
    (rule prepare_dataset), so a changed archive is never read as if it were the stand-in."""
    import prepare_dataset
    from deepleak import registry

    monkeypatch.chdir(tmp_path)
    raw = Path("data/raw/purchase100/synthetic")
    summary = registry.generate_standin("purchase100", raw, n_records=200, seed=1)
    artifacts.save_json(raw / "standin.json", summary)
    assert prepare_dataset.check_standin(raw / "standin.json")["sha256"] == summary["sha256"]
    archive = Path(summary["path"])
    data = bytearray(archive.read_bytes())
    if damage == "tampered":
        data[len(data) // 2] ^= 0x01  # same size, one bit
    else:
        data = data[: len(data) // 2]
    archive.write_bytes(bytes(data))
    with pytest.raises(registry.ChecksumError) as err:
        prepare_dataset.main("results/purchase100/dataset.npz", "results/purchase100/prov.json",
                             "purchase100", "purchase100", str(raw), "synthetic", None, 0)
    assert str(archive) in str(err.value) and "generate_standin" in str(err.value)
    assert not Path("results").exists()  # nothing was written from it


def test_the_readme_gives_the_recovery_command_the_fault_tests_run():
    """tests/test_faults.py runs `--unlock`, then `--cores 2 --rerun-incomplete` (2 cores for CI)
    after each kill: the README's section says exactly these."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("## When a run is interrupted"):]
    section = section[: section.index("\n## ", 1)]
    assert ".venv/bin/snakemake --unlock\n" in section
    assert ".venv/bin/snakemake --cores all --rerun-incomplete\n" in section


def test_an_atomic_write_gets_the_umasks_permissions(tmp_path):
    """A temporary file is its owner's alone (mkstemp); the file in place is not (a group sharing
    results/ on a cluster reads it)."""
    import os

    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    with files.atomic_path(tmp_path / "atomic.txt") as tmp:
        tmp.write_text("x")
    assert (os.stat(tmp_path / "atomic.txt").st_mode & 0o777) == (plain.stat().st_mode & 0o777)
