"""DP-SGD targets (Abadi et al. 2016, "Deep Learning with Differential Privacy") trained with
Opacus, the defense the paper's attacks are measured against beyond the paper.

A DP target is the stand-alone target (same architecture, members, test records, seed) trained by
DP-SGD: each step samples a Poisson batch (every member independently with probability
q = batch_size / members), clips every per-example gradient to L2 norm ``max_grad_norm``, sums them,
adds Gaussian noise N(0, (noise_multiplier * max_grad_norm)^2) and divides by the expected batch
size; the optimizer (``training.make_optimizer``, the one factory) then takes its step on that
gradient. Opacus's ``make_private_with_epsilon`` picks the noise multiplier that spends exactly the
target epsilon at ``delta`` over the run's epochs under the named accountant (``rdp``: Mironov 2017,
Renyi DP of the sampled Gaussian mechanism; ``prv``: Gopi et al. 2021, privacy-loss random
variables); the epsilon recorded is the accountant's after the steps actually taken.

Two controls sit beside the epsilons: ``clip_only`` (per-example clipping, no noise: epsilon is
infinite) and the non-private target (the stand-alone target itself, trained by ``training.fit``).

Randomness: the Poisson sampler and the noise draw from two torch generators seeded from the
artifact's seed, so a rerun gives the same model. Opacus's ``secure_mode`` (a cryptographically
secure generator, as a deployed DP system needs) is off: seeded noise is what makes the
experiment reproducible, and it is what a measurement, not a deployment, wants.

This module imports torch and Opacus; the names of the privacy levels (:func:`levels`) are also
needed while the DAG is planned, so they live in deepleak/audit.py, which imports neither.
"""
from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pandas as pd
import torch

from deepleak import training
from deepleak.audit import level_epsilon
from deepleak.checkpoint import resume
from deepleak.progress import Progress

log = logging.getLogger(__name__)

# The key prefix Opacus's GradSampleModule puts before every parameter of the model it wraps.
WRAPPER_PREFIX = "_module."


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain model inside Opacus's wrapper (GradSampleModule keeps it as ``_module``): its
    ``state_dict`` has the ordinary keys (``fc1.weight``, not ``_module.fc1.weight``), so the saved
    ``model.pt`` loads with ``artifacts.load_state_dict`` into a model from
    ``models.build_model``."""
    while hasattr(model, "_module") and isinstance(model._module, torch.nn.Module):
        model = model._module
    return model


def plain_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of ``model`` without Opacus's wrapper prefix on any key."""
    return {(k[len(WRAPPER_PREFIX):] if k.startswith(WRAPPER_PREFIX) else k): v
            for k, v in model.state_dict().items()}


def _generators(seed: int, device: torch.device) -> tuple[torch.Generator, torch.Generator]:
    """(batch sampling, noise) generators, each seeded from the artifact's seed."""
    sampling, noise = np.random.SeedSequence(seed).generate_state(2)
    return (torch.Generator().manual_seed(int(sampling)),
            torch.Generator(device=device).manual_seed(int(noise)))


def train_epoch(model, optimizer, criterion, loader, epoch: int) -> int:
    """One epoch of DP-SGD over the Poisson-sampled batches; returns the steps taken."""
    model.train()
    steps = 0
    for xb, yb in loader:
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(xb), yb)
        if not math.isfinite(loss.item()) and len(xb):
            raise training.TrainingDiverged(
                f"the DP-SGD training loss became {loss.item()} (epoch {epoch}); lower "
                f"the learning rate in dp.train")
        with warnings.catch_warnings():
            # Ghost clipping's backward hooks fire on the first layer, whose input needs no
            # gradient: torch's warning says so, and it is expected.
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            loss.backward()
        optimizer.step()
        steps += 1
    return steps


