"""Federated learning (FedAvg) and the attackers who watch it (§II-B, §II-C, Fig. 1; Tables X-XIII,
Figure 7).

The protocol (§II-B): N parties hold their own training data, every party trains one local
epoch per round starting from the model the server sent it, uploads its parameters, and the server
averages the uploads with equal weights (plain FedAvg) and sends the global model back.

Observers (§II-B):

- the **central attacker** is the server. It sees every party's upload at the observed epochs and
  attacks each party separately (the tables average over parties);
- the **local attacker** is one party (here the last one, party N-1). It sees only the global models
  at the observed epochs and attacks the union of the other parties' data.

Active attacks (§II-C), each a :class:`Run` of the simulation:

- **gradient ascent**, Eq. (2): ``W <- W + gamma * dL/dW`` with L the mean cross-entropy on the
  target records (target members and target non-members together: the attacker does not know which
  is which). The central attacker applies it to the model it sends the target party (party 0); the
  local attacker to its own upload, so that it reaches everyone through the average. It is repeated
  every round. Eq. (2) moves the parameters, not the records (the text's "data features"
  contradicts it);
- **isolating**: the server sends the target party back only its own last upload, so the target
  trains as if stand-alone. The other parties get the average of their own uploads: averaging in
  a model that has drifted off on its own would cost the global model accuracy and give the attack
  away (the paper does not say);
- **isolating + gradient ascent**: the target party receives its own last upload, ascended.

What an observer sees is turned into attack features on the spot (:class:`Observations`): at each
observed epoch the features of the records that observer attacks are computed from the model it sees
and stacked to ``[n, T, ...]``. Keeping the model snapshots instead would cost one state_dict per
party and observed epoch (Texas100's FC model is 28 MB: 1.7 GB for a 4-party, 15-epoch run), and the
attack needs only the features. Besides the global model, the running sum of the uploads and, when
isolating, the target party's own model, the simulation holds one party's model at a time or, with
``batched`` (config ``federated.batched``, for a GPU), the round's N party models stacked as one
batched model with their optimizer state (deepleak/batched.py; Texas100's 4 parties: about
0.6 GB), so that the N local epochs run at once.

Everything is deterministic from the run's seed: the initialisation, and one batch-order generator
per (round, party) derived from it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from deepleak import batched as batched_lib
from deepleak import features as feature_lib
from deepleak import training

# The torch-free half (runs, observed epochs, the split), re-exported: table and split jobs import
# deepleak.federated_runs alone and so skip torch's start-up.
from deepleak.federated_runs import (  # noqa: F401
    ATTACK_MEMBER_SETS,
    KNOWN_NONMEMBER_SETS,
    TARGET_PARTY,
    Run,
    central_key,
    check_epochs,
    disjoint_groups,
    epochs_label,
    federated_splits,
    local_key,
    run_of,
    runs,
    scale_epochs,
    sub_seed,
)
from deepleak.progress import Progress

log = logging.getLogger(__name__)

PAPER_ROUNDS_CIFAR = 300  # the horizon of the paper's Table XII epoch sets (CIFAR100-AlexNet)


# --------------------------------------------------------------------------------------------------
# FedAvg and the active attacks
# --------------------------------------------------------------------------------------------------
def state_of(net) -> dict[str, torch.Tensor]:
    """A detached copy of the parameters and buffers of ``net``."""
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


class RunningAverage:
    """Equal-weight FedAvg of the uploads of one round, holding one accumulator, not N models."""

    def __init__(self):
        self.total: dict[str, torch.Tensor] | None = None
        self.count = 0

    def add(self, state: dict[str, torch.Tensor]) -> None:
        if self.total is None:
            self.total = {k: v.detach().clone().double() for k, v in state.items()}
        else:
            for k, v in state.items():
                self.total[k] += v.double()
        self.count += 1

    def result(self, like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if not self.count:
            raise ValueError("no upload was added to the FedAvg round")
        return {k: (v / self.count).to(like[k].dtype) for k, v in self.total.items()}


def fedavg(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Plain FedAvg (§II-B): the equal-weight mean of the parties' parameters."""
    avg = RunningAverage()
    for s in states:
        avg.add(s)
    return avg.result(states[0])


def target_loss_gradient(net, X: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """dL/dW of the mean cross-entropy on (X, y), one tensor per parameter (eval mode)."""
    was_training = net.training
    net.eval()
    params = list(net.parameters())
    loss = F.cross_entropy(net(X), y)
    grads = torch.autograd.grad(loss, params)
    net.train(was_training)
    return list(grads)


@torch.no_grad()
def _step(net, grads, gamma: float) -> None:
    for p, g in zip(net.parameters(), grads, strict=True):
        p.add_(g, alpha=gamma)


def gradient_ascent(net, X: torch.Tensor, y: torch.Tensor, gamma: float) -> float:
    """Eq. (2), in place: W <- W + gamma * dL_targets/dW. Returns ||dL/dW|| before the step."""
    grads = target_loss_gradient(net, X, y)
    _step(net, grads, gamma)
    return float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))


