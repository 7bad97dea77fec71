"""The paper's white-box inference model (§III, Table XIV, Fig. 1) and its supervised training.

Components, one per attack feature, each ending in a small FC stack:

- output component: the output of one layer h_i(x) (the logits for the last layer), FC 128 -> 64;
- label component: the one-hot label, FC 128 -> 64;
- loss component: the per-example loss, FC 128 -> 64;
- gradient component: dL/dW of one linear layer seen as an n_in x n_out image, convolved with K
  kernels of size 1 x n_out (one output per input unit and kernel), then FC 128 -> 64. On the
  factored gradient delta (x) h_in (deepleak/gradients.py) the convolution is
  ``h_in (x) (K delta) + b``, computed without ever building the n_in x n_out matrix
  (``gradients.gradient_component_conv``). A conv
  layer's gradient (which the paper leaves open: Table XIV covers FC layers) is read as the feature
  file stores it: per-output-channel norms and bias gradients through FC layers, or the whole kernel
  gradient as an n_in x n_out matrix with the same 1 x n_out kernels (config
  ``standalone.conv_gradient``).

The components' outputs are concatenated and fed to the encoder, FC 256 -> 128 -> 64 -> 1, whose
output is the attack score (a sigmoid of it in supervised mode: Pr[member], trained with MSE,
Eq. 3).

Several observations of one record (federated rounds, the model before and after fine-tuning) share
one model: with ``observations: shared`` (Fig. 1, §II-B, as the authors' federated code does it)
every component runs on each of the T snapshots and the T outputs are concatenated before the
encoder.

Widths, kernel count, dropout and the N(0, 0.01^2) initialisation are config values
(``attack_model``); the paper's are the defaults of ``config/paper.yaml``.
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from deepleak import features as feature_lib
from deepleak import gradients, metrics, training
from deepleak.checkpoint import resume
from deepleak.progress import Progress
from deepleak.variants import AttackFeatures

log = logging.getLogger(__name__)


def fc_stack(widths: list[int], dropout: float, final_activation: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if final_activation or i < len(widths) - 2:
            layers += [nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


class GradientComponent(nn.Module):
    """Gradient CNN of one linear layer (Table XIV): K kernels of size 1 x n_out, then FC."""

    def __init__(self, n_in: int, n_out: int, kernels: int, widths: list[int], dropout: float,
                 name: str = ""):
        super().__init__()
        self.input_keys = (f"h_in/{name}", f"delta/{name}")
        self.kernels = nn.Parameter(torch.empty(kernels, n_out))
        self.bias = nn.Parameter(torch.zeros(kernels))
        self.dropout = nn.Dropout(dropout)
        self.fc = fc_stack([n_in * kernels, *widths], dropout)

    def forward(self, h_in: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        conv = gradients.gradient_component_conv(h_in, delta, self.kernels, self.bias)
        return self.fc(self.dropout(torch.relu(conv)).flatten(1))


class KernelGradientComponent(GradientComponent):
    """Gradient CNN of one conv layer read whole (``conv_gradient: kernel``): its weight gradient as
    the n_in x n_out matrix (n_in = C_in x kh x kw, n_out = C_out), convolved with the paper's
    1 x n_out kernels as for a linear layer, then FC. The matrix is a sum of outer products over
    positions, so it is stored materialised (small layers only, deepleak/gradients.py)."""

    def __init__(self, n_in, n_out, kernels, widths, dropout, name: str = ""):
        super().__init__(n_in, n_out, kernels, widths, dropout, name)
        self.input_keys = (f"conv_grad_kernel/{name}",)

    def forward(self, grad: torch.Tensor) -> torch.Tensor:
        conv = grad @ self.kernels.T + self.bias
        return self.fc(self.dropout(torch.relu(conv)).flatten(1))


class ChannelGradientComponent(nn.Module):
    """Gradient component of one conv layer read as per-output-channel norms and bias gradients
    (``conv_gradient: channel_norms``, the default; the paper leaves conv layers open): FC layers
    of the gradient component's widths, as the paper's components after their convolution."""

    def __init__(self, n_in: int, widths: list[int], dropout: float, name: str = ""):
        super().__init__()
        self.input_keys = (f"conv_grad_channel_norms/{name}",)
        self.fc = fc_stack([n_in, *widths], dropout)

    def forward(self, summary: torch.Tensor) -> torch.Tensor:
        return self.fc(summary)


def gradient_component(name: str, dims: dict[str, int], hp: dict, dropout: float) -> nn.Module:
    """The gradient component of one layer, chosen by the features the file holds for it."""
    widths, kernels = list(hp["gradient_widths"]), hp["kernels"]
    channels, kernel = f"conv_grad_channel_norms/{name}", f"conv_grad_kernel/{name}"
    if channels in dims:
        return ChannelGradientComponent(dims[channels], widths, dropout, name)
    if kernel in dims:
        return KernelGradientComponent(dims[f"{kernel}#rows"], dims[kernel], kernels, widths,
                                       dropout, name)
    return GradientComponent(dims[f"h_in/{name}"], dims[f"delta/{name}"], kernels, widths, dropout,
                             name)


class AttackModel(nn.Module):
    """Components -> concatenation -> encoder -> one score per record (per set of T snapshots)."""

    def __init__(self, features: AttackFeatures, dims: dict[str, int], n_classes: int, hp: dict,
                 n_observations: int = 1):
        super().__init__()
        self.features = features
        self.n_observations = n_observations
        widths, dropout = list(hp["component_widths"]), hp["dropout"]
        self.fc_components = nn.ModuleDict()
        for key in [f"out/{n}" for n in features.outputs] + (["loss"] if features.loss else []):
            self.fc_components[key.replace("/", ":")] = fc_stack([dims[key], *widths], dropout)
        self.label_component = fc_stack([n_classes, *widths], dropout) if features.label else None
        self.n_classes = n_classes
        self.gradient_components = nn.ModuleDict({
            name: gradient_component(name, dims, hp, dropout) for name in features.gradients})
        per_obs = widths[-1] * len(self.fc_components) + hp["gradient_widths"][-1] * len(
            self.gradient_components)
        label_width = widths[-1] if features.label else 0
        self.encoder = fc_stack([per_obs * n_observations + label_width,
                                 *hp["encoder_widths"], 1], dropout, final_activation=False)
        self.reset_parameters(hp["init_std"])

    def reset_parameters(self, std: float) -> None:
        # Paper §III-E: weights N(0, 0.01^2), biases 0.
        for p_name, p in self.named_parameters():
            if p_name.endswith("bias"):
                nn.init.zeros_(p)
            else:
                nn.init.normal_(p, 0.0, std)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Raw encoder output; inputs have shape [B, T, ...] per key (T observations), label [B]."""
        T = self.n_observations
        parts = []
        for key, comp in self.fc_components.items():
            x = inputs[key.replace(":", "/")]
            parts.append(comp(x.flatten(0, 1)).unflatten(0, (-1, T)))
        for comp in self.gradient_components.values():
            args = (inputs[k].flatten(0, 1) for k in comp.input_keys)
            parts.append(comp(*args).unflatten(0, (-1, T)))
        # Shared components over the T snapshots, outputs concatenated (Fig. 1, as the authors'
        # code does).
        z = torch.cat(parts, dim=2).flatten(1) if parts else None
        if self.label_component is not None:
            onehot = nn.functional.one_hot(inputs["label"], self.n_classes).float()
            lab = self.label_component(onehot)
            z = lab if z is None else torch.cat([z, lab], dim=1)
        return self.encoder(z).squeeze(1)


