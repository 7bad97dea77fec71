"""K models of one architecture trained as one batched model: the federated parties of a round
(§II-B), and any set of same-shaped models that train side by side (target and shadow models,
§III-B; reference models).

Why: one local epoch of one small model is a loop of small minibatch steps (Purchase100: 32 records
x 600 features), and a step costs a Python loop, dozens of small kernel launches and an optimizer
pass over every parameter tensor. Stacking the K models' parameters along a new leading axis and
running their forward pass under ``torch.vmap`` (``torch.func.functional_call`` on the stacked
state) does each layer of the K models in one batched kernel, each optimizer update of the K models
in one pass, and walks the K epochs in one Python loop. That removes the per-step fixed costs, not
the arithmetic: on one CPU thread at the default profile's sizes, where the matrix products and
Adam's passes over the weights dominate a step, K batched parties cost about what K sequential ones
do (benchmarks/batched_training.py measured ratios of 0.9 to 1.2); the gain grows as the fixed
costs do (small models, many models, an accelerator's kernel launches).

What each model sees is exactly what :func:`deepleak.training.train_epoch` would give it:

- its own records, in the order ``torch.randperm`` draws from its own generator, ``batch_size`` at
  a time (plus, with ``augment``, that generator's draws per batch in the same sequence);
- its own batch's mean cross-entropy. The K losses are summed before one backward pass: model k's
  parameters enter no other model's loss, so the gradient of the sum on model k's slice is the
  gradient of model k's loss;
- torch.optim's update (Adam, or SGD with momentum and weight decay, with the hyper-parameters
  ``training.make_optimizer`` would choose; :func:`make_optimizer`). Both are elementwise, so the
  update of a slice is the update of that model.

Hence K batched models agree with K models trained one after the other up to floating-point
summation order (a batched matrix product may block its sums differently from K single ones).
Adam magnifies such rounding where a gradient is near zero (its first steps move a weight by about
lr * g / (|g| + eps) whatever g's size): after one Purchase100 party epoch the two differ by ~2e-5,
as much as either float32 run differs from the same epoch in float64 (tests/test_batched.py).

Different record counts: a model with fewer records has fewer or smaller batches. Its batch is
padded with its own first record at weight 0 (so nothing turns non-finite), and once its epoch is
over its update is skipped entirely (parameters, optimizer moments and step count stay as they are),
so it ends exactly where its own shorter epoch ends. Padding rows would enter batch-norm statistics,
so a net with batch-norm layers needs equal record counts (:func:`supports`).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from deepleak import optim, training
from deepleak.checkpoint import resume

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------
# K models as one
# --------------------------------------------------------------------------------------------------
class Stack:
    """The parameters and buffers of K models of ``net``'s architecture, stacked on a leading axis.

    ``net`` serves only as the architecture: :meth:`logits` calls its forward pass on the stacked
    state (its own parameters are untouched), and its training mode applies to all K models.
    """

    def __init__(self, net: nn.Module, states: Sequence[Mapping[str, torch.Tensor]]):
        if not states:
            raise ValueError("a Stack needs at least one model state")
        self.net = net
        self.keys = list(net.state_dict().keys())
        own = dict(net.named_buffers())

        def stacked(name):  # a non-persistent buffer is in no state_dict: take the net's own
            return torch.stack([s[name] if name in s else own[name] for s in states]).detach()

        linear = {f"{m}.weight" for m, mod in net.named_modules() if isinstance(mod, nn.Linear)}
        self.params = {n: _gradient_layout(stacked(n), n in linear).requires_grad_(True)
                       for n, _ in net.named_parameters()}
        self.buffers = {n: stacked(n) for n in own}

    @classmethod
    def of(cls, nets: Sequence[nn.Module]) -> Stack:
        """Stack a list of nets (the first serves as the architecture)."""
        return cls(nets[0], [n.state_dict() for n in nets])

    def __len__(self) -> int:
        return len(next(iter(self.params.values())))

    def _tensor(self, key: str) -> torch.Tensor:
        return self.params[key] if key in self.params else self.buffers[key]

    @torch.no_grad()
    def load(self, k: int, state: Mapping[str, torch.Tensor]) -> None:
        """Overwrite model k with ``state`` (a state_dict of the architecture), in place."""
        for key in self.keys:
            self._tensor(key)[k].copy_(state[key])

    def state(self, k: int) -> dict[str, torch.Tensor]:
        """Model k's state_dict (a detached contiguous copy, keys in the net's order)."""
        return {key: self._tensor(key)[k].detach().clone(memory_format=torch.contiguous_format)
                for key in self.keys}

    def load_into(self, k: int, net: nn.Module) -> nn.Module:
        """Copy model k into ``net`` (same architecture), e.g. to evaluate or observe it alone."""
        net.load_state_dict({key: self._tensor(key)[k].detach() for key in self.keys})
        return net

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every stacked parameter and buffer (the tensors themselves: save before the next
        step)."""
        return {**self.params, **self.buffers}

    @torch.no_grad()
    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        """Put back what :meth:`state_dict` returned, in place (each tensor keeps its memory
        layout, so the steps that follow run the same kernels)."""
        for key, tensor in {**self.params, **self.buffers}.items():
            tensor.copy_(state[key])

    def logits(self, X: torch.Tensor) -> torch.Tensor:
        """[K, B, ...] inputs, one batch per model -> [K, B, classes], each model's logits on its
        own batch. ``torch.vmap`` maps ``net``'s forward over the stacked state: one batched kernel
        per layer for the K models."""
        def one(params, buffers, x):
            return functional_call(self.net, (params, buffers), (x,))

        return torch.vmap(one)(self.params, self.buffers, X)


