"""Artifacts on disk: arrays, JSON records and model checkpoints, always written atomically.

Every writer goes through ``files.atomic_path``, so an interrupted job never leaves a half-written
file that a rerun could take as done.
"""
from __future__ import annotations

import io
import json
import pickle
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from deepleak.errors import UnreadableFile
from deepleak.files import atomic_path  # noqa: F401 - also used by tables.py and plots.py

META_KEY = "__meta__"


def save_npz(path: str | Path, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
    """Save named arrays (uncompressed: the features are read far more often than written)."""
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    if meta is not None:
        payload[META_KEY] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    with atomic_path(path, ".npz") as tmp:
        np.savez(tmp, **payload)


@contextmanager
def _reading(path: str | Path):
    """Turn any failure to parse ``path`` into an UnreadableFile that names it and the rule that
    remakes it (a missing file stays a FileNotFoundError)."""
    try:
        yield
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, KeyError, RuntimeError, zipfile.BadZipFile,
            pickle.UnpicklingError) as err:
        raise UnreadableFile(path, f"{type(err).__name__}: {err}") from err


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    with _reading(path), np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files if k != META_KEY}


def load_npz_meta(path: str | Path) -> dict:
    with _reading(path), np.load(path, allow_pickle=False) as data:
        if META_KEY not in data.files:
            return {}
        return json.loads(data[META_KEY].tobytes().decode())


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def save_json(path: str | Path, record: dict) -> None:
    with atomic_path(path, ".json") as tmp:
        tmp.write_text(json.dumps(_jsonable(record), indent=2, sort_keys=True) + "\n")


def load_json(path: str | Path) -> dict:
    with _reading(path):
        return json.loads(Path(path).read_text())


def save_model(net, path: str | Path, meta_path: str | Path, meta: dict) -> None:
    """A plain ``state_dict`` (loadable with ``weights_only=True``) and a JSON sidecar holding the
    config that made it, as nanoGPT keeps the config with every checkpoint."""
    import torch

    # Through a buffer: torch.save names the zip's records after the file, and the temporary name
    # would make two identical models differ byte for byte.
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    with atomic_path(path, ".pt") as tmp:
        tmp.write_bytes(buffer.getvalue())
    save_json(meta_path, meta)


def load_state_dict(net, path: str | Path) -> None:
    """Load weights into ``net``; a checkpoint of another architecture is an error naming its
    keys."""
    import torch

    with _reading(path):
        state = torch.load(path, map_location="cpu", weights_only=True)
    missing, unexpected = net.load_state_dict(state, strict=False)
    shape_errors = [k for k, v in state.items()
                    if k in net.state_dict() and net.state_dict()[k].shape != v.shape]
    if missing or unexpected or shape_errors:
        raise ValueError(
            f"checkpoint {path} does not match the {type(net).__name__} architecture in the "
            f"config: missing keys {missing}, unexpected keys {unexpected}, wrong shapes "
            f"{shape_errors}. Delete the checkpoint so that it is retrained, or fix the model "
            f"section of the config.")
    net.load_state_dict(state)