# How the inputs an FC component reads are scaled after standardisation (config
# ``attack_model.input_scaling``, whose schema default is the first; see :class:`Standardiser`).
INPUT_SCALINGS = ("fan_in", "unit")


@dataclass
class Standardiser:
    """Per-feature affine scaling fitted on the attack's training records only.

    Activations, logits, losses and conv-gradient channel summaries, which FC components read, are
    standardised per coordinate. The gradient factors are divided by one global scale each so that
    the structure across units is kept.

    With ``scaling="fan_in"`` (the default) a standardised vector of width d is also divided by
    d. Adam moves every weight by about lr per step whatever its gradient's size, so the first
    layer of a component reading d standardised numbers (each about 1 in size) moves its output by
    about lr x d per step: the 1,024-wide hidden-layer outputs of the FC models are fitted a
    thousand times faster than the one-number loss. The attack model then separates its few hundred
    training records by their idiosyncratic activation patterns (training AUC near 1) before it
    has learned the loss and the logits, and feeding it every layer's output scores well below
    feeding it the last layer alone (white-box against black-box outputs, Table VIII). Divided by
    d, every component's output moves at one speed, about lr x E|x| as one standardised number's
    (the per-layer learning rate 1 / fan-in that muP gives Adam, Yang et al. 2021, "Tensor
    Programs V"), so a wide feature is used where it carries membership signal and does not drown
    the narrow ones where it does not. The label (one-hot: one non-zero number) is read as is.
    ``"unit"`` keeps unit variance per coordinate. The paper (§III-E) does not say how the attack's
    inputs are scaled.
    """

    stats: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def fit(cls, inputs: dict[str, np.ndarray], scaling: str = INPUT_SCALINGS[0]
            ) -> "Standardiser":
        if scaling not in INPUT_SCALINGS:
            raise ValueError(f"attack_model.input_scaling is {scaling!r}; use one of "
                             f"{list(INPUT_SCALINGS)}")
        stats = {}
        for key, x in inputs.items():
            if key == "label":
                continue
            if key.startswith(("delta/", "h_in/", "conv_grad_kernel/")):
                # Read by the gradient component's 1 x n_out convolution, not by an FC layer: one
                # global scale keeps the gradient's structure, and its width is not rescaled.
                scale = np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12
                stats[key] = (np.zeros(1, np.float32), np.full(1, scale, np.float32))
            else:
                flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
                width = flat.shape[1] if scaling == "fan_in" else 1
                stats[key] = (flat.mean(0).astype(np.float32),
                              ((flat.std(0) + 1e-6) * width).astype(np.float32))
        return cls(stats)

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        out = {}
        for key, x in inputs.items():
            if key == "label":
                out[key] = torch.as_tensor(x, dtype=torch.long)
            else:
                mean, std = self.stats[key]
                out[key] = torch.as_tensor((x - mean) / std, dtype=torch.float32)
        return out