def _gradient_layout(w: torch.Tensor, linear: bool) -> torch.Tensor:
    """``w`` in the memory layout its gradient will have. Under vmap a linear layer's weight
    gradient comes out of a batched matrix product as [K, in, out]; autograd would copy it into the
    weight's own [K, out, in] layout every step (measured: a third of a Purchase100 step). Storing
    the weight as the transposed view of a [K, in, out] tensor makes that copy unnecessary, and the
    optimizer's moments (``zeros_like``) follow the same layout."""
    if not linear:
        return w
    return w.transpose(1, 2).contiguous().transpose(1, 2)


def has_batch_norm(net: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


def supports(net: nn.Module, sizes: Sequence[int]) -> bool:
    """Whether K models of ``net`` with ``sizes`` records each train batched exactly: padding
    (unequal record counts) is exact unless batch-norm statistics would see the padding rows."""
    return len(set(sizes)) <= 1 or not has_batch_norm(net)


class Pool:
    """The K models' training data: model k's records are ``Xs[k]``, ``ys[k]``, concatenated once so
    that each step gathers the K batches with one indexing operation."""

    def __init__(self, Xs: Sequence[torch.Tensor], ys: Sequence[torch.Tensor]):
        if len(Xs) != len(ys):
            raise ValueError(f"{len(Xs)} input sets but {len(ys)} label sets")
        self.sizes = [len(x) for x in Xs]
        if min(self.sizes) < 1:
            raise ValueError(f"every model needs training records; sizes {self.sizes}")
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).tolist()
        self.X = torch.cat(list(Xs))
        self.y = torch.cat(list(ys))

    def __len__(self) -> int:
        return len(self.sizes)