# --------------------------------------------------------------------------------------------------
# what the observers see
# --------------------------------------------------------------------------------------------------
class Observations:
    """Attack features of each view's records at its observed epochs, stacked to [n, T, ...].

    A view is ``"party<k>"`` (the central attacker's view of party k's uploads) or ``"global"`` (the
    local attacker's view of the global models). Only the keys the attack model reads are kept, plus
    the last-layer gradient norm (Figs. 3, 4 and 7).
    """

    def __init__(self, X, y, views: dict[str, tuple[np.ndarray, list[int]]], spec,
                 gradient_layers: int):
        self.X, self.y = X, y
        self.views = views
        self.spec = spec
        self.gradient_layers = gradient_layers
        self.data: dict[str, dict[str, np.ndarray]] = {}

    def wants(self, view: str, epoch: int) -> bool:
        return view in self.views and epoch in self.views[view][1]

    def see(self, view: str, epoch: int, net) -> None:
        records, epochs = self.views[view]
        t = epochs.index(epoch)
        feats = feature_lib.extract(net, self.X[records], self.y[records],
                                    gradient_layers=self.gradient_layers)
        store = self.data.setdefault(view, {})
        keep = set(self.spec.keys(feats))
        for key, value in feats.items():
            if key == "label" or not (key in keep or key.startswith("grad_norm/")):
                continue
            if key not in store:
                store[key] = np.zeros((len(records), len(epochs), *value.shape[1:]), np.float32)
            store[key][:, t] = value
        store["label"] = feats["label"]
        store["records"] = records
        store["epochs"] = np.asarray(epochs, np.int64)

    def arrays(self) -> dict[str, np.ndarray]:
        """Flat ``<view>/<key>`` arrays for one npz file."""
        missing = [v for v in self.views if v not in self.data]
        if missing:
            raise RuntimeError(f"views {missing} were never observed; their epochs lie beyond the "
                               f"run's rounds")
        return {f"{view}/{k}": v for view, d in self.data.items() for k, v in d.items()}


def view_data(feats: dict[str, np.ndarray], view: str) -> dict[str, np.ndarray]:
    """The arrays of one view of a federated features file (keys without the view prefix)."""
    prefix = f"{view}/"
    out = {k[len(prefix):]: v for k, v in feats.items() if k.startswith(prefix)}
    if not out:
        views = sorted({k.split("/")[0] for k in feats})
        raise KeyError(f"the features file has no view {view!r}; it has {views}")
    return out


def select_epochs(view: dict[str, np.ndarray], epochs: list[int]) -> dict[str, np.ndarray]:
    """The view's features at ``epochs`` only (a subset of the epochs it observed)."""
    have = list(view["epochs"])
    missing = [e for e in epochs if e not in have]
    if missing:
        raise KeyError(f"epochs {missing} were not observed (observed: {have}); rerun the "
                       f"simulation with them in the config")
    idx = [have.index(e) for e in epochs]
    out = {}
    for k, v in view.items():
        out[k] = v[:, idx] if v.ndim >= 2 and k not in ("records",) else v
    out["epochs"] = np.asarray(epochs, np.int64)
    return out