def gather_inputs(feats: dict[str, np.ndarray], features: AttackFeatures) -> dict[str, np.ndarray]:
    """The arrays an attack model reads, each shaped [n, T, ...] (T = 1 for one snapshot)."""
    out = {}
    for key in features.keys(feats):
        if key not in feats:
            raise KeyError(f"the feature file has no {key!r}; it has {sorted(feats)}. Extract "
                           f"gradients for more layers (standalone.gradient_layers or "
                           f"finetune.gradient_layers in the config).")
        x = feats[key]
        if key == "label":
            out[key] = x if x.ndim == 1 else x[:, 0]
            continue
        if key == "loss" and x.ndim == 1:
            x = x[:, None, None]
        elif key == "loss":
            x = x[:, :, None]
        elif key.startswith("conv_grad_kernel/") and x.ndim == 3:  # [n, n_in, n_out], one snapshot
            x = x[:, None]
        elif x.ndim == 2:
            x = x[:, None, :]
        out[key] = x
    return out


def input_dims(inputs: dict[str, np.ndarray]) -> dict[str, int]:
    dims = {k: int(v.shape[-1]) for k, v in inputs.items() if k != "label"}
    # A materialised conv gradient matrix [n, T, n_in, n_out] also needs its row count.
    dims.update({f"{k}#rows": int(v.shape[-2]) for k, v in inputs.items()
                 if k.startswith("conv_grad_kernel/")})
    return dims


def _accuracy(scores: np.ndarray, member: np.ndarray) -> float:
    return float(((scores >= 0.5) == member.astype(bool)).mean())


def balanced_accuracy(scores: np.ndarray, member: np.ndarray, threshold: float = 0.5) -> float:
    """Mean of the TPR and the TNR at ``threshold``: the accuracy the decisions would have on a
    balanced set, whatever the members : non-members ratio of the records scored. An attack that
    calls every record a member scores 0.5 here, however many members there are."""
    member = np.asarray(member).astype(bool)
    said = np.asarray(scores) >= threshold
    return float((said[member].mean() + (~said[~member]).mean()) / 2)


