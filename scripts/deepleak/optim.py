"""Adam and SGD for every model DeepLeak trains, with torch.optim's arithmetic but not its classes.

Building any ``torch.optim`` optimizer imports ``torch._dynamo`` (its methods are wrapped by
``torch._disable_dynamo``, which imports the compiler on first call): about a second on a 2-core
machine, paid by every training and attack job, which is otherwise done with start-up after
``import torch`` (benchmarks/job_startup.py measures both). These two classes make the very same
updates without that import:

- :class:`Adam` calls the kernel ``torch.optim.Adam(fused=True)`` calls (``torch._fused_adam_``),
  with the same state (a float32 step count, first and second moments), so its parameters are
  bit-identical to torch's fused Adam step for step;
- :class:`SGD` runs the multi-tensor update of ``torch.optim.SGD(foreach=True)`` (weight decay
  added to the gradient, momentum buffer started from the first gradient, no dampening or
  Nesterov), bit-identical to torch's.

tests/test_optim.py checks both against torch.optim, and that neither imports the compiler.
Opacus wraps a ``torch.optim`` optimizer, so DP-SGD (deepleak/dp.py) keeps torch's own
(``training.make_optimizer(..., torch_optim=True)``).
"""
from __future__ import annotations

from collections.abc import Iterable

import torch


class _Optimizer:
    """The part of torch.optim's interface DeepLeak's training loops use: ``lr`` (settable, for a
    learning-rate schedule), ``zero_grad``, ``step``, and ``state_dict`` / ``load_state_dict`` for a
    checkpoint (deepleak/checkpoint.py)."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, weight_decay: float):
        self.params = list(params)
        self.lr, self.weight_decay = lr, weight_decay

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def _with_grad(self) -> list[torch.Tensor]:
        # torch.optim skips a parameter without a gradient (not used in this step's loss)
        return [p for p in self.params if p.grad is not None]


class Adam(_Optimizer):
    """``torch.optim.Adam(params, lr, betas, eps, weight_decay, fused=True)``; no amsgrad."""

    def __init__(self, params, *, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.betas, self.eps = tuple(betas), eps
        self.state: dict[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    @torch.no_grad()
    def step(self) -> None:
        params = self._with_grad()
        groups: dict[tuple, list[torch.Tensor]] = {}
        for p in params:  # one fused call per device and dtype, as torch groups them
            groups.setdefault((p.device, p.dtype), []).append(p)
            if p not in self.state:
                # torch's fused Adam keeps the step count as a float32 scalar tensor
                self.state[p] = (torch.zeros((), dtype=torch.float32, device=p.device),
                                 torch.zeros_like(p, memory_format=torch.preserve_format),
                                 torch.zeros_like(p, memory_format=torch.preserve_format))
        for group in groups.values():
            steps, exp_avgs, exp_avg_sqs = (list(s) for s in zip(*(self.state[p] for p in group),
                                                                    strict=True))
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(group, [p.grad for p in group], exp_avgs, exp_avg_sqs, [], steps,
                               amsgrad=False, lr=self.lr, beta1=self.betas[0],
                               beta2=self.betas[1], weight_decay=self.weight_decay, eps=self.eps,
                               maximize=False)

    def state_dict(self) -> dict:
        """The learning rate and, per parameter in order, its step count and moments (None before
        its first step): what a resumed run needs to continue bit for bit (deepleak/checkpoint.py).
        The tensors are the optimizer's own, not copies: save them before the next step."""
        return {"lr": self.lr, "state": [list(self.state[p]) if p in self.state else None
                                         for p in self.params]}

    @torch.no_grad()
    def load_state_dict(self, state: dict) -> None:
        _check_len(state["state"], self.params)
        self.lr = state["lr"]
        self.state = {}
        for p, saved in zip(self.params, state["state"], strict=True):
            if saved is not None:
                step, m, v = saved
                self.state[p] = (step.to(device=p.device, dtype=torch.float32).clone(),
                                 torch.zeros_like(p, memory_format=torch.preserve_format).copy_(m),
                                 torch.zeros_like(p, memory_format=torch.preserve_format).copy_(v))


def _check_len(saved: list, params: list) -> None:
    if len(saved) != len(params):
        raise ValueError(f"the optimizer state holds {len(saved)} parameters, the model has "
                         f"{len(params)}: it belongs to another architecture")


class SGD(_Optimizer):
    """``torch.optim.SGD(params, lr, momentum, weight_decay, foreach=True)``; no dampening or
    Nesterov."""

    def __init__(self, params, *, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.momentum = momentum
        self.momentum_buffers: dict[torch.Tensor, torch.Tensor] = {}

    @torch.no_grad()
    def step(self) -> None:
        params = self._with_grad()
        grads = [p.grad for p in params]
        if self.weight_decay:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        if self.momentum:
            if all(p in self.momentum_buffers for p in params):
                bufs = [self.momentum_buffers[p] for p in params]
                torch._foreach_mul_(bufs, self.momentum)
                torch._foreach_add_(bufs, grads, alpha=1)
            else:  # the first step (torch: a buffer starts as a copy of the gradient)
                bufs = []
                for p, g in zip(params, grads, strict=True):
                    buf = self.momentum_buffers.get(p)
                    if buf is None:
                        buf = self.momentum_buffers[p] = torch.clone(g).detach()
                    else:
                        buf.mul_(self.momentum).add_(g, alpha=1)
                    bufs.append(buf)
            grads = bufs
        torch._foreach_add_(params, grads, alpha=-self.lr)

    def state_dict(self) -> dict:
        """The learning rate and each parameter's momentum buffer (None before its first step)."""
        return {"lr": self.lr, "momentum_buffers": [self.momentum_buffers.get(p)
                                                    for p in self.params]}

    @torch.no_grad()
    def load_state_dict(self, state: dict) -> None:
        _check_len(state["momentum_buffers"], self.params)
        self.lr = state["lr"]
        self.momentum_buffers = {
            p: torch.zeros_like(p, memory_format=torch.preserve_format).copy_(buf)
            for p, buf in zip(self.params, state["momentum_buffers"], strict=True)
            if buf is not None}


def milestone_lr(lr: float, epoch: int, milestones, gamma: float) -> float:
    """The learning rate after ``epoch`` epochs given the rate before it: ``torch.optim.
    lr_scheduler.MultiStepLR``'s rule (times ``gamma`` once per milestone equal to ``epoch``),
    in its arithmetic."""
    hits = list(milestones).count(epoch)
    return lr * gamma ** hits if hits else lr