# --------------------------------------------------------------------------------------------------
# torch.optim's Adam and SGD on stacked parameters, one step count per model
# --------------------------------------------------------------------------------------------------
class Adam:
    """``torch.optim.Adam`` (no amsgrad; weight decay added to the gradient) on K stacked models.

    The arithmetic is torch's single-tensor Adam, element by element; what is new is that a model
    may sit a step out (``active``), so each model keeps its own step count.
    """

    def __init__(self, params: Sequence[torch.Tensor], *, lr: float, betas=(0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        self.params = list(params)
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.weight_decay = weight_decay
        self.steps = [0] * len(self.params[0])
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        # sqrt(v) is written here each step: a fresh K-model-sized tensor per step and parameter
        # would cost more in allocation (page faults) than the square root itself.
        self.denom = [torch.empty_like(p) for p in self.params]

    def state_dict(self) -> dict:
        """Learning rate, per-model step counts and the stacked moments (deepleak/checkpoint.py)."""
        return {"lr": self.lr, "steps": list(self.steps), "exp_avg": self.exp_avg,
                "exp_avg_sq": self.exp_avg_sq}

    @torch.no_grad()
    def load_state_dict(self, state: dict) -> None:
        self.lr, self.steps = state["lr"], list(state["steps"])
        for mine, saved in ((self.exp_avg, state["exp_avg"]), (self.exp_avg_sq,
                                                                state["exp_avg_sq"])):
            for t, s in zip(mine, saved, strict=True):
                t.copy_(s)

    def _scalars(self, steps: list[int], like: torch.Tensor):
        """The step size and sqrt(bias correction 2) per model: Python floats when the models share
        a step count (as torch computes them), else one value per model broadcast over its slice."""
        step_size = [self.lr / (1 - self.beta1 ** s) for s in steps]
        bc2_sqrt = [(1 - self.beta2 ** s) ** 0.5 for s in steps]
        if len(set(steps)) == 1:
            return step_size[0], bc2_sqrt[0]
        shape = (len(steps),) + (1,) * (like.dim() - 1)
        as_t = lambda v: torch.tensor(v, dtype=like.dtype, device=like.device).view(shape)  # noqa: E731
        return as_t(step_size), as_t(bc2_sqrt)

    @torch.no_grad()
    def step(self, active: torch.Tensor | None = None) -> None:
        """One update of every model, or of the models where the bool [K] mask ``active`` is set."""
        sel = None if active is None else torch.nonzero(active).flatten()
        ks = range(len(self.steps)) if sel is None else sel.tolist()
        for k in ks:
            self.steps[k] += 1
        steps = [self.steps[k] for k in ks]
        for p, m, v, d in zip(self.params, self.exp_avg, self.exp_avg_sq, self.denom, strict=True):
            if sel is None:
                self._update(p, p.grad, m, v, d, steps)
            else:  # update copies of the active slices, then write them back
                ps, ms, vs = p[sel], m[sel], v[sel]
                self._update(ps, p.grad[sel], ms, vs, torch.empty_like(vs), steps)
                p[sel], m[sel], v[sel] = ps, ms, vs

    def _update(self, p, grad, m, v, denom, steps) -> None:
        if self.weight_decay:  # the gradient is ours (a fresh one every step): add in place
            grad = grad.add_(p, alpha=self.weight_decay)
        m.lerp_(grad, 1 - self.beta1)
        v.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        step_size, bc2_sqrt = self._scalars(steps, p)
        denom = torch.sqrt(v, out=denom).div_(bc2_sqrt).add_(self.eps)
        if isinstance(step_size, float):
            p.addcdiv_(m, denom, value=-step_size)
        else:  # addcdiv_'s order of operations: p + (value * m) / denom
            p.add_((-step_size * m) / denom)


class SGD:
    """``torch.optim.SGD`` (momentum, weight decay; no dampening, no Nesterov), K stacked models."""

    def __init__(self, params: Sequence[torch.Tensor], *, lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0):
        self.params = list(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.buffers: list[torch.Tensor | None] = [None] * len(self.params)
        self.steps = [0] * len(self.params[0])

    def state_dict(self) -> dict:
        """Learning rate, per-model step counts and the stacked momentum buffers."""
        return {"lr": self.lr, "steps": list(self.steps), "buffers": list(self.buffers)}

    @torch.no_grad()
    def load_state_dict(self, state: dict) -> None:
        self.lr, self.steps = state["lr"], list(state["steps"])
        self.buffers = [None if s is None else torch.empty_like(p).copy_(s)
                        for p, s in zip(self.params, state["buffers"], strict=True)]

    @torch.no_grad()
    def step(self, active: torch.Tensor | None = None) -> None:
        sel = None if active is None else torch.nonzero(active).flatten()
        first = self.buffers[0] is None
        if first and sel is not None and len(sel) < len(self.steps):
            # torch creates the momentum buffer at a model's first step; all K take it together.
            raise ValueError("the first SGD step must update every model")
        for k in range(len(self.steps)) if sel is None else sel.tolist():
            self.steps[k] += 1
        for i, p in enumerate(self.params):
            grad = p.grad if sel is None else p.grad[sel]
            w = p if sel is None else p[sel]
            if self.weight_decay:
                grad = grad.add_(w, alpha=self.weight_decay)  # ours: a fresh one every step
            if self.momentum:
                if first:
                    self.buffers[i] = grad.clone()
                    grad = self.buffers[i]
                elif sel is None:
                    grad = self.buffers[i].mul_(self.momentum).add_(grad)
                else:
                    buf = self.buffers[i][sel].mul_(self.momentum).add_(grad)
                    self.buffers[i][sel] = buf
                    grad = buf
            if sel is None:
                p.add_(grad, alpha=-self.lr)
            else:
                p[sel] = w.add_(grad, alpha=-self.lr)


def make_optimizer(stack: Stack, train: dict) -> Adam | SGD:
    """The optimizer ``training.make_optimizer`` builds for one model, for K stacked ones: the
    hyper-parameters (and the defaults: betas, eps) are read off the optimizer it makes, so the
    two cannot drift apart."""
    reference = training.make_optimizer(nn.Linear(1, 1), train)
    params = list(stack.params.values())
    if isinstance(reference, optim.Adam):
        return Adam(params, lr=reference.lr, betas=reference.betas, eps=reference.eps,
                    weight_decay=reference.weight_decay)
    if isinstance(reference, optim.SGD):
        return SGD(params, lr=reference.lr, momentum=reference.momentum,
                   weight_decay=reference.weight_decay)
    raise ValueError(f"batched training has no {type(reference).__name__}")


# --------------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------------
def batch_orders(pool: Pool, batch_size: int, generators: Sequence[torch.Generator]):
    """Each model's epoch as rows of a [K, steps * batch_size] index matrix into the pool, and the
    [K, steps * batch_size] weights (1 for a record, 0 for padding).

    Model k's order is ``torch.randperm(n_k, generator=generators[k])``, the draw
    ``training.train_epoch`` makes at the start of its epoch.
    """
    if len(generators) != len(pool):
        raise ValueError(f"{len(pool)} models but {len(generators)} generators")
    steps = max(math.ceil(n / batch_size) for n in pool.sizes)
    width = steps * batch_size
    index = torch.empty(len(pool), width, dtype=torch.long)
    weight = torch.zeros(len(pool), width)
    for k, (n, offset, gen) in enumerate(zip(pool.sizes, pool.offsets, generators, strict=True)):
        order = torch.randperm(n, generator=gen)
        index[k, :n] = order + offset
        index[k, n:] = offset  # padding: the model's own first record, at weight 0
        weight[k, :n] = 1.0
    return index.to(pool.X.device), weight.to(pool.X.device)


def train_epoch(stack: Stack, opt: Adam | SGD, pool: Pool, batch_size: int,
                generators: Sequence[torch.Generator], augment=None) -> np.ndarray:
    """One epoch of each of the K models on its own records (``training.train_epoch`` K times, as
    one); returns each model's mean training loss."""
    if len(pool) != len(stack):
        raise ValueError(f"{len(stack)} models but data for {len(pool)}")
    if not supports(stack.net, pool.sizes):
        raise ValueError(f"models with batch-norm layers need equal record counts to train batched "
                         f"(padding rows would enter the batch statistics); sizes {pool.sizes}")
    stack.net.train()
    index, weight = batch_orders(pool, batch_size, generators)
    sizes = torch.tensor(pool.sizes, device=index.device)
    K = len(stack)
    total = torch.zeros(K, dtype=torch.float64, device=index.device)
    for step, start in enumerate(range(0, index.shape[1], batch_size)):
        idx, w = index[:, start: start + batch_size], weight[:, start: start + batch_size]
        counts = (sizes - start).clamp(0, batch_size)  # each model's records in this batch
        xb = pool.X[idx]
        if augment is not None:  # each model's own generator, its own records only, as in its epoch
            xb = xb.clone()
            for k in range(K):
                n = int(counts[k])
                if n:
                    xb[k, :n] = augment(xb[k, :n], generators[k])
        for p in stack.params.values():
            p.grad = None
        logits = stack.logits(xb)
        ce = F.cross_entropy(logits.flatten(0, 1), pool.y[idx].flatten(), reduction="none")
        losses = (ce.view(K, -1) * w).sum(1) / counts.clamp(min=1)
        active = counts > 0
        if not torch.isfinite(losses[active]).all():
            finite = torch.isfinite(losses.detach()) | ~active
            bad = torch.nonzero(~finite).flatten().tolist()
            raise training.TrainingDiverged(
                f"the training loss of model(s) {bad} became non-finite (batch {step}); lower the "
                f"learning rate in the config's train section.")
        losses.sum().backward()
        opt.step(None if bool(active.all()) else active)
        total += losses.detach().double() * counts
    return (total / sizes).cpu().numpy()


def fit(stack: Stack, pool: Pool, train: dict, generators: Sequence[torch.Generator],
        augment=None, checkpoint=None) -> np.ndarray:
    """``train["epochs"]`` epochs of each model with one optimizer for the run, as
    ``training.fit`` trains one model (its generator ``Generator().manual_seed(seed)``; lr x
    ``lr_gamma`` at each of ``lr_milestones``). Returns the [epochs, K] mean training losses.

    ``checkpoint`` (deepleak/checkpoint.py): saved after every epoch, resumed from when present,
    with the same result as a run that was never interrupted."""
    opt = make_optimizer(stack, train)
    milestones = sorted(train.get("lr_milestones") or [])
    rows, first = [], 1
    saved = resume(checkpoint, generators, what="epoch", total=train["epochs"], stack=stack,
                   optimizer=opt)
    if saved is not None:
        rows, first = list(saved["losses"]), saved["epoch"] + 1
    for epoch in range(first, train["epochs"] + 1):
        rows.append(train_epoch(stack, opt, pool, train["batch_size"], generators, augment))
        if epoch in milestones:  # MultiStepLR: the lr after this epoch
            opt.lr *= train.get("lr_gamma", 0.1) ** milestones.count(epoch)
        if checkpoint is not None:
            checkpoint.save({"epoch": epoch, "stack": stack.state_dict(),
                             "optimizer": opt.state_dict(), "losses": rows}, generators)
    stack.net.eval()
    return np.stack(rows) if rows else np.zeros((0, len(stack)))
