"""Files on disk: one streamed digest helper and one atomic write, shared by every module that
verifies or writes a file (datasets, images, checkpoints, artifacts). Imports nothing heavy.

An interrupted job must never leave a half-written file that a rerun could take as done: every
writer goes through a temporary file in the destination folder (same file system) and
``os.replace``.
"""
from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

DIGESTS = ("size", "sha256", "md5", "blob_sha1")
_CHUNK = 1 << 20  # bytes per read
_TMP = ".tmp-"  # temporaries of <name> are .<name>.tmp-*
_UMASK = os.umask(0o022)  # read (reading it sets it: set it back at once)
os.umask(_UMASK)


def digests(path: str | Path, kinds=DIGESTS) -> dict:
    """The size in bytes and the sha256, md5 and git blob SHA-1 of a file (those of ``kinds``),
    computed in one streamed pass, so a large archive is never held in memory.

    ``blob_sha1`` is the git object id, ``sha1(b"blob <size>\\0" + data)`` as ``git hash-object``
    prints it: it verifies a file taken from a GitHub mirror that publishes no other digest.
    """
    path = Path(path)
    size = path.stat().st_size
    hashes = {"sha256": hashlib.sha256(), "md5": hashlib.md5(),
              "blob_sha1": hashlib.sha1(b"blob %d\0" % size)}
    hashes = {k: h for k, h in hashes.items() if k in kinds}
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            for h in hashes.values():
                h.update(chunk)
    out = {k: h.hexdigest() for k, h in hashes.items()}
    return {"size": size, **out} if "size" in kinds else out


def sha256(path: str | Path) -> str:
    return digests(path, ("sha256",))["sha256"]


def _temporaries(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}{_TMP}*"))


@contextmanager
def atomic_path(path: str | Path, suffix: str = ""):
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    A temporary left by an earlier writer of ``path`` that was killed (SIGKILL skips the cleanup
    below) is removed first: one job writes a path at a time (Snakemake's lock), so it is stale.
    A full disk is reported naming the file, and leaves neither it nor a temporary behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in _temporaries(path):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{_TMP}", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file readable by its owner alone; the result gets the permissions
        # any other file written here gets (the umask's), so that a group can read results/.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except OSError as err:
        if err.errno == errno.ENOSPC:
            raise OSError(errno.ENOSPC, f"no space left on the device while writing {path}; "
                                        f"nothing was written there. Free space on "
                                        f"{path.parent} (or point results/ elsewhere) and rerun "
                                        f"the same command") from err
        raise
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
