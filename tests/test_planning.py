"""Planning the DAG: it imports no torch, and every rule the SLURM profile names exists."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ["config.yaml", "test.yaml", "paper.yaml"]


def plan(*args, env=None):
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)


@pytest.mark.parametrize("profile", PROFILES)
def test_planning_imports_no_torch(tmp_path, profile):
    # A `torch` that cannot be imported, first on the path: planning must never reach for it.
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(
        "raise ImportError('torch was imported while planning the DAG')\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path), "HOME": str(tmp_path)}
    out = plan("-n", "--configfile", f"config/{profile}", env=env)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]


def test_slurm_profile_names_existing_rules():
    profile = yaml.safe_load((ROOT / "workflow/profiles/slurm/config.yaml").read_text())
    rules = set()
    for name in PROFILES:
        out = plan("--list-rules", "--configfile", f"config/{name}")
        assert out.returncode == 0, out.stderr[-3000:]
        rules |= set(out.stdout.split())
    named = set(profile.get("set-resources", {})) | set(profile.get("set-threads", {}))
    assert named, "the profile sets no per-rule resources"
    assert not named - rules, f"the SLURM profile names rules that do not exist: {named - rules}"