# --------------------------------------------------------------------------------------------------
# the simulation
# --------------------------------------------------------------------------------------------------
def simulate(make_net: Callable[[], torch.nn.Module], X: np.ndarray, y: np.ndarray,
             party_ids: list[np.ndarray], *, run: Run, train: dict, rounds: int, gamma: float,
             target_ids: np.ndarray | None, test_ids: np.ndarray, observations: Observations | None,
             track: dict[str, np.ndarray] | None = None, seed: int,
             on_upload: Callable[[int, int, dict], None] | None = None, batched: bool = True,
             checkpoint=None):
    """Run FedAvg for ``rounds`` rounds under ``run``'s attack; return (final global state,
    history).

    ``party_ids[k]`` are party k's records. ``target_ids`` are the active attacks' target records.
    ``track`` maps a group name to records whose mean last-layer gradient norm is recorded every
    round on the model the attacker watches (Figure 7): the target party's upload for a central
    observer, the global model for a local one. ``on_upload(round, party, state)`` lets tests look
    at every upload. ``batched=False`` trains the parties one after the other on one model (the
    reference the batched path is tested against).

    ``checkpoint`` (deepleak/checkpoint.py) is saved after every round: the global model, the
    isolated target's own model, the history and what the observers have seen so far (each
    round's parties start a fresh optimizer and draw from generators seeded by the round, so
    nothing else carries over). A rerun resumes after the last saved round with the result of an
    uninterrupted run.
    """
    if len(party_ids) != run.parties:
        raise ValueError(f"run {run.name} has {run.parties} parties but {len(party_ids)} data sets "
                         f"were given")
    if run.ascent and (target_ids is None or not len(target_ids)):
        raise ValueError(f"run {run.name} is a gradient-ascent attack but has no target records")
    as_x = lambda ids: torch.as_tensor(X[ids], dtype=torch.float32)  # noqa: E731
    as_y = lambda ids: torch.as_tensor(y[ids], dtype=torch.long)  # noqa: E731
    data = [(as_x(ids), as_y(ids)) for ids in party_ids]
    Xte, yte = as_x(test_ids), as_y(test_ids)
    targets = (as_x(target_ids), as_y(target_ids)) if run.ascent else None
    tracked = {g: (as_x(ids), as_y(ids)) for g, ids in (track or {}).items()}

    torch.manual_seed(seed)
    net = make_net()  # the working model: each party's start, ascent, evaluation and observation
    global_state = state_of(net)  # round 0: the common initialisation
    own_state = None  # the target party's last upload, kept only when isolating
    # The round's parties train as one batched model (deepleak/batched.py): same start states, batch
    # orders and optimizer arithmetic as one after the other, up to floating-point summation order.
    # Parties of different sizes are padded, which batch-norm layers would see: those fall back to
    # training one after the other (federated_splits gives every party party_train records, so
    # this happens only for data given here directly).
    sizes = [len(Xk) for Xk, _ in data]
    use_batched = batched and batched_lib.supports(net, sizes)
    if batched and not use_batched:
        log.info("parties of different sizes %s and a batch-norm model: training them one after "
                 "the other", sizes)
    stack = batched_lib.Stack(net, [global_state] * run.parties) if use_batched else None
    pool = batched_lib.Pool(*zip(*data, strict=True)) if use_batched else None

    def start(k: int, row: dict) -> None:
        """Load party k's start model into ``net``: the global model or, for an isolated target
        party, its own last upload; ascended first when the server attacks it (Eq. 2)."""
        is_target = k == TARGET_PARTY
        isolated = run.isolating and is_target and own_state is not None
        net.load_state_dict(own_state if isolated else global_state)
        if run.ascent == "central" and is_target:
            # The server sends the target party an ascended model (Eq. 2).
            row["ascent_grad_norm"] = gradient_ascent(net, *targets, gamma)

    def upload(k: int, t: int, row: dict, avg: RunningAverage):
        """Party k's trained model (in ``net``) becomes its upload: the local attacker ascends its
        own, the observers look at it, the server averages it in. Returns it when it is the
        isolated target party's own next start model."""
        is_target = k == TARGET_PARTY
        if run.ascent == "local" and k == run.local_attacker:
            # The local attacker ascends its own upload; averaging carries it to everyone.
            row["ascent_grad_norm"] = gradient_ascent(net, *targets, gamma)
        net.eval()
        own = state_of(net) if run.isolating and is_target else None
        if is_target:
            row["target_party_test_loss"], row["target_party_test_acc"] = training.evaluate(
                net, Xte, yte)
            if run.observer != "local":
                row.update(_track(net, tracked))
        if observations is not None and observations.wants(f"party{k}", t):
            observations.see(f"party{k}", t, net)
        if on_upload is not None:
            on_upload(t, k, state_of(net))
        if not (run.isolating and is_target):
            avg.add(net.state_dict())
        return own

    rows, first = [], 1
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        global_state, own_state, rows = saved["global"], saved["own"], saved["history"]
        net.load_state_dict(global_state)
        net.train(saved["training"])
        if observations is not None:
            observations.data = saved["observations"]
        first = saved["round"] + 1
        log.info("resuming after round %d of %d (%s)", saved["round"], rounds, checkpoint.path)
    progress = Progress(log, "round", rounds, resumed=first - 1)
    for t in range(first, rounds + 1):
        avg = RunningAverage()
        row = {"round": t}
        # One batch-order generator per (round, party), whichever way the parties train.
        gens = [torch.Generator().manual_seed(sub_seed(seed, "round", t, "party", k))
                for k in range(run.parties)]
        uploads_own = []
        if stack is None:
            for k in range(run.parties):
                start(k, row)
                # Stateless parties: a fresh optimizer every round (the paper is silent).
                opt = training.make_optimizer(net, train)
                training.train_epoch(net, opt, *data[k], train["batch_size"], gens[k])
                uploads_own.append(upload(k, t, row, avg))
        else:
            # Every start model is fixed before any party trains (the isolated target's is its
            # upload of the previous round), so the K epochs can run at once.
            for k in range(run.parties):
                start(k, row)
                stack.load(k, net.state_dict())
            opt = batched_lib.make_optimizer(stack, train)  # fresh every round, as above
            batched_lib.train_epoch(stack, opt, pool, train["batch_size"], gens)
            for k in range(run.parties):
                stack.load_into(k, net).train()  # as train_epoch leaves it
                uploads_own.append(upload(k, t, row, avg))
        own_state = next((s for s in uploads_own if s is not None), own_state)
        global_state = avg.result(global_state)
        net.load_state_dict(global_state)
        row["global_test_loss"], row["global_test_acc"] = training.evaluate(net, Xte, yte)
        if run.observer == "local":
            row.update(_track(net, tracked))
        if observations is not None and observations.wants("global", t):
            observations.see("global", t, net)
        rows.append(row)
        progress(t, **{k: v for k, v in row.items() if k != "round"})
        if checkpoint is not None:
            checkpoint.save({"round": t, "global": global_state, "own": own_state,
                             "history": rows, "training": net.training,
                             "observations": observations.data if observations is not None
                             else {}})
    return global_state, pd.DataFrame(rows)


