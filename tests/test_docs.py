"""The repository documents itself: no tracked file cites notes that are not in it, or names a path
that only exists on one machine.

A reader has the repository and the paper, so code, configuration comments, captions and README cite
the paper's own sections, tables, equations and figures. Run from anywhere:
``python -m pytest tests/test_docs.py``.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Team notes that never were part of the repository.
NOTES = re.compile(r"\b(?:SPEC|DATASETS|DESIGN|STYLE|ENVIRONMENT)\.md\b")

# Absolute paths of somebody's machine: home and work folders, temporary files, Windows drives.
# Spelled from their parts, so that this file names no such path itself.
ROOTS = ("work", "home", "Users", "tmp")
MACHINE_PATH = re.compile(r"(?<![\w.~-])(?:" + "|".join(f"/{r}/" for r in ROOTS) + r"|[A-Za-z]:\\)")

# Paths that are the same on every machine, so a file may name them:
ALLOWED = (
    "/usr/share/datasets/",  # where Debian's dataset packages (dataset-fashion-mnist) install
    "/usr/bin/env",          # the portable shebang
)

def tracked_text_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [p for p in out.stdout.decode().split("\0") if p]


def offending_lines(paths) -> list[str]:
    """``file:line: text`` for every line citing missing notes or naming a machine's path."""
    found = []
    for rel in paths:
        data = (ROOT / rel).read_bytes()
        if b"\0" in data[:8192]:  # binary (images, archives): nothing to read
            continue
        for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            bare = line
            for ok in ALLOWED:
                bare = bare.replace(ok, "")
            if NOTES.search(bare) or MACHINE_PATH.search(bare):
                found.append(f"{rel}:{n}: {line.strip()[:120]}")
    return found


def test_patterns_catch_what_they_must_and_spare_the_allowed(tmp_path):
    notes = [f"see {name}.md 2.2" for name in ("SPEC", "DATASETS", "DESIGN")]
    paths = [f"cd /{root}/me/x" for root in ROOTS] + ["open('/" + "tmp/x.npz')", "C:" + "\\data\\x"]
    bad = notes + paths
    good = ["#!/usr/bin/env python", "/usr/share/datasets/fashion-mnist/", "tmp_path / 'x'",
            "results/" + "tmp" + "/x", "paper §III-E", "work" + "/", "a:b\\c"]
    for text in bad:
        assert NOTES.search(text) or MACHINE_PATH.search(text), text
    for text in good:
        bare = text
        for ok in ALLOWED:
            bare = bare.replace(ok, "")
        assert not (NOTES.search(bare) or MACHINE_PATH.search(bare)), text


def test_tracked_files_cite_only_the_paper_and_name_no_machine_paths():
    found = offending_lines(tracked_text_files())
    if found:
        pytest.fail(f"{len(found)} line(s) cite notes outside the repository or a machine's path "
                    "(cite the paper's section, table, equation or figure instead):\n"
                    + "\n".join(found))
