"""Audit a model of your own with the paper's attacks (config ``audit``; workflow/rules/audit.smk).

A user names a Python file and the function in it that builds their ``nn.Module``, a ``state_dict``,
their records and which of them the model was trained on. This module turns that into what the
paper's attacks read, and reports what the attacks found:

- :func:`load_function`, :func:`load_state`, :func:`load_weights`: the model, its weights read with
  ``torch.load(weights_only=True)`` (a checkpoint cannot run code), every mismatch named;
- :func:`load_data`, :func:`membership`, :func:`attacker_sets`: the records, the members and
  non-members, and the paper's supervised threat model (§II-C): the attacker knows a fraction of
  each (the paper: half) and is scored on the rest;
- :func:`probe`: one forward pass on two records, with forward hooks, that finds the parameterised
  ``nn.Linear`` / ``nn.Conv2d`` modules in the order they run, and turns a failure into an error
  that names the module and the data's shape;
- :class:`HookedModel`: the user's model seen through the interface deepleak/features.py reads
  (``layer_names``, ``forward(x, return_activations=True)``, ``layer_modules``): a chosen layer's
  output is its module's output as a forward hook sees it;
- :func:`audit_attacks`: the attacks an audit runs, in the paper's words (Tables III-V, VIII);
- :func:`train_model`, :func:`reference_pool`: LiRA's reference models, trained by the user's own
  training function on halves of a pool that holds the attack-test records (the scoring is the
  stand-alone calibrated attacks', deepleak/calibration.py);
- :func:`verdict`, :func:`lira_verdict`, :func:`layer_rows`: the plain-words summary and the
  per-layer leakage table.

The model is only read: every pass runs in eval mode (batch norm uses its running statistics and
updates nothing, dropout is off), gradients are taken with ``torch.autograd.grad`` w.r.t. layer
outputs (no parameter ``.grad`` is written, no optimiser exists), and :func:`fingerprint` lets the
caller check that the weights and buffers are bit for bit what they were.
"""
from __future__ import annotations

import hashlib
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np

from deepleak import files, metrics
from deepleak.splits import ATTACK_SETS
from deepleak.variants import AttackFeatures

# The modules whose gradient and output the white-box attacks read (the paper's "layers").
LAYER_TYPES = ("Linear", "Conv2d")
TRANSFORMS = ("none", "to_tensor", "to_tensor_grayscale", "pixels", "pixels_grayscale")


class AuditError(ValueError):
    """Something of the user's (model, weights, data, membership, sizes) that the audit cannot use;
    the message names it, where it is, and what to do."""


# --------------------------------------------------------------------------------------------------
# The model and its weights
# --------------------------------------------------------------------------------------------------
def load_function(path: str | Path, name: str):
    """The function ``name`` of the Python file ``path`` (imported under a private module name)."""
    path = Path(path)
    if not path.is_file():
        raise AuditError(f"audit.model.file: {path} does not exist; give the path of the Python "
                         f"file that defines your model, relative to the working directory")
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    module_name = f"deepleak_audit_user_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    # The file's own folder first, so that it can import its neighbours as a script would.
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise AuditError(f"audit.model.file: importing {path} failed: "
                         f"{type(err).__name__}: {err}") from err
    finally:
        sys.path.remove(str(path.resolve().parent))
    fn = getattr(module, name, None)
    if not callable(fn):
        found = sorted(k for k, v in vars(module).items()
                       if callable(v) and not k.startswith("_")
                       and getattr(v, "__module__", None) == module_name)
        raise AuditError(f"audit.model.function: {path} has no function {name!r}; the functions "
                         f"and classes it defines are {found}. Name the one that returns your "
                         f"nn.Module")
    return fn


def build(model_cfg: dict):
    """The user's model, built by their function with ``kwargs``."""
    from torch import nn

    fn = load_function(model_cfg["file"], model_cfg["function"])
    net = fn(**model_cfg.get("kwargs", {}))
    if not isinstance(net, nn.Module):
        raise AuditError(f"audit.model.function: {model_cfg['function']}() in {model_cfg['file']} "
                         f"returned a {type(net).__name__}, not a torch.nn.Module")
    return net


