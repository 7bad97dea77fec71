"""A copy of the workflow to run end to end in a temporary folder (the e2e tests' shared helper):
the files a run reads, and the environment that makes its jobs import the copy's own library."""
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ("Snakefile", "workflow", "scripts", "config")


def fresh_copy(dest: Path) -> Path:
    """``dest`` (created) holding the workflow's files, as a fresh clone has them."""
    dest.mkdir()
    for name in WORKFLOW:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    return dest


def env(work: Path) -> dict:
    """The environment of a run in ``work``: the copy's library first, whatever else is installed
    (jobs submitted to SLURM inherit it: the plugin submits --export=ALL)."""
    return {**os.environ, "PYTHONPATH": str(work / "scripts")}