def balanced_mse(scores: np.ndarray, member: np.ndarray) -> float:
    """Mean over the two classes of the squared error between the score and the membership bit:
    Eq. (3)'s loss on a balanced set, whatever the members : non-members ratio of the records
    scored. An attack that calls every record a member with certainty scores 0.5 here."""
    member = np.asarray(member).astype(bool)
    err = (np.asarray(scores, dtype=np.float64) - member) ** 2
    return float((err[member].mean() + err[~member].mean()) / 2)


# Validation metrics an attack model's epoch can be selected by (config
# ``attack_model.selection``; the schema's default is the first), each as "higher is better".
SELECTIONS = {
    "balanced_mse": lambda scores, member: -balanced_mse(scores, member),
    "balanced_accuracy": balanced_accuracy,
    "auc": lambda scores, member: metrics.evaluate(scores, member, n_bootstrap=0)["auc"],
}


@torch.no_grad()
def predict(model: AttackModel, inputs: dict[str, torch.Tensor], batch_size: int = 1024):
    """Sigmoid scores Pr[member] for every record."""
    model.eval()
    n = len(inputs["label"]) if "label" in inputs else len(next(iter(inputs.values())))
    # The sigmoid in float64: in float32 confident scores round to exactly 1.0, and the ties ruin
    # the TPR at low FPR. (At the other end, scores below 2.2e-308 are subnormal and every job
    # flushes them to 0, training.flush_denormals: ties among the least member-like records,
    # which no low-FPR threshold reaches.)
    out = [torch.sigmoid(model({k: v[s: s + batch_size] for k, v in inputs.items()}).double())
           for s in range(0, n, batch_size)]
    return torch.cat(out).numpy().astype(np.float64)


def train_epoch(model: AttackModel, opt, inputs: dict[str, torch.Tensor],
                member_idx: torch.Tensor, nonmember_idx: torch.Tensor, batch_size: int,
                gen: torch.Generator) -> float:
    """One epoch of balanced batches (half members, half non-members, paper §III-E) with the MSE
    of Eq. (3) between the sigmoid score and the membership bit; returns the mean batch loss."""
    model.train()
    half = batch_size // 2
    target = torch.cat([torch.ones(half), torch.zeros(half)])
    pm = member_idx[torch.randperm(len(member_idx), generator=gen)]
    pn = nonmember_idx[torch.randperm(len(nonmember_idx), generator=gen)]
    n_steps = min(len(pm), len(pn)) // half
    total = 0.0
    for step in range(n_steps):
        idx = torch.cat([pm[step * half:(step + 1) * half], pn[step * half:(step + 1) * half]])
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(torch.sigmoid(model({k: v[idx] for k, v in inputs.items()})),
                                      target)
        loss.backward()
        opt.step()
        total += loss.item()
    return total / max(n_steps, 1)