def train_model(model_cfg: dict, X, y, seed: int, train_fn=None):
    """A fresh model of the user's (``audit.model.function``) trained by their
    ``audit.model.train_function`` on (X, y): ``train(model, X, y, seed=seed, **train_kwargs)``,
    the one signature the audit calls it with (the worked examples' weights, LiRA's reference
    models). It trains ``model`` in place; a returned ``nn.Module`` is taken instead. torch's
    global seed is set to ``seed`` first, so the initial weights come from the config seed too.
    ``train_fn``: the function, when the caller has loaded it already."""
    import torch
    from torch import nn

    name = model_cfg.get("train_function")
    if not name:
        raise AuditError("audit.model.train_function is not given; name the function of "
                         "audit.model.file that trains your model, train(model, X, y, seed=..., "
                         "**train_kwargs)")
    train_fn = train_fn or load_function(model_cfg["file"], name)
    torch.manual_seed(seed)
    net = build(model_cfg)
    try:
        out = train_fn(net, X, y, seed=seed, **model_cfg.get("train_kwargs", {}))
    except Exception as err:
        raise AuditError(f"audit.model.train_function: {name}() of {model_cfg['file']} failed on "
                         f"{len(X)} records ({type(err).__name__}: {err}); it is called as "
                         f"{name}(model, X, y, seed=..., **audit.model.train_kwargs) with numpy "
                         f"arrays X, y") from err
    return out if isinstance(out, nn.Module) else net


def load_state(path: str | Path, sha256: str | None = None) -> dict:
    """The state_dict in ``path``, read with ``weights_only=True``; checked against ``sha256``."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise AuditError(f"audit.model.state_dict: {path} does not exist")
    if sha256 is not None and files.sha256(path) != sha256:
        raise AuditError(f"audit.model.sha256: {path} has sha256 {files.sha256(path)}, not the "
                         f"{sha256} the config gives; it is not the file you meant, or the "
                         f"config's digest is out of date")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise AuditError(
            f"audit.model.state_dict: {path} cannot be read with torch.load(weights_only=True) "
            f"({type(err).__name__}: {_plain(str(err).splitlines()[0])}). Save the weights alone, "
            f"torch.save(model.state_dict(), path); a pickled model, TorchScript or an exported "
            f"graph is not read (they could run code, or have no module hooks)") from err
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise AuditError(f"audit.model.state_dict: {path} holds a {type(state).__name__}, not a "
                         f"state_dict (names -> tensors); save model.state_dict()")
    # nn.DataParallel / DistributedDataParallel prefix every key with "module.".
    if state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def _plain(text: str) -> str:
    """``text`` without terminal colour codes (torch's messages carry some)."""
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def load_weights(net, state: dict, path: str | Path) -> None:
    """Load ``state`` into ``net``, strictly; every missing, unexpected or misshapen key named."""
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: file {tuple(state[k].shape)}, model {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(state)) if own[k].shape != state[k].shape]
    if missing or unexpected or shapes:
        parts = [f"{what} ({len(keys)}): {keys[:8]}{' ...' if len(keys) > 8 else ''}"
                 for what, keys in (("missing keys", missing), ("unexpected keys", unexpected),
                                    ("wrong shapes", shapes)) if keys]
        raise AuditError(f"audit.model.state_dict: {path} does not match the model that "
                         f"audit.model.function builds: {'; '.join(parts)}. Check that the "
                         f"function and its kwargs build the architecture these weights were "
                         f"trained with")
    net.load_state_dict(state, strict=True)


def fingerprint(net) -> str:
    """sha256 of every parameter and buffer of ``net`` (names, shapes, bytes): equal before and
    after the audit means the model in memory was not changed, batch-norm statistics included."""
    import torch

    h = hashlib.sha256()
    for name, tensor in sorted({**dict(net.named_parameters()),
                                **dict(net.named_buffers())}.items()):
        t = tensor.detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def user_files(cfg: dict) -> list[str]:
    """Every file of the user's that the audit reads (checked unchanged at the end)."""
    data, membership = cfg["data"], cfg["membership"]
    paths = [cfg["model"]["file"], cfg["model"]["state_dict"]]
    if data.get("npz"):
        paths.append(data["npz"])
    for key in ("members", "nonmembers"):
        source = membership.get(key)
        if source:
            paths.append(source if isinstance(source, str) else source["path"])
    if membership.get("attacker_sets"):
        paths.append(membership["attacker_sets"])
    return sorted(set(paths))


