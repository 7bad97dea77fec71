"""The unsupervised membership attack (paper §II-D, Fig. 1, Table XIV; Table VII, Figure 5).

The attacker holds records that partly overlap the target's training set but does not know which are
members. The paper's attack network is trained as an encoder-decoder on them:

- the **encoder** is the white-box attack model (deepleak.attack.AttackModel: components, then the
  FC encoder) whose single output, left unbounded (no sigmoid), is the "membership embedding", the
  code;
- the **decoder** (Table XIV: FC 64 -> n targets) reconstructs from that one number a few key
  features of the record (:data:`DECODER_TARGETS`); trained with MSE (or L1) on targets
  standardised over the attacker's records. The decoder is discarded after training.

No function here takes a membership label: training reads the attacker's unlabelled records, and the
attack on the test records is a batch attack. Their codes are clustered into two clusters by
spectral clustering on a sparse nearest-neighbour graph of the 1-D codes (never an n x n dense
matrix; a seeded subsample when there are more than ``max_points``); the cluster whose records have
the smaller mean last-layer gradient norm (Figs 2-4) is called members. Since the codes are one
number, the two clusters are turned into the threshold on the code that best reproduces them (the
paper: "the outcome amounts to a threshold on the scalar"), which also labels records left out of a
subsample. The membership score is the code signed so that the member side is positive, minus that
threshold: it gives the AUC and low-FPR TPRs beside the accuracy of the clustering.
"""
from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
from scipy import sparse
from torch import nn

from deepleak import attack, baselines, training
from deepleak.progress import Progress

log = logging.getLogger(__name__)

# What the decoder reconstructs (§II-D, Fig. 1): the loss, the correctness indicator
# 1{y = argmax f(x)}, the true-class confidence f(x)_y, the normalised prediction entropy H(f(x))
# and the last-layer gradient norm. The text and Fig. 1 name these five, Table XIV has 4 decoder
# outputs (the paper contradicts itself; see README, 'Where the paper is silent'); the config's
# ``unsupervised.decoder_targets`` chooses.
DECODER_TARGETS = ("loss", "correct", "confidence", "entropy", "grad_norm")


def decoder_targets(feats: dict[str, np.ndarray], names, last_layer: str) -> np.ndarray:
    """The decoder's targets of every record, ``[n, len(names)]``, from one snapshot's features."""
    logp = baselines.log_softmax(feats["logits"])
    rows = np.arange(len(logp))
    columns = {
        "loss": lambda: np.asarray(feats["loss"], dtype=np.float64),
        "correct": lambda: (logp.argmax(1) == feats["label"]).astype(np.float64),
        "confidence": lambda: np.exp(logp[rows, feats["label"]]),
        "entropy": lambda: baselines.normalised_entropy(feats["logits"]),
        "grad_norm": lambda: np.asarray(feats[f"grad_norm/{last_layer}"], dtype=np.float64),
    }
    unknown = [n for n in names if n not in columns]
    if unknown or not names:
        raise ValueError(f"unsupervised.decoder_targets {list(names)}: unknown {unknown}; choose "
                         f"from {list(DECODER_TARGETS)}")
    return np.stack([columns[n]() for n in names], axis=1)


