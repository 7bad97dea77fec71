"""Training the target and shadow models (§III-B, §III-C) and evaluating them.

Purchase100 / Texas100 models are trained with Adam, lr 1e-3, cross-entropy, as in the paper. The
paper keeps "the epoch with the best test accuracy": that selects on the very records the
attack later calls non-members, so DeepLeak keeps the last epoch instead.
"""
from __future__ import annotations

import logging
import math
import os

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from deepleak import gradients, models, optim
from deepleak.checkpoint import resume
from deepleak.progress import Progress

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda is set in the config but no CUDA device is visible; "
                           "set device: auto or cpu.")
    return torch.device(device)


# cuBLAS gives the same result twice only with a fixed workspace (CUDA >= 10.2; ":16:8" is the
# other valid value, slower, kept when a user sets it). cuBLAS reads the variable when it creates
# its handle, at the first matrix product on the GPU: set before any CUDA work, it takes effect.
CUBLAS_WORKSPACE_CONFIG = ":4096:8"


def make_deterministic() -> None:
    """Deterministic algorithms wherever torch has them; every rule script runs this first
    (scripts/_common.py setup), so every job trains and scores alike on every run.

    On the CPU one torch build is deterministic already; on CUDA this picks cuDNN's deterministic
    convolutions (and no benchmark autotuning, which may pick another algorithm per run) and
    torch's deterministic index and cuBLAS kernels. An op with no deterministic CUDA kernel warns,
    naming itself, instead of stopping the run (``warn_only``): setup sends the warning to the
    job's log. README ("Determinism") says which results that leaves exact where."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE_CONFIG)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True


def flush_denormals() -> bool:
    """Flush subnormal floats (below 1.2e-38 in float32) to zero on the CPU; every rule script runs
    this first (scripts/_common.py setup). Returns whether the CPU supports it.

    The attack models (§III-E: weights N(0, 0.01^2), inputs scaled by their width) make them: the
    backward pass multiplies many small factors, and Adam's first moment of a weight whose
    gradient is zero decays by 0.9 a step into the subnormal range (a target model's training
    step is as fast either way). x86 computes on subnormals many times slower than on normal floats:
    whole fits of the default profile's attack models take 1.17-1.22x as long with them
    (benchmarks/attack_step.py), and a whole `make` spent 13-17 % fewer job-seconds in its attack
    jobs flushed. Flushed, those numbers become 0: Adam's step of such a weight is
    m / (sqrt(v) + 1e-8) either way. Every table of that `make` was byte-identical; a few attack
    scores below 1e-307 became 0 (deepleak/attack.py predict)."""
    return torch.set_flush_denormal(True)


def seed_everything(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def make_optimizer(net, train: dict, *, torch_optim: bool = False):
    """The optimizer a ``train`` section names (adam or sgd), for every model DeepLeak trains.

    Adam makes the update of torch's ``fused`` kernel: one pass over each parameter tensor instead
    of a Python loop of five element-wise ops per tensor (torch's CPU default). Its arithmetic is
    Adam's, rounded in another order, so weights agree with the loop's to float precision
    (tests/test_training.py) but not bit for bit. It halves a training step of the Texas100 model,
    whose 6.3 M-weight first layer makes the update dearer than the forward and backward passes
    (benchmarks/optimizer_step.py). SGD makes the multi-tensor ``foreach`` update, bit-identical
    to the loop. Both are deepleak/optim.py's, which make torch.optim's updates bit for bit without
    importing torch's compiler; ``torch_optim=True`` returns torch.optim's own (for Opacus, which
    wraps one).
    """
    name = train.get("optimizer", "adam")
    weight_decay = train.get("weight_decay", 0.0)
    if name == "adam":
        if torch_optim:
            return torch.optim.Adam(net.parameters(), lr=train["lr"], weight_decay=weight_decay,
                                    fused=True)
        return optim.Adam(net.parameters(), lr=train["lr"], weight_decay=weight_decay)
    if name == "sgd":
        momentum = train.get("momentum", 0.0)
        if torch_optim:
            return torch.optim.SGD(net.parameters(), lr=train["lr"], momentum=momentum,
                                   weight_decay=weight_decay, foreach=True)
        return optim.SGD(net.parameters(), lr=train["lr"], momentum=momentum,
                         weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; use adam or sgd")


@torch.no_grad()
def evaluate(net, X: torch.Tensor, y: torch.Tensor, batch_size: int = 2048) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``net`` on (X, y), in eval mode."""
    was_training = net.training
    net.eval()
    loss, correct = 0.0, 0
    for start in range(0, len(X), batch_size):
        logits = net(X[start: start + batch_size])
        yb = y[start: start + batch_size]
        loss += F.cross_entropy(logits, yb, reduction="sum").item()
        correct += (logits.argmax(1) == yb).sum().item()
    net.train(was_training)
    return loss / len(X), correct / len(X)


def last_layer_grad_norm(net, X: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Per-record ||dL/dW_last||, the last-layer gradient norm of Figures 3, 4 and 7."""
    last = models.layer_module(net, net.layer_names[-1])
    f = gradients.linear_factors(net, X, y, [last])
    return gradients.linear_grad_norm(f["h_in"][last], f["delta"][last])


def train_epoch(net, opt, X, y, batch_size: int, generator: torch.Generator, augment=None) -> float:
    """One pass of minibatch SGD/Adam over (X, y) in a seeded order; returns the mean loss.

    ``augment(x_batch, generator)`` (image models: bearpaw's random crop and flip) transforms each
    training batch; it is never applied when evaluating or computing attack features (as in the
    authors' code).
    """
    net.train()
    order = torch.randperm(len(X), generator=generator).to(X.device)
    total = 0.0
    for start in range(0, len(X), batch_size):
        idx = order[start: start + batch_size]
        opt.zero_grad(set_to_none=True)
        xb = X[idx] if augment is None else augment(X[idx], generator)
        loss = F.cross_entropy(net(xb), y[idx])
        if not math.isfinite(loss.item()):
            raise TrainingDiverged(
                f"the training loss became {loss.item()} (batch starting at {start}); lower the "
                f"learning rate in the config's train section.")
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
    return total / len(X)


def augmentation(name: str):
    """The training-time augmentation a config names: ``none``, or ``crop_flip`` (bearpaw's
    RandomCrop(32, padding=4) + RandomHorizontalFlip)."""
    if name in (None, "none"):
        return None
    if name == "crop_flip":
        from deepleak import cnn

        return cnn.random_crop_flip
    raise ValueError(f"train.augment is {name!r}; choose none or crop_flip")


def fit(net, X_train, y_train, X_test, y_test, *, train: dict, seed: int, device: str = "cpu",
        track_members=None, track_nonmembers=None, track_every: int = 1, history: bool = True,
        evaluate_every: int = 1, checkpoint=None):
    """Train ``net`` and return it with a per-epoch history.

    The history has train/test loss and accuracy and, when ``track_*`` are given, the mean
    last-layer gradient norm of those members and non-members (the curves of Figure 3).
    ``history=False`` skips the per-epoch evaluation (a reference model needs none; ``X_test`` may
    be None) and returns an empty history: the training itself, and so the model, are the same.
    ``evaluate_every``: the train and test loss and accuracy are computed on every
    ``evaluate_every``-th epoch and the last (blank in between; each evaluation of an FC model
    costs about a quarter of an epoch); the tracked gradient norms every ``track_every``-th. The
    log shows every epoch's mean minibatch loss either way.

    ``checkpoint`` (deepleak/checkpoint.py): the model, optimizer, history and batch-order and
    global random states are saved after every epoch; a checkpoint left by a killed run is
    resumed, and the model and history end as an uninterrupted run's, byte for byte.
    """
    dev = resolve_device(device)
    generator = seed_everything(seed)
    net.to(dev)
    as_t = lambda a, dt: torch.as_tensor(np.asarray(a), dtype=dt, device=dev)  # noqa: E731
    Xtr, ytr = as_t(X_train, torch.float32), as_t(y_train, torch.long)
    if history:
        Xte, yte = as_t(X_test, torch.float32), as_t(y_test, torch.long)
    tracked = None
    if track_members is not None:
        tracked = [(as_t(X, torch.float32), as_t(y, torch.long))
                   for X, y in (track_members, track_nonmembers)]
    opt = make_optimizer(net, train)
    # bearpaw's recipes: lr x lr_gamma at each epoch in lr_milestones; crop + flip.
    milestones = train.get("lr_milestones") or []
    augment = augmentation(train.get("augment", "none"))
    rows, first = [], 0
    saved = resume(checkpoint, [generator], what="epoch", total=train["epochs"], model=net,
                   optimizer=opt)
    if saved is not None:
        rows, first = saved["history"], saved["epoch"] + 1
    progress = Progress(log, "epoch", train["epochs"], resumed=max(first - 1, 0))
    for epoch in range(first, train["epochs"] + 1):
        batch_loss = {}
        if epoch > 0:
            batch_loss["batch_loss"] = train_epoch(net, opt, Xtr, ytr, train["batch_size"],
                                                   generator, augment)
            opt.lr = optim.milestone_lr(opt.lr, epoch, milestones, train.get("lr_gamma", 0.1))
        if history:
            last = epoch == train["epochs"]
            row = {"epoch": epoch}
            if epoch % evaluate_every == 0 or last:
                row["train_loss"], row["train_acc"] = evaluate(net, Xtr, ytr)
                row["test_loss"], row["test_acc"] = evaluate(net, Xte, yte)
            if tracked is not None and (epoch % track_every == 0 or last):
                row["member_grad_norm"] = float(last_layer_grad_norm(net, *tracked[0]).mean())
                row["nonmember_grad_norm"] = float(last_layer_grad_norm(net, *tracked[1]).mean())
            rows.append(row)
            progress(epoch, **batch_loss, **{k: v for k, v in row.items() if k != "epoch"})
        if checkpoint is not None and epoch > 0:
            checkpoint.save({"epoch": epoch, "model": net.state_dict(),
                             "optimizer": opt.state_dict(), "history": rows}, [generator])
    net.eval()
    return net.cpu(), pd.DataFrame(rows)


def evaluate_pretrained(net, X_train, y_train, X_test, y_test, *, device: str = "cpu",
                        track_members=None, track_nonmembers=None):
    """The history of a model trained elsewhere (a bearpaw checkpoint, §III-C): the row ``fit``
    writes before its first epoch (train/test loss and accuracy, tracked gradient norms); no
    training."""
    no_training = {"optimizer": "sgd", "lr": 1.0, "batch_size": 1, "epochs": 0}
    return fit(net, X_train, y_train, X_test, y_test, train=no_training, seed=0, device=device,
               track_members=track_members, track_nonmembers=track_nonmembers)