def fit_supervised(train_inputs: dict[str, np.ndarray], train_member: np.ndarray,
                   val_inputs: dict[str, np.ndarray], val_member: np.ndarray,
                   features: AttackFeatures, n_classes: int, hp: dict, seed: int,
                   n_observations: int = 1, checkpoint=None):
    """Train the attack model as the paper does, selecting the epoch on the validation split.

    Batches are half members, half non-members (paper §III-E); the loss is the MSE of Eq. (3)
    between the sigmoid score and the membership bit. The paper keeps the epoch with the best
    *test* accuracy (§III-E); here the epoch with the best validation value of
    ``hp["selection"]`` (:data:`SELECTIONS`; default: the lowest balanced MSE, :func:`balanced_mse`)
    is kept (ties: the earlier one). Validation sets are unbalanced (Table II at the paper's sizes:
    CIFAR-100 5,000 : 1,000, Texas100 1,000 : 2,000), and plain accuracy there rewards an epoch
    that calls every record the majority class, so every metric weighs the two classes equally.
    Balanced MSE, the training loss on a balanced set, changes smoothly with every score; a
    balanced accuracy at 0.5 on a few hundred validation records jumps with the few records near
    the threshold and often kept an under-trained early epoch.
    ``checkpoint`` (deepleak/checkpoint.py; saved when :meth:`~Checkpoint.due`): the model, the
    optimizer, the best epoch's weights, the history and the random states; a rerun after a kill
    resumes and ends as an uninterrupted run, byte for byte.
    Returns (model, standardiser, history rows).
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    std = Standardiser.fit(train_inputs, hp["input_scaling"])
    tr, va = std(train_inputs), std(val_inputs)
    model = AttackModel(features, input_dims(train_inputs), n_classes, hp, n_observations)
    opt = training.make_optimizer(model, {"optimizer": "adam", "lr": hp["lr"]})
    member_idx = torch.as_tensor(np.flatnonzero(train_member == 1))
    nonmember_idx = torch.as_tensor(np.flatnonzero(train_member == 0))
    select = SELECTIONS[hp["selection"]]
    best = (-np.inf, None, -1)
    history, first = [], 1
    saved = resume(checkpoint, [gen], what="epoch", total=hp["epochs"], model=model,
                   optimizer=opt)
    if saved is not None:
        history, first = saved["history"], saved["epoch"] + 1
        best = (saved["best_value"], saved["best_model"], saved["best_epoch"])
    progress = Progress(log, "attack epoch", hp["epochs"], resumed=first - 1)
    for epoch in range(first, hp["epochs"] + 1):
        train_mse = train_epoch(model, opt, tr, member_idx, nonmember_idx, hp["batch_size"], gen)
        val_scores = predict(model, va)
        history.append({"epoch": epoch, "train_mse": train_mse,
                        "val_acc": _accuracy(val_scores, val_member),
                        "val_balanced_acc": balanced_accuracy(val_scores, val_member),
                        "val_balanced_mse": balanced_mse(val_scores, val_member)})
        value = select(val_scores, val_member)
        if value > best[0]:
            best = (value, copy.deepcopy(model.state_dict()), epoch)
        progress(epoch, **{k: v for k, v in history[-1].items() if k != "epoch"})
        if checkpoint is not None and epoch < hp["epochs"] and checkpoint.due():
            checkpoint.save({"epoch": epoch, "model": model.state_dict(),
                             "optimizer": opt.state_dict(), "history": history,
                             "best_value": float(best[0]), "best_model": best[1],
                             "best_epoch": best[2]}, [gen])
    model.load_state_dict(best[1])
    model.selected_epoch = best[2]
    return model, std, history


def run_supervised(train: tuple, val: tuple, tests: dict[str, tuple], *, spec: AttackFeatures,
                   n_classes: int, hp: dict, seed: int, evaluate: dict, description: str,
                   n_observations: int = 1, checkpoint=None,
                   **details) -> tuple[dict[str, dict], dict]:
    """The supervised attack, start to end: labelled sets -> attack inputs -> :func:`fit_supervised`
    (epoch selected on ``val``) -> scores and metrics on each test set -> one metrics record.

    ``train``, ``val`` and each entry of ``tests`` are (features, member ids, non-member ids): a
    feature file's arrays (``[n, T, ...]`` for T observations), and the records the attacker calls
    members and non-members. ``evaluate`` holds :func:`deepleak.metrics.evaluate`'s settings
    (n_bootstrap, confidence, seed); ``checkpoint`` makes the attack model's training resumable
    (:func:`fit_supervised`). Returns ({test: {"records", "member", "score"}}, the record
    (:func:`deepleak.metrics.record`, ``details`` added)).
    """
    (tr, tr_member, _), (va, va_member, _) = (feature_lib.labelled(*s) for s in (train, val))
    model, std, history = fit_supervised(gather_inputs(tr, spec), tr_member,
                                         gather_inputs(va, spec), va_member, spec, n_classes, hp,
                                         seed, n_observations=n_observations,
                                         checkpoint=checkpoint)
    scores, results = {}, {}
    for name, test in tests.items():
        te, te_member, te_ids = feature_lib.labelled(*test)
        s = predict(model, std(gather_inputs(te, spec)))
        scores[name] = {"records": te_ids, "member": te_member, "score": s}
        results[name] = metrics.evaluate(s, te_member, **evaluate)
        log.info("%s, %s: %s", description, name, results[name])
    count = lambda member: {"members": int(member.sum()),  # noqa: E731
                            "nonmembers": int((1 - member).sum())}
    training = {"n_observations": n_observations, "n_train": count(tr_member),
                "n_validation": count(va_member), "selected_epoch": model.selected_epoch,
                "hparams": hp, "history": history}
    return scores, metrics.record("supervised", description, results, features=spec.as_dict(),
                                  training=training, **details)