# --------------------------------------------------------------------------------------------------
# The records
# --------------------------------------------------------------------------------------------------
def load_data(data_cfg: dict) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(X, y, every array of the .npz) of the user's records."""
    npz, folder = data_cfg.get("npz"), data_cfg.get("image_folder")
    transform = data_cfg.get("transform", "none")
    if bool(npz) == bool(folder):
        raise AuditError("audit.data: give exactly one of npz (an .npz with X and y) and "
                         "image_folder (an ImageFolder tree)")
    if npz:
        if not Path(npz).is_file():
            raise AuditError(f"audit.data.npz: {npz} does not exist")
        if transform != "none":
            raise AuditError(f"audit.data.transform is {transform!r}, but transforms apply to "
                             f"image_folder data; an .npz is read as stored (transform: none)")
        with np.load(npz, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        missing = [k for k in ("X", "y") if k not in arrays]
        if missing:
            raise AuditError(f"audit.data.npz: {npz} has no array {missing}; it has "
                             f"{sorted(arrays)}. Save the records as X and the labels as y")
        X, y = arrays["X"], arrays["y"]
    else:
        X, y = _image_folder(folder, transform)
        arrays = {"X": X, "y": y}
    if y.ndim != 1 or len(y) != len(X):
        raise AuditError(f"audit.data: y must hold one integer label per record of X; X has "
                         f"{len(X)} records, y has shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.asarray(y) == np.round(y)):
            raise AuditError(f"audit.data: y holds non-integer labels ({y.dtype}); give class "
                             f"indices")
        y = y.astype(np.int64)
    return X, y.astype(np.int64), arrays


def _image_folder(root, transform: str) -> tuple[np.ndarray, np.ndarray]:
    """An ImageFolder tree as arrays (records in ImageFolder's order), through a named transform."""
    from torchvision import datasets
    from torchvision.transforms import functional as TF

    if not Path(root).is_dir():
        raise AuditError(f"audit.data.image_folder: {root} is not a folder")
    if transform not in TRANSFORMS or transform == "none":
        raise AuditError(f"audit.data.transform: image_folder data needs one of "
                         f"{list(TRANSFORMS[1:])} to become tensors; got {transform!r}")
    gray = transform.endswith("_grayscale")

    def convert(img):
        img = img.convert("L" if gray else "RGB")
        t = TF.pil_to_tensor(img)  # uint8 [C, H, W]
        return t.float() / 255 if transform.startswith("to_tensor") else t.float()

    ds = datasets.ImageFolder(root, transform=convert)
    # Reading files is one loop over images by nature; every later step is batched.
    items = [ds[i] for i in range(len(ds))]
    sizes = {tuple(x.shape) for x, _ in items}
    if len(sizes) > 1:
        raise AuditError(f"audit.data.image_folder: the images of {root} have different sizes "
                         f"{sorted(sizes)[:4]}; resize them to one size first")
    X = np.stack([x.numpy() for x, _ in items]).astype(np.float32)
    return X, np.array([c for _, c in items], dtype=np.int64)


def read_indices(source, what: str) -> np.ndarray:
    """Record indices from an index source (``audit.membership.members`` / ``nonmembers``)."""
    path, key = (source, None) if isinstance(source, str) else (source["path"], source.get("key"))
    where = f"audit.membership.{what}"
    if not Path(path).is_file():
        raise AuditError(f"{where}: {path} does not exist")
    suffix = Path(path).suffix
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            names = list(f.files)
            if key is None and len(names) != 1:
                raise AuditError(f"{where}: {path} holds {names}; name one with key")
            if (key or names[0]) not in names:
                raise AuditError(f"{where}: {path} has no array {key!r}; it has {names}")
            ids = f[key or names[0]]
    elif suffix == ".npy":
        ids = np.load(path, allow_pickle=False)
    else:
        try:
            ids = np.loadtxt(path, dtype=np.float64, delimiter=",", ndmin=1, comments="#")
        except ValueError as err:
            raise AuditError(f"{where}: {path} is not one integer per line ({err})") from err
    ids = np.asarray(ids).ravel()
    if ids.size and not np.all(ids == np.round(ids)):
        raise AuditError(f"{where}: {path} holds non-integer indices")
    return ids.astype(np.int64)


def membership(cfg: dict, n_records: int, arrays: dict[str, np.ndarray]
               ) -> tuple[np.ndarray, np.ndarray]:
    """(members, non-members): sorted record indices, checked in range, unique and disjoint."""
    m = cfg
    given = [k for k in ("members", "column", "split") if m.get(k)]
    if m.get("nonmembers") and "members" not in given:
        given.append("members")
    if len(given) != 1 or (given == ["members"] and not (m.get("members") and m.get("nonmembers"))):
        raise AuditError("audit.membership: give members and nonmembers (index files), or column, "
                         f"or split; got {given or 'none of them'}")
    if given == ["members"]:
        sets = {k: read_indices(m[k], k) for k in ("members", "nonmembers")}
    elif given == ["column"]:
        if m["column"] not in arrays:
            raise AuditError(f"audit.membership.column: the data has no array {m['column']!r}; it "
                             f"has {sorted(arrays)} (a column works with npz data)")
        col = np.asarray(arrays[m["column"]]).ravel()
        if len(col) != n_records:
            raise AuditError(f"audit.membership.column: {m['column']!r} has {len(col)} values for "
                             f"{n_records} records")
        sets = {"members": np.flatnonzero(col == 1), "nonmembers": np.flatnonzero(col == 0)}
    else:
        s = m["split"]
        if s["members"] + s["nonmembers"] > n_records:
            raise AuditError(f"audit.membership.split: {s['members']} members + {s['nonmembers']} "
                             f"non-members exceed the {n_records} records of the data")
        perm = np.random.default_rng(s["seed"]).permutation(n_records)
        sets = {"members": perm[:s["members"]],
                "nonmembers": perm[s["members"]:s["members"] + s["nonmembers"]]}
    for what, ids in sets.items():
        if len(ids) == 0:
            raise AuditError(f"audit.membership: no {what} given")
        bad = ids[(ids < 0) | (ids >= n_records)]
        if len(bad):
            raise AuditError(f"audit.membership.{what}: indices {bad[:5].tolist()} are outside the "
                             f"data's {n_records} records (0 .. {n_records - 1})")
        values, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            raise AuditError(f"audit.membership.{what}: indices {values[counts > 1][:5].tolist()} "
                             f"appear more than once")
    both = np.intersect1d(sets["members"], sets["nonmembers"])
    if len(both):
        raise AuditError(f"audit.membership: {len(both)} records are both members and non-members "
                         f"(e.g. {both[:5].tolist()}); a record was trained on or it was not")
    return np.sort(sets["members"]), np.sort(sets["nonmembers"])


def attacker_sets(members: np.ndarray, nonmembers: np.ndarray, cfg: dict, seed: int, *,
                  attack_batch_size: int) -> dict[str, np.ndarray]:
    """The six record sets of the supervised threat model (named as the stand-alone splits.npz
    names them, deepleak/splits.py): the attacker's known members and non-members (``knowledge``
    of each, a seeded draw), split into attack training and validation (``validation_fraction``),
    and the attack-test records (``test``, default: the rest). With ``membership.attacker_sets``
    the sets are read from that file instead."""
    if cfg["membership"].get("attacker_sets"):
        path = cfg["membership"]["attacker_sets"]
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ATTACK_SETS if k not in f.files]
            if missing:
                raise AuditError(f"audit.membership.attacker_sets: {path} has no {missing}")
            sets = {k: np.sort(f[k].astype(np.int64)) for k in ATTACK_SETS}
        for side, pool in (("members", members), ("nonmembers", nonmembers)):
            for k in ATTACK_SETS:
                if k.endswith("_" + side) and not np.isin(sets[k], pool).all():
                    raise AuditError(f"audit.membership.attacker_sets: {k} in {path} holds records "
                                     f"that are not {side} of audit.membership")
        from deepleak.splits import SplitError, check_disjoint

        try:
            check_disjoint(sets, [list(ATTACK_SETS)])
        except SplitError as err:
            raise AuditError(f"audit.membership.attacker_sets: {err}") from err
    else:
        rng = np.random.default_rng(seed)
        sets = {}
        for side, pool in (("members", members), ("nonmembers", nonmembers)):
            fraction, test = cfg["knowledge"][side], cfg["test"].get(side)
            known = int(round(fraction * len(pool)))
            test = len(pool) - known if test is None else test
            if known + test > len(pool):
                raise AuditError(
                    f"audit.test.{side}: the attacker knows {known} {side} (audit.knowledge."
                    f"{side} = {fraction}) and {test} more are asked for the attack test set, but "
                    f"there are only {len(pool)}; lower one of them or give more {side}")
            perm = rng.permutation(pool)
            n_val = int(round(known * cfg["validation_fraction"]))
            sets[f"attack_train_{side}"] = np.sort(perm[:known - n_val])
            sets[f"attack_val_{side}"] = np.sort(perm[known - n_val:known])
            sets[f"attack_test_{side}"] = np.sort(perm[known:known + test])
    half = attack_batch_size // 2
    for k in ATTACK_SETS:
        need = half if k.startswith("attack_train") else 1
        if len(sets[k]) < need:
            raise AuditError(
                f"audit: too few records for the requested knowledge and test sizes: {k} has "
                f"{len(sets[k])} records, and needs at least {need}"
                + (f" (half of attack_model.batch_size {attack_batch_size}: each attack batch is "
                   f"half members, half non-members)" if need > 1 else "")
                + ". Give more members / non-members, raise audit.knowledge, or lower audit.test "
                  "or audit.validation_fraction")
    return sets


# --------------------------------------------------------------------------------------------------
# Which layers, and does the data fit the model
# --------------------------------------------------------------------------------------------------
def probe(net, X: np.ndarray, y: np.ndarray, n_records: int = 2) -> dict:
    """One forward pass on the first records, in eval mode: the parameterised ``nn.Linear`` /
    ``nn.Conv2d`` modules in the order they ran, and the number of outputs. A shape that does not
    fit is an error naming the module that refused it and the data's record shape; a label outside
    the model's outputs likewise."""
    import torch
    from torch import nn

    from deepleak.gradients import _eval_mode

    order, entered, calls = [], [], {}
    modules = dict(net.named_modules())

    def pre_hook(name):
        def hook(module, args):
            entered.append(name)
        return hook

    def post_hook(name):
        def hook(module, args, output):
            calls[name] = calls.get(name, 0) + 1
            if name not in order:
                order.append(name)
        return hook

    handles = []
    for name, m in modules.items():
        if not list(m.children()):
            handles.append(m.register_forward_pre_hook(pre_hook(name)))
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            handles.append(m.register_forward_hook(post_hook(name)))
    x = torch.as_tensor(np.asarray(X[:n_records]), dtype=torch.float32)
    try:
        with torch.no_grad(), _eval_mode(net):
            out = net(x)
    except Exception as err:
        where = entered[-1] if entered else None
        layer = f"module {where!r} ({modules[where]})" if where else "the model's first module"
        raise AuditError(
            f"audit.data: the model cannot read the data: {layer} failed on records of shape "
            f"{tuple(x.shape[1:])} ({type(err).__name__}: {str(err).splitlines()[0]}). Give X in "
            f"the shape the model's first layer takes (images as [n, C, H, W])") from err
    finally:
        for h in handles:
            h.remove()
    logits = out[0] if isinstance(out, (tuple, list)) else out
    if logits.dim() != 2:
        raise AuditError(f"audit.model: the model's output has shape {tuple(logits.shape)}; the "
                         f"attacks need one row of class scores (logits) per record")
    n_classes = int(logits.shape[1])
    bad = np.unique(y[(y < 0) | (y >= n_classes)])
    if len(bad):
        raise AuditError(f"audit.data: labels {bad[:8].tolist()} are outside the model's "
                         f"{n_classes} outputs (0 .. {n_classes - 1}); check y, or the model's "
                         f"number of classes")
    shared = sorted(n for n, c in calls.items() if c > 1)
    return {"order": order, "n_classes": n_classes, "shared": shared}


def choose_layers(order: list[str], shared: list[str], last: int, names: list[str] | None
                  ) -> list[str]:
    """The modules the white-box attacks read: ``names``, or the last ``last`` of ``order``."""
    if not order:
        raise AuditError("audit.layers: the model ran no nn.Linear or nn.Conv2d module; the "
                         "white-box attacks read those modules' outputs and gradients")
    if names:
        unknown = [n for n in names if n not in order]
        if unknown:
            raise AuditError(f"audit.layers.names: {unknown} are not nn.Linear / nn.Conv2d modules "
                             f"the forward pass runs; those are {order}")
        chosen = sorted(names, key=order.index)
    else:
        if last > len(order):
            raise AuditError(f"audit.layers.last is {last}, but the model has {len(order)} "
                             f"parameterised layers ({order}); lower it")
        chosen = order[len(order) - last:]
    twice = [n for n in chosen if n in shared]
    if twice:
        raise AuditError(f"audit.layers: {twice} run more than once per forward pass (shared "
                         f"weights), so their per-example gradient is not one outer product; name "
                         f"other layers with audit.layers.names")
    return chosen


def layer_names(modules: list[str]) -> list[str]:
    """Names of the chosen layers in feature keys and attack models: the module names with dots
    made underscores (an attack model's components are keyed by them, and torch refuses dots)."""
    names = [m.replace(".", "_") for m in modules]
    if len(set(names)) != len(names):
        names = [f"{i}_{n}" for i, n in enumerate(names)]
    return names


def hooked(net, modules: list[str]):
    """The user's ``net`` behind the feature extractor's interface (:class:`HookedModel`)."""
    import torch
    from torch import nn

    class HookedModel(nn.Module):
        """``forward(x, return_activations=True)`` gives the logits and the output of each chosen
        module, captured by forward hooks; ``layer_modules`` maps a layer to its module, so that
        deepleak/features.py and deepleak/gradients.py read the user's model as one of ours."""

        def __init__(self):
            super().__init__()
            self.net = net
            self.layer_names = layer_names(modules)
            self.layer_modules = {n: f"net.{m}"
                                  for n, m in zip(self.layer_names, modules, strict=True)}
            self._captured: dict[str, torch.Tensor] = {}
            named = dict(net.named_modules())
            for n, m in zip(self.layer_names, modules, strict=True):
                named[m].register_forward_hook(self._capture(n))

        def _capture(self, name):
            def hook(module, args, output):
                self._captured[name] = output
            return hook

        def forward(self, x, return_activations: bool = False):
            self._captured.clear()
            out = self.net(x)
            logits = out[0] if isinstance(out, (tuple, list)) else out
            if not return_activations:
                return logits
            return logits, [self._captured[n] for n in self.layer_names]

    return HookedModel()


# --------------------------------------------------------------------------------------------------
# The attacks, the verdict and the per-layer table
# --------------------------------------------------------------------------------------------------
def audit_attacks(layers: list[str], modules: list[str], output_layer: str
                  ) -> dict[str, tuple[str, AttackFeatures]]:
    """Every supervised attack of an audit: name -> (description, features). Layers are counted
    from the output as the paper does (1 = the last chosen layer). ``output_layer`` is the layer
    whose output is the model's prediction (the black-box attack reads it)."""
    n = len(layers)
    attacks = {"black_box": ("Black-box: prediction vector, loss and label",
                             AttackFeatures(outputs=(output_layer,)))}
    for k in range(2, n + 1):
        name = layers[n - k]
        attacks[f"outputs_{k}"] = (f"White-box: output of layer {modules[n - k]} ({_from_end(k)})",
                                   AttackFeatures(outputs=(name,)))
    for k in range(1, n + 1):
        name = layers[n - k]
        attacks[f"gradients_{k}"] = (
            f"White-box: gradient of layer {modules[n - k]} ({_from_end(k)})",
            AttackFeatures(gradients=(name,)))
    outs = tuple(dict.fromkeys([*layers, output_layer]))
    attacks["outputs_all"] = ("White-box: outputs of all chosen layers",
                              AttackFeatures(outputs=outs))
    attacks["gradients_all"] = ("White-box: gradients of all chosen layers",
                                AttackFeatures(gradients=tuple(layers)))
    attacks["gradients_all_outputs_all"] = ("White-box: all chosen gradients and outputs",
                                            AttackFeatures(outputs=outs, gradients=tuple(layers)))
    return attacks


def _from_end(k: int) -> str:
    suffix = {2: "nd", 3: "rd"}.get(k, "th")
    return "the last layer" if k == 1 else f"{k}{suffix} to last"


def _pct(x) -> str:
    return f"{100 * x:.1f} %"


def _rate(fpr: float) -> str:
    return f"{100 * fpr:g} %"


def strongest(results: dict[str, dict], fpr: float) -> str:
    """The attack with the highest TPR at ``fpr`` (the AUC where the test set cannot realise it;
    ties: the higher AUC, then the name)."""
    key = metrics.tpr_key(fpr)

    def rank(name):
        m = results[name]
        tpr = m.get(key)
        return (-1.0 if tpr is None else tpr, m["auc"], name)

    return max(results, key=rank)


def reference_pool(sets: dict[str, np.ndarray], n_records: int, train_size: int,
                   population: int, seed: int) -> dict[str, np.ndarray]:
    """The records of LiRA's reference models in an audit (deepleak/calibration.py draw_pool):

    - ``pool``: the attack-test records, then, in a seeded order, the attacker's known members and
      non-members, then records of the data that are neither members nor non-members, up to
      ``2 * train_size`` (each reference model trains on half of it);
    - ``population``: RMIA's z, records outside the pool that the audited model never saw (known
      non-members, then records outside the membership, in the same order).

    ``sets``: the audit's splits.npz (members, nonmembers and the attacker's six sets)."""
    from deepleak import calibration

    test = np.concatenate([sets["attack_test_members"], sets["attack_test_nonmembers"]])
    known = np.concatenate([sets[k] for k in ATTACK_SETS if not k.startswith("attack_test")])
    outside = np.setdiff1d(np.arange(n_records),
                           np.concatenate([sets["members"], sets["nonmembers"]]))
    rng = np.random.default_rng(seed)
    extra = np.concatenate([rng.permutation(known), rng.permutation(outside)]).astype(np.int64)
    unseen = extra[~np.isin(extra, sets["members"])]
    try:
        return calibration.draw_pool(test, extra, unseen, train_size, population,
                                     "audit.references")
    except calibration.CalibrationError as err:
        raise AuditError(f"{err} (audit.references.train_size: {train_size}; null means as many "
                         f"as the members)") from err


def verdict(results: dict[str, dict], descriptions: dict[str, str], *, fpr: float,
            known: dict[str, int], model_label: str) -> str:
    """One paragraph, in plain words: how much better than chance an attacker with the stated
    knowledge does at ``fpr``. ``results``: attack -> metrics of the attack-test set
    (deepleak/metrics.py evaluate); ``known``: the members and non-members the attacker knew."""
    key = metrics.tpr_key(fpr)
    best = strongest(results, fpr)
    m = results[best]
    n_m, n_n = m["n_members"], m["n_nonmembers"]
    lines = [f"An attacker who knows {known['members']:,} of the members of {model_label} and "
             f"{known['nonmembers']:,} records it was not trained on (the paper's supervised "
             f"threat model) was tested on {n_m:,} other members and {n_n:,} other non-members."]
    tpr = m.get(key)
    if tpr is None:
        lines.append(
            f"The test set has {n_n:,} non-members, too few to measure the attack at "
            f"{_rate(fpr)} false positives (that needs at least {metrics.min_nonmembers(fpr):,}; "
            f"raise audit.test.nonmembers or give more non-members), so this verdict rests on the "
            f"AUC alone: the strongest attack, {descriptions[best].lower()}, ranks a random member "
            f"above a random non-member {m['auc']:.1%} of the time (chance: 50 %).")
        return " ".join(lines)
    lo, hi = (m.get(f"{key}_ci") or [math.nan, math.nan])
    ratio = tpr / fpr
    if not (lo > fpr):
        judgement = ("That is not clearly better than chance: within the uncertainty, the attacker "
                     "does no better than guessing")
    elif ratio < 2:
        judgement = f"That is {ratio:.1f} times chance, a small but measurable leak"
    elif ratio < 10:
        judgement = f"That is {ratio:.1f} times chance: the model leaks membership"
    else:
        judgement = (f"That is {ratio:.0f} times chance: the model leaks membership strongly, and "
                     f"the records it exposes can be named with few false alarms")
    ci = "" if math.isnan(lo) else f" ({m.get('confidence', 0.95):.0%} CI {_pct(lo)} to {_pct(hi)})"
    lines.append(
        f"Allowed to wrongly accuse {_rate(fpr)} of the non-members, the strongest attack, "
        f"{descriptions[best].lower()}, picks out {_pct(tpr)} of the members{ci}, where a "
        f"random guess picks out {_rate(fpr)}. {judgement}. Its AUC is {m['auc']:.3f} (chance: "
        f"0.5). It is the best of {len(results)} attacks on these test records, so this figure "
        f"leans optimistic; the table lists every attack.")
    if "loss" in results and results["loss"].get(key) is not None and best != "loss":
        lines.append(f"The simplest attack, a threshold on the model's loss, picks out "
                     f"{_pct(results['loss'][key])} at the same false-positive rate.")
    if "black_box" in results and best not in ("black_box", "loss") and \
            results["black_box"].get(key) is not None:
        lines.append(f"Reading only the model's outputs (black-box), an attacker picks out "
                     f"{_pct(results['black_box'][key])}; the white-box attacks read the layers' "
                     f"outputs and gradients, which a user of a published model has.")
    return " ".join(lines)


def lira_verdict(results: dict[str, dict], descriptions: dict[str, str], *, fpr: float,
                 references: dict, paper_best: str | None, skipped: str | None) -> str:
    """The paragraph on LiRA beside the verdict: what the reference models were, what LiRA online
    and offline found at ``fpr`` (with CIs), beside the strongest of the paper's attacks
    (``paper_best``); or, with ``skipped``, why LiRA was not run. ``references``: models,
    train_size, pool, train_function, mean_out_accuracy."""
    if skipped:
        return f"LiRA with reference models (Carlini et al. 2022) was not run: {skipped}."
    key = metrics.tpr_key(fpr)

    def numbers(name):
        m = results[name]
        if m.get(key) is None:
            return f"AUC {m['auc']:.3f} (too few test non-members for a TPR at {_rate(fpr)} FPR)"
        lo, hi = m.get(f"{key}_ci") or [math.nan, math.nan]
        ci = "" if math.isnan(lo) else f" (CI {_pct(lo)} to {_pct(hi)})"
        return f"TPR {_pct(m[key])}{ci}, AUC {m['auc']:.3f}"

    r = references
    text = [f"Calibrated attacks (not in the paper): {r['models']} reference models, each a fresh "
            f"copy of the model trained by your {r['train_function']}() on {r['train_size']:,} "
            f"records, half of a pool of {r['pool']:,} that holds the test records (each test "
            f"record IN for half of the models; their mean accuracy on records they did not train "
            f"on {_pct(r['mean_out_accuracy'])}), calibrate the test per record.",
            f"At {_rate(fpr)} false positives, {descriptions['lira_online']}: "
            f"{numbers('lira_online')}; {descriptions['lira_offline']}: "
            f"{numbers('lira_offline')}."]
    if paper_best is not None:
        text.append(f"The strongest of the paper's attacks above, "
                    f"{descriptions[paper_best].lower()}: {numbers(paper_best)}.")
    return " ".join(text)


def layer_rows(results: dict[str, dict], layers: list[str], modules: list[str], norms: dict,
               fpr: float) -> list[dict]:
    """The per-layer leakage table: for each chosen layer (the last first), the attack on its
    output and on its gradient (AUC, TPR at ``fpr``), and its mean gradient norm of members and
    non-members (the paper's Figs 2-4 signal). ``norms``: layer -> (member mean, non-member
    mean)."""
    key = metrics.tpr_key(fpr)
    rows = []
    n = len(layers)
    for k in range(1, n + 1):
        out = results["black_box" if k == 1 else f"outputs_{k}"]
        grad = results[f"gradients_{k}"]
        m_norm, n_norm = norms[layers[n - k]]
        rows.append({"layer": modules[n - k], "position": _from_end(k),
                     "output_auc": out["auc"], "output_auc_ci": out.get("auc_ci"),
                     "output_tpr": out.get(key), "gradient_auc": grad["auc"],
                     "gradient_auc_ci": grad.get("auc_ci"), "gradient_tpr": grad.get(key),
                     "member_grad_norm": m_norm, "nonmember_grad_norm": n_norm})
    return rows