class EncoderDecoder(nn.Module):
    """The attack model as an encoder with an unbounded scalar output, and a small FC decoder."""

    def __init__(self, encoder: attack.AttackModel, n_targets: int, decoder_widths: list[int],
                 dropout: float):
        super().__init__()
        self.encoder = encoder
        # The decoder keeps PyTorch's default (Kaiming-uniform) initialisation. With the paper's
        # N(0, 0.01^2) on both sides of a one-number bottleneck, the code starts near a constant and
        # the decoder's weights near 0, so the gradient reaching the encoder is a product of two
        # tiny factors: training sits at that saddle and the decoder only learns the targets' means.
        self.decoder = attack.fc_stack([1, *decoder_widths, n_targets], dropout,
                                       final_activation=False)

    def forward(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encoder(inputs)
        return code, self.decoder(code[:, None])


def fit(inputs: dict[str, np.ndarray], targets: np.ndarray, features: attack.AttackFeatures,
        n_classes: int, hp: dict, unsup: dict, seed: int):
    """Train the encoder-decoder on the attacker's unlabelled records (no membership anywhere).

    ``inputs`` are the attack model's arrays (deepleak.attack.gather_inputs), ``targets`` the
    decoder targets of the same records; ``hp`` the attack model's widths (config ``attack_model``)
    and ``unsup`` the config's ``unsupervised`` section (its lr, batch size, epochs, encoder
    init_std, decoder widths and loss). Batches are uniform random draws: without labels there are
    no member / non-member halves. With no label to select on, the last epoch is kept. Returns
    (model, standardiser, history).
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    std = attack.Standardiser.fit(inputs, hp["input_scaling"])
    x = std(inputs)
    mean, scale = targets.mean(0), targets.std(0)
    scale = np.where(scale > 1e-12, scale, 1.0)  # a constant target (all correct) stays at 0
    y = torch.as_tensor((targets - mean) / scale, dtype=torch.float32)
    # The encoder's own initialisation scale (the paper's N(0, 0.01^2) by default; see the config).
    encoder = attack.AttackModel(features, attack.input_dims(inputs), n_classes,
                                 {**hp, "init_std": unsup["init_std"]})
    model = EncoderDecoder(encoder, targets.shape[1], list(unsup["decoder_widths"]), hp["dropout"])
    loss_fn = {"mse": nn.functional.mse_loss, "l1": nn.functional.l1_loss}[unsup["decoder_loss"]]
    opt = training.make_optimizer(model, {"optimizer": "adam", "lr": unsup["lr"]})
    n, batch = len(y), unsup["batch_size"]
    history = []
    progress = Progress(log, "unsupervised epoch", unsup["epochs"])
    for epoch in range(1, unsup["epochs"] + 1):
        model.train()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, batch):
            idx = order[start: start + batch]
            opt.zero_grad(set_to_none=True)
            _, recon = model({k: v[idx] for k, v in x.items()})
            loss = loss_fn(recon, y[idx])
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the unsupervised attack's reconstruction loss became {loss.item()} in epoch "
                    f"{epoch}; lower unsupervised.lr in the config.")
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history.append({"epoch": epoch, f"train_{unsup['decoder_loss']}": total / n})
        progress(epoch, **{f"reconstruction {unsup['decoder_loss']}": total / n})
    model.eval()
    return model, std, history


@torch.no_grad()
def encode(model: EncoderDecoder, inputs: dict[str, torch.Tensor], batch_size: int = 1024):
    """The encoder's output (the code) of every record, unbounded, as float64."""
    model.eval()
    n = len(next(iter(inputs.values())))
    out = [model.encoder({k: v[s: s + batch_size] for k, v in inputs.items()})
           for s in range(0, n, batch_size)]
    return torch.cat(out).numpy().astype(np.float64)


def knn_affinity(codes: np.ndarray, n_neighbors: int) -> sparse.csr_matrix:
    """Sparse, symmetric, binary k-nearest-neighbour graph of 1-D codes (at most n (2k + 2) edges).

    In one dimension the k nearest neighbours of a point lie in a window of the sorted codes, so the
    graph is built from windows of the sorted order (argpartition per row), not a tree search.
    Each code is also linked to its successor in sorted order: a pure kNN graph falls apart
    at any gap wider than its neighbourhoods (a few outlying codes become their own component, and
    spectral clustering then splits off that component instead of cutting the bulk), while the chain
    keeps the graph connected and adds at most one edge per code.
    """
    codes = np.asarray(codes, dtype=np.float64).ravel()
    n = len(codes)
    if n < 3:
        raise ValueError(f"spectral clustering needs at least 3 codes, got {n}")
    k = min(int(n_neighbors), n - 1)
    order = np.argsort(codes, kind="stable")
    s = codes[order]
    # For each sorted position i, the k nearest among positions i-k .. i+k: take the window's 2k
    # candidates and keep the k closest (argpartition along rows: no loop over records).
    offsets = np.r_[np.arange(-k, 0), np.arange(1, k + 1)]
    cand = np.arange(n)[:, None] + offsets[None, :]
    valid = (cand >= 0) & (cand < n)
    dist = np.where(valid, np.abs(s[np.clip(cand, 0, n - 1)] - s[:, None]), np.inf)
    nearest = np.argpartition(dist, k - 1, axis=1)[:, :k]
    cols = np.take_along_axis(cand, nearest, axis=1)
    rows = np.repeat(np.arange(n), k)
    rows = np.r_[rows, np.arange(n - 1)]
    cols = np.r_[cols.ravel(), np.arange(1, n)]
    a = sparse.coo_matrix((np.ones(len(rows)), (order[rows], order[cols])), shape=(n, n)).tocsr()
    a = a + a.T
    a.data[:] = 1.0
    return a


def cluster_threshold(codes: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The cut of the sorted codes that best agrees with a two-cluster labelling, and that
    agreement.

    Cuts lie between two distinct neighbouring codes; both orientations are tried. Vectorised with
    cumulative sums.
    """
    order = np.argsort(codes, kind="stable")
    s, lab = codes[order], labels[order].astype(bool)
    n = len(s)
    # Agreement of "left of cut = cluster False, right = cluster True" for cuts after position i.
    left_false = np.cumsum(~lab)[:-1]
    right_true = lab.sum() - np.cumsum(lab)[:-1]
    agree = (left_false + right_true) / n
    agree = np.maximum(agree, 1.0 - agree)  # the other orientation
    agree = np.where(s[1:] > s[:-1], agree, -1.0)  # only between distinct codes
    if (agree < 0).all():
        raise ValueError("all codes are equal: the encoder output carries no information to "
                         "cluster. Check the unsupervised attack's log: a reconstruction loss "
                         "stuck near 1 means the encoder never left its start (raise "
                         "unsupervised.epochs or init_std)")
    i = int(np.argmax(agree))
    return float((s[i] + s[i + 1]) / 2), float(agree[i])


def spectral_clusters(codes: np.ndarray, *, n_neighbors: int, max_points: int, seed: int):
    """Spectral clustering of 1-D codes into two clusters, returned as a threshold on the code.

    At most ``max_points`` codes (a seeded subsample) enter the sparse kNN graph; the clusters found
    on them become the best-agreeing threshold, which labels every code. Returns (threshold, info).
    """
    from sklearn.cluster import SpectralClustering

    codes = np.asarray(codes, dtype=np.float64)
    rng = np.random.default_rng(seed)
    sample = (np.sort(rng.choice(len(codes), size=max_points, replace=False))
              if len(codes) > max_points else np.arange(len(codes)))
    affinity = knn_affinity(codes[sample], n_neighbors)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        labels = SpectralClustering(n_clusters=2, affinity="precomputed", random_state=seed,
                                    assign_labels="cluster_qr").fit_predict(affinity)
    for w in caught:  # e.g. a graph that is not connected: worth seeing in the job's log
        log.warning("spectral clustering: %s", w.message)
    threshold, agreement = cluster_threshold(codes[sample], labels)
    info = {"n_clustered": int(len(sample)), "n_neighbors": int(n_neighbors),
            "graph_edges": int(affinity.nnz // 2), "cluster_sizes": np.bincount(labels).tolist(),
            "threshold": threshold, "threshold_agreement_with_clusters": agreement,
            "warnings": [str(w.message) for w in caught]}
    return threshold, info


def membership_scores(codes: np.ndarray, grad_norm: np.ndarray, threshold: float):
    """Signed scores: positive on the side of the threshold whose records have the smaller mean
    gradient norm (called members, §II-D). Returns (scores, sign, side means)."""
    above = codes > threshold
    mean_above, mean_below = float(grad_norm[above].mean()), float(grad_norm[~above].mean())
    sign = 1.0 if mean_above < mean_below else -1.0
    return sign * (codes - threshold), sign, {"above": mean_above, "below": mean_below}
