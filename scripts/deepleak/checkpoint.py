"""Checkpoints of long jobs: a training job that is killed (a node lost, a scheduler's time limit, a
SIGKILL) resumes where it stopped when it is rerun, and ends with the very bytes an uninterrupted
run writes.

One mechanism for every training loop (``training.fit``: targets, shadows, the fine-tuning
snapshots, reference models trained alone; ``batched.fit``: reference models trained together;
``federated.simulate``: the FedAvg rounds; ``references.statistics``: which reference models are
done; ``attack.fit_supervised``: the attack models, whose paper-sized gradient components train
for hours on a CPU). A loop hands :meth:`Checkpoint.save` its own state after each epoch or round
(model, optimizer moments, step counts, learning rate, history) and the batch-order generators it
draws from; the checkpoint adds every global random state a step may read (torch's, numpy's,
Python's, CUDA's once initialised). :meth:`Checkpoint.load` puts those random states back and
returns the loop's state, so the epochs after a resume draw the same numbers as they would have.

Where: ``<first output>.ckpt`` beside the job's first output, not a declared output (Snakemake
deletes a failed or incomplete job's outputs before it reruns it, and would delete a checkpoint
with them). A loop nested in another (the epochs of one batch of reference models) keeps its own
file, :meth:`Checkpoint.child`. The job removes all of them (:meth:`Checkpoint.remove`) once
its outputs are written.

A checkpoint holds a fingerprint of what made it: the job's parameters and the size and mtime of
each input. A checkpoint of other parameters or inputs (the config changed, the dataset was
remade) is never resumed: the job says so in its log and starts over. Checkpoints are written
atomically (deepleak/files.py), so a kill while one is written leaves the previous one, and read
with ``torch.load(weights_only=True)``, so a checkpoint cannot run code.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import random
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from deepleak.files import atomic_path

log = logging.getLogger(__name__)

SUFFIX = ".ckpt"
_NUMPY = "__numpy__"  # marks an array stored as a tensor (weights_only loads no numpy objects)


def fingerprint(params: Mapping, inputs: Sequence[str | Path] = ()) -> str:
    """A digest of a job's parameters (JSON) and of its inputs' sizes and modification times: cheap
    on a 200 MB dataset, and any rewrite of an input changes it."""
    stats = []
    for path in inputs:
        st = os.stat(path)
        stats.append([str(path), st.st_size, st.st_mtime_ns])
    text = json.dumps({"params": params, "inputs": stats}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _pack(value):
    """``value`` with every numpy array as a tagged tensor (exact: same dtype and bytes)."""
    if isinstance(value, np.ndarray):
        return {_NUMPY: torch.from_numpy(np.ascontiguousarray(value))}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {k: _pack(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_pack(v) for v in value)
    return value


def _unpack(value):
    if isinstance(value, dict):
        if set(value) == {_NUMPY}:
            return value[_NUMPY].numpy()
        return {k: _unpack(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_unpack(v) for v in value)
    return value


def _random_states(generators: Sequence[torch.Generator]) -> dict:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    states = {"torch": torch.get_rng_state(),
              "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
              "python": random.getstate(),
              "generators": [g.get_state() for g in generators]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore_random_states(states: dict, generators: Sequence[torch.Generator]) -> None:
    if len(states["generators"]) != len(generators):
        raise ValueError(f"the checkpoint holds {len(states['generators'])} generator states, the "
                         f"loop has {len(generators)} generators")
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    python = states["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    for g, s in zip(generators, states["generators"], strict=True):
        g.set_state(s)
    if "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])


def resume(checkpoint: Checkpoint | None, generators: Sequence[torch.Generator] = (), *,
           what: str, total: int, **stateful) -> dict | None:
    """The state a loop saved in ``checkpoint`` (None: no checkpoint, or none this job can
    resume), with the random states and ``generators`` put back and each of ``stateful`` (name ->
    an object with ``load_state_dict``: the model, the optimizer, ...) loaded from the saved entry
    of that name. ``what`` names the loop's unit, which is also the key of the last one done
    ("epoch", "round"); the resume is logged as "resuming after epoch 3 of 30 (<path>)"."""
    saved = checkpoint.load(generators) if checkpoint is not None else None
    if saved is None:
        return None
    for name, obj in stateful.items():
        obj.load_state_dict(saved[name])
    log.info("resuming after %s %d of %d (%s)", what, saved[what], total, checkpoint.path)
    return saved


class Checkpoint:
    """The resumable state of one loop of one job, in one file.

    ``every_s``: a loop that asks :meth:`due` before saving saves at most once per that many
    seconds (0: every time). Where it resumes does not change what it ends with, only how much is
    redone after a kill; the attack models use it, whose many short epochs would otherwise spend
    more time writing checkpoints than a kill could lose."""

    def __init__(self, path: str | Path, key: str, every_s: float = 0.0):
        self.path = Path(path)
        self.key = key
        self.every_s = every_s
        self._last_save = time.monotonic()

    @classmethod
    def for_job(cls, output: str | Path, params: Mapping,
                inputs: Sequence[str | Path] = (), every_s: float = 0.0) -> Checkpoint:
        """The checkpoint of the job whose first output is ``output``: ``<output>.ckpt``, keyed by
        the job's ``params`` and ``inputs`` (:func:`fingerprint`)."""
        return cls(f"{output}{SUFFIX}", fingerprint(params, inputs), every_s)

    def child(self, name: str) -> Checkpoint:
        """The checkpoint of a loop inside this one (``<path>.<name>``); :meth:`remove` removes it
        too."""
        return Checkpoint(f"{self.path}.{name}", f"{self.key}/{name}", self.every_s)

    def due(self) -> bool:
        """Whether ``every_s`` has passed since the last save (or since this object was made)."""
        return time.monotonic() - self._last_save >= self.every_s

    def save(self, state: Mapping, generators: Sequence[torch.Generator] = ()) -> None:
        """Write ``state`` (tensors, numpy arrays, numbers, strings, lists and dicts of them) and
        the random states, replacing the previous checkpoint atomically."""
        payload = {"key": self.key, "random": _random_states(generators), "state": _pack(state)}
        # Through a buffer: torch.save names its records after the file, here a temporary one.
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        with atomic_path(self.path) as tmp:
            tmp.write_bytes(buffer.getvalue())
        self._last_save = time.monotonic()

    def load(self, generators: Sequence[torch.Generator] = ()) -> dict | None:
        """The saved state, with the random states and ``generators`` put back as they were when it
        was saved; None when there is no checkpoint, or one that this job cannot resume (made with
        other parameters or inputs, or unreadable), which the job's log says."""
        if not self.path.exists():
            return None
        try:
            payload = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unreadable file means: start over
            log.warning("checkpoint %s cannot be read (%s); starting over", self.path, err)
            return None
        if not isinstance(payload, dict) or payload.get("key") != self.key:
            log.warning("checkpoint %s was made with other parameters or inputs; starting over "
                        "(it is replaced by this run's)", self.path)
            return None
        _restore_random_states(payload["random"], generators)
        return _unpack(payload["state"])

    def remove(self) -> None:
        """Remove this checkpoint and its children's (the job is done)."""
        for path in [self.path, *self.path.parent.glob(f"{self.path.name}.*")]:
            path.unlink(missing_ok=True)