def _track(net, tracked: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    return {f"grad_norm_{g}": float(training.last_layer_grad_norm(net, Xg, yg).mean())
            for g, (Xg, yg) in tracked.items()}


# --------------------------------------------------------------------------------------------------
# which records each observer attacks
# --------------------------------------------------------------------------------------------------
def _records(sets, prefix: Callable[[str], str]) -> np.ndarray:
    names = [prefix(n) for n in (*ATTACK_MEMBER_SETS, "target_members", "attack_test_nonmembers")]
    shared = [sets[n] for n in (*KNOWN_NONMEMBER_SETS, "target_nonmembers")]
    return np.unique(np.concatenate([sets[n] for n in names if n in sets] + shared))


def central_records(sets, party: int) -> np.ndarray:
    """Every record the central attacker scores on party ``party``'s uploads."""
    return _records(sets, lambda name: central_key(party, name))


def local_records(sets, parties: int) -> np.ndarray:
    """Every record the local attacker of a ``parties``-party run scores on the global models."""
    return _records(sets, lambda name: local_key(parties, name))


def observer_views(run: Run, sets, observed: list[int], central_extra: list[int] | None = None):
    """{view: (records, epochs)} of a run: what each of its observers sees, and when.

    The passive central attacker watches every party (at Table X's epochs and ``central_extra``, the
    Table XII epoch sets); an active central attacker only the target party; the local attacker the
    global model.
    """
    views = {}
    if run.observer in ("central", "both"):
        epochs = sorted(set(observed) | set(central_extra or []))
        watched = range(run.parties) if run.observer == "both" else [TARGET_PARTY]
        for k in watched:
            views[f"party{k}"] = (central_records(sets, k), epochs)
    if run.observer in ("local", "both"):
        views["global"] = (local_records(sets, run.parties), list(observed))
    return views


def figure7_groups(sets, run: Run, n: int) -> dict[str, np.ndarray]:
    """Records followed every round for Figure 7: target members and non-members, and as many
    non-target members (of the target party, or of the other parties for a local attacker) and
    non-target non-members (attack-test non-members)."""
    if run.observer == "central" or run.observer == "both":
        members = central_key(TARGET_PARTY, "target_members")
        others = sets[central_key(TARGET_PARTY, "attack_test_members")][:n]
    else:
        members = local_key(run.parties, "target_members")
        others = sets[local_key(run.parties, "attack_test_members")][:n]
    nonmembers = sets[central_key(TARGET_PARTY, "attack_test_nonmembers")][:n]
    groups = {"nontarget_members": others, "nontarget_nonmembers": nonmembers}
    if members in sets:
        groups = {"target_members": sets[members], "target_nonmembers": sets["target_nonmembers"],
                  **groups}
    return groups


def target_records(sets, run: Run) -> np.ndarray | None:
    """The active attack's target records: 100 members of the target party (central) or of the other
    parties (local), and 100 non-members (§II-C)."""
    if run.ascent == "central":
        members = sets[central_key(TARGET_PARTY, "target_members")]
    elif run.ascent == "local":
        members = sets[local_key(run.parties, "target_members")]
    else:
        return None
    return np.concatenate([members, sets["target_nonmembers"]])


# --------------------------------------------------------------------------------------------------
# the multi-observation attack (Fig. 1, §II-B)
# --------------------------------------------------------------------------------------------------
def attack_spec(layer_names: list[str], features_cfg: dict):
    """The attack features of the federated attacks (config ``federated.features``, layers counted
    from the output as in deepleak/variants.py) and how many layers' gradients must be extracted."""
    from deepleak.variants import Variant

    gradient_layers = max(features_cfg["gradients"], default=1)
    variant = Variant(outputs=tuple(features_cfg["outputs"]),
                      gradients=tuple(features_cfg["gradients"]), description="federated.features")
    return variant.resolve(list(layer_names), gradient_layers), gradient_layers