def fit_private(net, X_train, y_train, X_test, y_test, *, train: dict, dp: dict, level: str,
                seed: int, device: str = "cpu", noise_multiplier: float | None = None,
                checkpoint=None):
    """Train ``net`` by DP-SGD at privacy ``level`` (``eps<e>`` or ``clip_only``) and return
    (the unwrapped model, its per-epoch history, the privacy record).

    ``noise_multiplier``: a given sigma instead of the one Opacus finds for the level's epsilon.
    A DP target's reference models (deepleak/references.py) take the target's own, so that their
    recipe is the target's to the noise, not a second search that could land elsewhere (the
    accountant still reports the epsilon they spent).

    ``train``: the optimizer, lr, batch_size (the expected Poisson batch) and epochs; ``dp``: delta,
    max_grad_norm, accountant, grad_sample_mode (the config's ``dp`` section). ``ghost`` (Li et al.
    2022's ghost clipping, as Opacus implements it) computes each example's gradient norm from the
    layer's input and output gradient, as deepleak/gradients.py factors them, and takes a second
    backward pass with the clipping factors, never materialising per-example gradients: on the
    Purchase100 FC net it costs about 3x a plain epoch, where ``hooks`` (per-example gradients
    stored) cost about 50x. The history has the train / test loss and
    accuracy of every epoch (and before the first), and the accountant's epsilon spent so far.

    ``checkpoint`` (deepleak/checkpoint.py): after every epoch, the model, the optimizer's moments,
    the accountant's history of steps (so the epsilon spent goes on from there), the history and
    the Poisson sampler's and the noise's generators; a rerun after a kill resumes and ends as an
    uninterrupted run, byte for byte.
    """
    from opacus import PrivacyEngine

    dev = training.resolve_device(device)
    training.seed_everything(seed)
    sampling, noise = _generators(seed, dev)
    net.to(dev)
    as_t = lambda a, dt: torch.as_tensor(np.asarray(a), dtype=dt, device=dev)  # noqa: E731
    Xtr, ytr = as_t(X_train, torch.float32), as_t(y_train, torch.long)
    Xte, yte = as_t(X_test, torch.float32), as_t(y_test, torch.long)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(Xtr, ytr),
                                         batch_size=train["batch_size"], generator=sampling)
    optimizer = training.make_optimizer(net, train, torch_optim=True)
    net.train()  # Opacus validates a model in training mode
    target_epsilon = level_epsilon(level)
    common = dict(module=net, optimizer=optimizer, data_loader=loader,
                  criterion=torch.nn.CrossEntropyLoss(), max_grad_norm=dp["max_grad_norm"],
                  poisson_sampling=True, noise_generator=noise,
                  grad_sample_mode=dp["grad_sample_mode"])
    with warnings.catch_warnings():
        # Opacus warns that secure_mode is off: the module docstring says why it is.
        warnings.filterwarnings("ignore", message=".*[Ss]ecure.*")
        # The noise search tries small noise multipliers whose best RDP order is the largest.
        warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
        engine = PrivacyEngine(accountant=dp["accountant"], secure_mode=False)
        if target_epsilon is None:  # clip_only: clipped per-example gradients, no noise
            made = engine.make_private(noise_multiplier=0.0, **common)
        elif noise_multiplier is not None:
            made = engine.make_private(noise_multiplier=float(noise_multiplier), **common)
        else:
            made = engine.make_private_with_epsilon(
                target_epsilon=target_epsilon, target_delta=dp["delta"], epochs=train["epochs"],
                **common)
    # Ghost clipping also returns the loss to call: it runs the second backward pass with the
    # per-example clipping factors.
    model, optimizer, criterion, loader = (made if len(made) == 4
                                           else (made[0], made[1], common["criterion"], made[2]))
    sigma = float(optimizer.noise_multiplier)
    spent = lambda: engine.get_epsilon(dp["delta"]) if sigma > 0 else math.inf  # noqa: E731
    plain = unwrap(model)
    rows, steps, first = [], 0, 0
    # After make_private: it draws nothing, and the generators it was given are the ones restored.
    saved = resume(checkpoint, [sampling, noise], what="epoch", total=train["epochs"], model=plain,
                   optimizer=optimizer, accountant=engine.accountant)
    if saved is not None:
        rows, steps, first = saved["history"], saved["steps"], saved["epoch"] + 1
    progress = Progress(log, "epoch", train["epochs"], resumed=max(first - 1, 0))
    for epoch in range(first, train["epochs"] + 1):
        if epoch > 0:
            steps += train_epoch(model, optimizer, criterion, loader, epoch)
        row = {"epoch": epoch}
        row["train_loss"], row["train_acc"] = training.evaluate(plain, Xtr, ytr)
        row["test_loss"], row["test_acc"] = training.evaluate(plain, Xte, yte)
        row["epsilon"] = spent() if epoch > 0 else 0.0
        rows.append(row)
        progress(epoch, **{k: v for k, v in row.items() if k != "epoch"})
        if checkpoint is not None and epoch > 0:
            checkpoint.save({"epoch": epoch, "model": plain.state_dict(),
                             "optimizer": optimizer.state_dict(),
                             "accountant": dict(engine.accountant.state_dict()),
                             "history": rows, "steps": steps}, [sampling, noise])
    if hasattr(model, "remove_hooks"):
        model.remove_hooks()
    plain.eval()
    privacy = {
        "level": level, "target_epsilon": target_epsilon, "epsilon": spent(),
        "delta": dp["delta"], "accountant": dp["accountant"], "noise_multiplier": sigma,
        "max_grad_norm": dp["max_grad_norm"], "sample_rate": 1 / len(loader), "steps": steps,
        "poisson_sampling": True, "secure_mode": False,
    }
    log.info("DP-SGD %s: %s", level, privacy)
    return plain.cpu(), pd.DataFrame(rows), privacy


def accountant_epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float,
                       accountant: str = "rdp") -> float:
    """Epsilon at ``delta`` of ``steps`` sampled-Gaussian steps, from Opacus's accountant."""
    from opacus.accountants import create_accountant

    acc = create_accountant(accountant)
    acc.history = [(noise_multiplier, sample_rate, steps)]
    return float(acc.get_epsilon(delta))
