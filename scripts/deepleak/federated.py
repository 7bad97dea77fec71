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
  every round. Eq. (2) moves the parameters, not the records (the text's "data features" contradicts it);
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
isolating, the target party's own model, the simulation holds the round's N party models stacked as
one batched model with their optimizer state (deepleak/batched.py; Texas100's 4 parties: about
0.6 GB), so that the N local epochs run at once.

Everything is deterministic from the run's seed: the initialisation, and one batch-order generator
per (round, party) derived from it.
"""
from __future__ import annotations

import logging
import zlib
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from deepleak import batched as batched_lib
from deepleak import features as feature_lib
from deepleak import training
from deepleak.federated_runs import Run, check_epochs, run_of, runs, scale_epochs  # noqa: F401
from deepleak.progress import Progress
from deepleak.splits import SplitError, check_disjoint

log = logging.getLogger(__name__)

TARGET_PARTY = 0  # the party the central active attacks target (§II-C)
PAPER_ROUNDS_CIFAR = 300  # the horizon of the paper's Table XII epoch sets (CIFAR100-AlexNet)


def sub_seed(seed: int, *parts) -> int:
    """A seed for one piece of a run (a round's batch order, ...), stable across machines."""
    return zlib.crc32("/".join(map(str, (seed, *parts))).encode())


# --------------------------------------------------------------------------------------------------
# the federated split
# --------------------------------------------------------------------------------------------------
KNOWN_NONMEMBER_SETS = ("attack_train_nonmembers", "attack_val_nonmembers")
ATTACK_MEMBER_SETS = ("attack_train_members", "attack_val_members", "attack_test_members")


def central_key(party: int, name: str) -> str:
    return f"central/party{party}/{name}"


def local_key(parties: int, name: str) -> str:
    return f"local/{parties}parties/{name}"


def _known_val(n_known: int, validation_fraction: float, key: str) -> tuple[int, int]:
    n_val = int(round(n_known * validation_fraction))
    if n_val < 1 or n_known - n_val < 1:
        raise SplitError(f"{key}: validation_fraction {validation_fraction} leaves an empty attack "
                         f"training or validation set (known {n_known}).")
    return n_known - n_val, n_val


def federated_splits(n_records: int, sizes: dict, *, parties: int, party_sweep: list[int],
                     validation_fraction: float, overlapping: bool, seed: int,
                     key: str = "federated.per_dataset.<dataset>.sizes") -> dict[str, np.ndarray]:
    """Named record sets of the federated scenario (Table XI), drawn from one seeded generator.

    - ``party<k>``: party k's training data, ``party_train`` records each, for every party any run
      needs (the largest party count). Non-overlapping blocks, or with ``overlapping`` independent
      draws from a common pool of ``member_pool`` records (the paper's CIFAR100 local-attacker runs,
      where 4 x 30,000 > 50,000; Table XI);
    - ``test``: records no party holds, for the global model's accuracy;
    - non-members (held by no party): the attacker's known ones (``attack_train_nonmembers``,
      ``attack_val_nonmembers``);
    - the central attacker's sets for party k (``central/party<k>/...``): known (train, validation)
      and attack-test members drawn from party k's data, and attack-test non-members of its own (so
      the average over parties rests on distinct records);
    - the local attacker's sets for each party count n (``local/<n>parties/...``): members drawn
      from the union of the other parties' data (the attacker is party n-1; its own records are
      excluded), ``local_attack_test_members`` of them (default: ``attack_test_members``) for its
      test set, against as many of the parties' attack-test non-members, party 0's first;
    - the active attacks' targets (§II-C: 100 members, 100 non-members): ``target_nonmembers``
      are the first of party 0's attack-test non-members, ``central/party0/target_members`` the
      first of party 0's attack-test members, ``local/<n>parties/target_members`` (Table X's n only)
      the first of the local attacker's. Targets are thus records the passive attack also scores,
      which is what lets a table compare passive and active attacks on the same 200 records. (Table
      XI's Texas100 column, 4,000 known + 4,000 test members of 8,000, leaves no room for separate
      targets.)
    """
    n_parties = max([parties, *party_sweep])
    P = sizes["party_train"]
    n_known_nm, n_test_nm = sizes["attack_train_nonmembers"], sizes["attack_test_nonmembers"]
    n_nonmembers = n_known_nm + parties * n_test_nm
    # The local attacker's test set may be larger than one party's: it attacks all the others.
    n_local = sizes.get("local_attack_test_members", sizes["attack_test_members"])
    for what in ("members", "nonmembers"):
        smallest = min(sizes[f"attack_test_{what}"], n_local)
        if sizes[f"target_{what}"] > smallest:
            raise SplitError(f"{key}: target_{what} ({sizes[f'target_{what}']}) are drawn from the "
                             f"attack-test {what} ({smallest}); lower them")
    if n_local > parties * n_test_nm:
        raise SplitError(f"{key}: local_attack_test_members ({n_local}) needs as many non-members, "
                         f"drawn from the parties' attack-test non-members ({parties} x "
                         f"{n_test_nm}); lower it or raise attack_test_nonmembers")
    pool = sizes.get("member_pool") if overlapping else n_parties * P
    if overlapping and pool is None:
        raise SplitError(f"{key}: overlapping parties draw from a common pool; set member_pool "
                         f"(the paper: CIFAR100's 50,000 training images, Table XI)")
    if overlapping and pool < P:
        raise SplitError(f"{key}: member_pool ({pool}) is smaller than party_train ({P})")
    needed = pool + sizes["test"] + n_nonmembers
    if needed > n_records:
        members = f"member pool {pool}" if overlapping else f"{n_parties} parties x {P}"
        raise SplitError(
            f"{key}: the federated split needs {needed} records ({members} + test "
            f"{sizes['test']} + non-members {n_nonmembers}: known {n_known_nm} + {parties} x "
            f"attack-test {n_test_nm}) but the dataset has {n_records}; lower the sizes, or for a "
            f"stand-in raise datasets.<dataset>.standin.n_records.")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_records)
    member_pool, rest = perm[:pool], perm[pool:]
    if overlapping:
        party_sets = [rng.choice(member_pool, size=P, replace=False) for _ in range(n_parties)]
    else:
        party_sets = np.split(member_pool, n_parties)
    sets: dict[str, np.ndarray] = {f"party{k}": s for k, s in enumerate(party_sets)}
    cuts = np.cumsum([sizes["test"], n_known_nm, parties * n_test_nm])
    test, known_n, test_n = np.split(rest[: cuts[-1]], cuts[:-1])
    tr_n, _ = _known_val(n_known_nm, validation_fraction, f"{key}.attack_train_nonmembers")
    sets.update(test=test, attack_train_nonmembers=known_n[:tr_n],
                attack_val_nonmembers=known_n[tr_n:])
    test_n = np.split(test_n, parties)  # already in random order: a permutation's slice
    sets["target_nonmembers"] = test_n[TARGET_PARTY][: sizes["target_nonmembers"]]

    def members_of(pool_ids: np.ndarray, prefix: Callable[[str], str], with_targets: bool,
                   what: str, n_test: int):
        n_known = sizes["attack_train_members"]
        if n_known + n_test > len(pool_ids):
            raise SplitError(
                f"{key}: the {what} has {len(pool_ids)} records but the attacker's known members "
                f"({n_known}) + attack-test members ({n_test}) need more; lower them or raise "
                f"party_train.")
        ids = rng.permutation(pool_ids)
        tr, va = _known_val(n_known, validation_fraction, f"{key}.attack_train_members")
        cut = np.cumsum([tr, va, n_test])
        parts = np.split(ids[: cut[-1]], cut[:-1])
        for name, part in zip(ATTACK_MEMBER_SETS, parts, strict=True):
            sets[prefix(name)] = part
        if with_targets:  # the first of the attack-test members, in random order
            sets[prefix("target_members")] = parts[2][: sizes["target_members"]]

    for k in range(parties):
        members_of(sets[f"party{k}"], lambda name, k=k: central_key(k, name), k == TARGET_PARTY,
                   f"data of party {k}", sizes["attack_test_members"])
        sets[central_key(k, "attack_test_nonmembers")] = test_n[k]
    for n in sorted({parties, *party_sweep}):
        others = np.unique(np.concatenate([sets[f"party{k}"] for k in range(n - 1)]))
        others = np.setdiff1d(others, sets[f"party{n - 1}"])  # the attacker's own records
        members_of(others, lambda name, n=n: local_key(n, name), n == parties,
                   f"union of the other parties' data (local attacker, {n} parties)", n_local)
        # Party 0's test non-members first (they hold the target non-members), then the others'.
        sets[local_key(n, "attack_test_nonmembers")] = np.concatenate(test_n)[:n_local]
    sets = {name: np.sort(ids).astype(np.int64) for name, ids in sets.items()}
    check_disjoint(sets, disjoint_groups(sets, parties, party_sweep, overlapping))
    return sets


def disjoint_groups(sets: dict, parties: int, party_sweep: list[int], overlapping: bool):
    """Which sets may share no record: the parties (unless overlapping) and everything held out;
    attacker's members, targets and test non-members; the local attacker's sets and its own data."""
    n_parties = max([parties, *party_sweep])
    party_names = [f"party{k}" for k in range(n_parties)]
    held_out = ["test", *KNOWN_NONMEMBER_SETS,
                *[central_key(k, "attack_test_nonmembers") for k in range(parties)]]
    groups = [[p, *held_out] for p in party_names] if overlapping else [[*party_names, *held_out]]
    names = (*ATTACK_MEMBER_SETS, "attack_test_nonmembers")
    for k in range(parties):
        groups.append([central_key(k, n) for n in names if central_key(k, n) in sets])
    for n in sorted({parties, *party_sweep}):
        local = [local_key(n, m) for m in names if local_key(n, m) in sets]
        groups.append([*local, f"party{n - 1}"])
    return groups


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
             on_upload: Callable[[int, int, dict], None] | None = None, batched: bool = True):
    """Run FedAvg for ``rounds`` rounds under ``run``'s attack; return (final global state,
    history).

    ``party_ids[k]`` are party k's records. ``target_ids`` are the active attacks' target records.
    ``track`` maps a group name to records whose mean last-layer gradient norm is recorded every
    round on the model the attacker watches (Figure 7): the target party's upload for a central
    observer, the global model for a local one. ``on_upload(round, party, state)`` lets tests look
    at every upload. ``batched=False`` trains the parties one after the other on one model (the
    reference the batched path is tested against).
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

    rows = []
    progress = Progress(log, "round", rounds)
    for t in range(1, rounds + 1):
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


def epochs_label(epochs) -> str:
    return "-".join(str(int(e)) for e in epochs)
