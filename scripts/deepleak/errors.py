"""Errors a user can act on, and how a job reports them.

A job that fails on bad input (a truncated or corrupted file, a dataset that is not where the
config says, a full disk, a diverged training) says in one line what was wrong, where, and what to
do; the traceback, which helps only a developer, goes to the job's log (scripts/_common.py installs
:func:`excepthook`). A bug still shows its traceback. Imports nothing heavy.
"""
from __future__ import annotations

import errno
import json
import logging
import sys
from base64 import urlsafe_b64encode
from pathlib import Path

# Where Snakemake keeps one record per output file (the rule that made it, its parameters, ...),
# named by the path's URL-safe base64 (split into folders of 254 characters, each but the last
# marked "@", beyond a file-name's length). The rule that made a file is read there, so no table
# of rule outputs can drift from the workflow.
_METADATA = Path(".snakemake") / "metadata"


class UnreadableFile(RuntimeError):
    """An input that exists but cannot be read: truncated, corrupted, or not what its name says."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        rule = producing_rule(path)
        made_by = f"rule {rule} made it" if rule else "Snakemake finds the rule that makes it"
        super().__init__(
            f"{path} cannot be read ({reason}): the file is truncated or corrupted. Remake it and "
            f"everything made from it with: snakemake --cores all --forcerun={path} (with your "
            f"targets and --configfile; {made_by}).")


def producing_rule(path: str | Path) -> str | None:
    """The rule that made ``path`` (relative to the working directory), from Snakemake's record of
    it; None where there is none (a file Snakemake did not make, another working directory)."""
    b64 = urlsafe_b64encode(str(path).encode()).decode()
    parts = [b64[i: i + 254] for i in range(0, len(b64), 254)]
    record = _METADATA.joinpath(*(["@" + p for p in parts[:-1]] + parts[-1:]))
    try:
        return json.loads(record.read_text()).get("rule")
    except (OSError, ValueError, AttributeError):
        return None


def is_users_to_fix(err: BaseException) -> bool:
    """Whether ``err`` is one DeepLeak raised on purpose with a message for the user (any error
    class of its own modules, or a full disk), not a bug."""
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return True
    return type(err).__module__.split(".")[0] == "deepleak"


def excepthook(rule: str, log_file: str | None):
    """A ``sys.excepthook`` for the job of ``rule``: a user's error is one line on stderr (which
    Snakemake shows) and its traceback goes to the job's log; anything else is Python's own."""
    def hook(exc_type, exc, tb):
        if not is_users_to_fix(exc):
            sys.__excepthook__(exc_type, exc, tb)
            return
        logging.getLogger("deepleak").error("%s", exc, exc_info=(exc_type, exc, tb))
        where = f" (traceback in {log_file})" if log_file else ""
        sys.stderr.write(f"DeepLeak: rule {rule} failed{where}:\n  {exc}\n")
        sys.stderr.flush()

    return hook

