"""Calibrated membership inference with reference models: LiRA (Carlini et al. 2022, "Membership
Inference Attacks From First Principles") and RMIA (Zarifzadeh et al. 2024, "Low-Cost High-Power
Membership Inference Attacks"), on the paper's black-box signal and on its white-box signals.

Not in Nasr et al. 2019: its attacks read one model's features through one attack model trained on
known members. Later work showed that a membership score must be calibrated per example (a record
that every model fits is no evidence of membership) and judged at low false-positive rates. Both
attacks here compare the target's statistic of a record with the same statistic of reference models
trained with and without that record (same architecture, same recipe, half of a reference pool each:
``reference_pool`` and ``reference_mask``).

The statistics of one model on one record (``STATISTICS``, computed by ``model_statistics``):

- ``logit_confidence``: LiRA's logit-scaled confidence phi = log(p_y / (1 - p_y)) of the true class
  (Carlini et al. §IV-C), computed from the logits as z_y - logsumexp_{j != y} z_j, which is exact
  and stays finite as p_y -> 1 (``logit_confidence``);
- ``loss``: the cross-entropy -log p_y (the paper's loss feature, §II-A);
- ``grad_norm/<layer>``: ||dL/dW|| of each layer (the paper's gradient feature reduced to its norm,
  Figs 3, 4), from the factored per-example gradients (deepleak/gradients.py), used as its log.

Attacks (``lira``, ``rmia_offline``); every score is higher for "more likely a member":

- LiRA online (Carlini et al., Algorithm 1): a Gaussian fitted to the IN references' statistics of
  the record and one to the OUT references', per example; the score is the log-likelihood ratio
  log N(t; mu_in, sigma_in^2) - log N(t; mu_out, sigma_out^2) of the target's statistic t.
- LiRA offline (Carlini et al. §IV-D): only OUT references; the one-sided test
  Lambda = Pr[Z < t], Z ~ N(mu_out, sigma_out^2). Its score here is the z-score (t - mu_out) /
  sigma_out (signed towards membership), a monotone function of Lambda that does not round to 1.0
  in float64 (Lambda does above z ~ 8, which would tie the most exposed records).
- Global variance (Carlini et al. §IV-D / §VI-A, for few references): sigma^2 pooled over every
  record (each around its own mean) instead of per example.
- White-box LiRA: the same test on a white-box statistic, and on the vector of statistics with a
  per-example multivariate Gaussian when there are at least 5 d OUT references for d statistics
  (``FULL_COVARIANCE_PER_DIM``), else a diagonal one. Offline, the vector's score is the
  Stouffer sum of its coordinates' signed z-scores over sqrt(d).
- RMIA offline (Zarifzadeh et al. §3): the pairwise likelihood ratio LR(x, z) = [Pr(x | theta) /
  Pr(x)] / [Pr(z | theta) / Pr(z)] against population records z that no model trained on, Pr(.)
  the reference models' average of the true-class probability, and the score
  Pr_z[LR(x, z) >= gamma], the fraction of z that x dominates. Offline (OUT references only),
  Pr(x) is approximated from the OUT average as ((1 + a) Pr_OUT(x) + (1 - a)) / 2, the paper's
  linear approximation of the IN models' average with its parameter a.

numpy only: nothing here imports torch at module level, nor knows about Snakemake.
"""
from __future__ import annotations

import math

import numpy as np

# The statistics a model's records are summarised by, and the direction in which each points to
# membership (+1: higher for members; the loss and the gradient norms are lower for members).
BLACK_BOX_STATISTIC = "logit_confidence"
DIRECTION = {"logit_confidence": 1.0, "loss": -1.0, "grad_norm": -1.0}
# A per-example d x d covariance is estimated when at least 5 d references are available (else a
# diagonal one): below that the sample covariance is too noisy to invert.
FULL_COVARIANCE_PER_DIM = 5
# LiRA's variance estimate, per example or pooled (Carlini et al.: pooled is better below about 64
# references): "auto" pools below this many references.
GLOBAL_VARIANCE_BELOW = 64


class CalibrationError(ValueError):
    """The reference pool or mask cannot be built from the configured sizes."""


# --------------------------------------------------------------------------------------------------
# Statistics of one model's outputs
# --------------------------------------------------------------------------------------------------
def logit_confidence(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """phi = log(p_y / (1 - p_y)) of the softmax of each row (Carlini et al. §IV-C), as
    z_y - logsumexp_{j != y} z_j in float64: the same number without forming p_y, so it stays
    finite (and exact) where p_y rounds to 1."""
    z = np.asarray(logits, dtype=np.float64)
    rows = np.arange(len(z))
    labels = np.asarray(labels, dtype=np.int64)
    z_y = z[rows, labels]
    others = z.copy()
    others[rows, labels] = -np.inf
    m = others.max(axis=1)
    lse = m + np.log(np.exp(others - m[:, None]).sum(axis=1))
    return z_y - lse


def loss_from_logits(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Cross-entropy -log p_y in float64, = log1p(exp(-phi)) computed stably."""
    phi = logit_confidence(logits, labels)
    return np.logaddexp(0.0, -phi)


def probability(phi: np.ndarray) -> np.ndarray:
    """p_y = sigmoid(phi) from the logit-scaled confidence: RMIA's Pr(x | theta)."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(phi, dtype=np.float64)))


def model_statistics(net, X, y, *, device: str = "cpu", batch_size: int = 1024,
                     chunk_size: int = 64, max_output_features: int | None = None
                     ) -> dict[str, np.ndarray]:
    """Per-record statistics of one model: ``logit_confidence``, ``loss`` and ``grad_norm/<layer>``
    for every layer (factored gradients for linear layers, deepleak/gradients.py; conv layers'
    norms from their unfolded gradients), float64 [n] each. ``max_output_features`` bounds the
    layer outputs read on the way (features.extract; a large model's conv outputs would otherwise
    be held for every record, and none of them is a statistic)."""
    from deepleak import features

    f = features.extract(net, X, y, gradient_layers=len(net.layer_names), batch_size=batch_size,
                         chunk_size=chunk_size, device=device,
                         max_output_features=max_output_features)
    out = {"logit_confidence": logit_confidence(f["logits"], f["label"]),
           "loss": loss_from_logits(f["logits"], f["label"])}
    out.update({k: f[k].astype(np.float64) for k in f if k.startswith("grad_norm/")})
    return out


def statistic_names(layer_names: list[str]) -> list[str]:
    return ["logit_confidence", "loss", *(f"grad_norm/{n}" for n in layer_names)]


def gaussian_form(name: str, values: np.ndarray) -> np.ndarray:
    """A statistic on the scale its Gaussian is fitted on: the logit-scaled confidence as it is, the
    loss as it is, a gradient norm as its log (positive and skewed, as the confidence is before
    LiRA's logit scaling)."""
    values = np.asarray(values, dtype=np.float64)
    if name.startswith("grad_norm/"):
        return np.log(np.maximum(values, 1e-300))
    return values


def direction(name: str) -> float:
    return DIRECTION[name.split("/")[0]]


# --------------------------------------------------------------------------------------------------
# The reference pool and the IN/OUT mask
# --------------------------------------------------------------------------------------------------
def reference_pool(sets: dict[str, np.ndarray], n_records: int, train_size: int,
                   population: int, seed: int, key: str = "calibrated"
                   ) -> dict[str, np.ndarray]:
    """The records of the reference models, drawn from records the splits already hold (so no
    existing split or number moves):

    - ``pool``: the attack-test members and non-members, then records the target never saw (the
      shadow model's sets, then records no split holds) up to ``2 * train_size``, so that each
      reference model trains, as the target, on ``train_size`` records (half of the pool);
    - ``population``: up to ``population`` further records the target never saw, outside the pool,
      for RMIA's z (no reference model trains on them).

    Returns {"pool", "test", "population"} (``test``: the attack-test records, in the pool)."""
    test = np.concatenate([sets["attack_test_members"], sets["attack_test_nonmembers"]])
    used = np.concatenate([sets[k] for k in ("members", "target_test", "shadow_members",
                                             "shadow_nonmembers")])
    outside = np.setdiff1d(np.arange(n_records), used)
    rng = np.random.default_rng(seed)
    # Records the target never saw and that are not attack-test records: the attacker's own.
    own = np.concatenate([rng.permutation(np.concatenate([sets["shadow_members"],
                                                          sets["shadow_nonmembers"]])),
                          rng.permutation(outside)])
    # the plan's check (common.smk), on the records themselves
    error = pool_error(len(test), train_size, len(own), population, key)
    if error:
        raise CalibrationError(error)
    return draw_pool(test, own, own, train_size, population, key)


def draw_pool(test: np.ndarray, extra: np.ndarray, unseen: np.ndarray, train_size: int,
              population: int, key: str) -> dict[str, np.ndarray]:
    """The pool: the ``test`` records, then the first of ``extra`` (records besides them, in a
    seeded order) up to ``2 * train_size``; RMIA's population: the first ``population`` of
    ``unseen`` (records the target never saw, in a seeded order) outside the pool. ``key``: the
    config section the sizes come from, named by the errors. Returns {"pool", "test",
    "population"}, sorted."""
    size = 2 * train_size
    if len(test) > size:
        raise CalibrationError(
            f"{key}: the {len(test)} attack-test records exceed the reference pool of 2 x "
            f"{train_size} (each reference model trains on half of it, as many records as the "
            f"target); lower the attack-test sizes")
    need = size - len(test)
    if need > len(extra):
        raise CalibrationError(
            f"{key}: the reference pool needs {need} records besides the {len(test)} attack-test "
            f"records, but only {len(extra)} are available; lower the training size of the "
            f"reference models or the attack-test sizes, or give more records")
    pool = np.sort(np.concatenate([test, extra[:need]])).astype(np.int64)
    candidates = np.asarray(unseen)[~np.isin(unseen, pool)]
    if population > len(candidates):
        raise CalibrationError(
            f"{key}: the reference pool needs {need} records besides the attack-test records and "
            f"RMIA's population {population}, but only {len(candidates)} records the target never "
            f"saw are left outside the pool; lower {key}.population or the sizes")
    return {"pool": pool, "test": np.sort(test).astype(np.int64),
            "population": np.sort(candidates[:population]).astype(np.int64)}


def pool_error(n_test: int, train_size: int, n_own: int, population: int,
               key: str = "calibrated") -> str | None:
    """Why :func:`reference_pool` cannot draw its pool, or None: ``n_test`` attack-test records,
    a ``train_size``-record target, ``n_own`` records the target never saw (shadow sets and unused
    records). The plan checks this from the config's sizes before any job runs."""
    if n_test > 2 * train_size:
        return (f"{key}: the {n_test} attack-test records exceed the reference pool of 2 x "
                f"{train_size} (each reference model trains on half of it, as many records as the "
                f"target); lower the attack-test sizes")
    need = 2 * train_size - n_test
    if need + population > n_own:
        return (f"{key}: the reference pool needs {need} records besides the {n_test} attack-test "
                f"records and RMIA's population {population}, but only {n_own} records are outside "
                f"the target's sets (shadow sets and unused records); lower {key}.population or "
                f"the sizes")
    return None


def reference_mask(n_pool: int, n_models: int, seed: int) -> np.ndarray:
    """[n_models, n_pool] bool: model k trains on the pool records where row k is True.

    Balanced (the LiRA design): models come in pairs, model 2j on a random half of the pool and
    model 2j + 1 on the other half, so each model trains on exactly half of the pool and every
    record is IN for exactly half of the models and OUT for the other half."""
    if n_models < 2 or n_models % 2:
        raise CalibrationError(f"calibrated.references is {n_models}; give an even number >= 2 "
                               f"(every record IN for half of the models)")
    if n_pool % 2:
        raise CalibrationError(f"the reference pool has {n_pool} records; it must be even")
    rng = np.random.default_rng(seed)
    mask = np.zeros((n_models, n_pool), dtype=bool)
    for j in range(n_models // 2):
        half = rng.permutation(n_pool)[: n_pool // 2]
        mask[2 * j, half] = True
        mask[2 * j + 1] = ~mask[2 * j]
    return mask


# --------------------------------------------------------------------------------------------------
# LiRA
# --------------------------------------------------------------------------------------------------
def _moments(stats: np.ndarray, weight: np.ndarray, global_variance: bool, full: bool):
    """Per-record mean [n, d] and covariance [n, d, d] (full) or variance [n, d] (diagonal) of
    ``stats`` [N, n, d] over the references where ``weight`` [N, n] is 1; pooled over every record
    (each about its own mean) with ``global_variance``."""
    w = weight[..., None].astype(np.float64)
    count = w.sum(0)  # [n, 1]
    if (count < 2).any():
        raise CalibrationError("every record needs at least two IN and two OUT references")
    mean = (stats * w).sum(0) / count
    resid = (stats - mean[None]) * np.sqrt(w)
    if full:
        cov = np.einsum("kni,knj->nij", resid, resid)
        if global_variance:
            cov = np.broadcast_to(cov.sum(0) / (count.sum() - len(count)), cov.shape).copy()
        else:
            cov /= (count - 1)[..., None]
        d = cov.shape[-1]
        scale = np.trace(cov, axis1=1, axis2=2)[:, None, None] / d
        return mean, cov + np.eye(d)[None] * (1e-6 * scale + 1e-12)
    var = (resid ** 2).sum(0)
    var = (np.broadcast_to(var.sum(0) / (count.sum() - len(count)), var.shape).copy()
           if global_variance else var / (count - 1))
    return mean, var + 1e-6 * var.mean(0) + 1e-12


def _log_gaussian(t: np.ndarray, mean: np.ndarray, spread: np.ndarray, full: bool) -> np.ndarray:
    """log N(t; mean, spread) per record; ``spread`` a covariance [n, d, d] or variances [n, d]."""
    diff = t - mean
    d = t.shape[1]
    if full:
        chol = np.linalg.cholesky(spread)
        sol = np.linalg.solve(chol, diff[..., None])[..., 0]
        logdet = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(1)
        return -0.5 * ((sol ** 2).sum(1) + logdet + d * math.log(2 * math.pi))
    return -0.5 * ((diff ** 2 / spread) + np.log(2 * math.pi * spread)).sum(1)


def lira(target: np.ndarray, references: np.ndarray, member_mask: np.ndarray, *,
         online: bool = True, global_variance: bool = False,
         directions: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """LiRA's score of each record (Carlini et al., Algorithm 1; offline: §IV-D).

    ``target``: [n] or [n, d] statistics of the target model; ``references``: [N, n] or [N, n, d]
    the same statistics of N reference models; ``member_mask``: [N, n] bool, reference k trained on
    record i. Online: the per-example Gaussian log-likelihood ratio IN vs OUT. Offline: the OUT
    references only, the z-score of the target's statistic signed by ``directions`` ([d] of +1 / -1,
    the direction of membership; default +1), summed over d statistics / sqrt(d) (Stouffer).
    A d-vector gets a full per-example covariance where each record has at least
    ``FULL_COVARIANCE_PER_DIM`` x d references on every side used, else a diagonal one.
    Returns (scores [n], {"covariance": "full" | "diagonal" | "scalar", "variance": ...})."""
    t = np.asarray(target, dtype=np.float64)
    s = np.asarray(references, dtype=np.float64)
    scalar = t.ndim == 1
    if scalar:
        t, s = t[:, None], s[..., None]
    mask = np.asarray(member_mask, dtype=bool)
    d = t.shape[1]
    sides = [~mask] if not online else [mask, ~mask]
    fewest = min(int(m.sum(0).min()) for m in sides)
    full = d > 1 and fewest >= FULL_COVARIANCE_PER_DIM * d
    info = {"covariance": "scalar" if scalar else ("full" if full else "diagonal"),
            "variance": "global" if global_variance else "per example",
            "references_per_side": fewest}
    if online:
        mean_in, spread_in = _moments(s, mask, global_variance, full)
        mean_out, spread_out = _moments(s, ~mask, global_variance, full)
        return (_log_gaussian(t, mean_in, spread_in, full)
                - _log_gaussian(t, mean_out, spread_out, full)), info
    mean_out, var_out = _moments(s, ~mask, global_variance, False)
    sign = np.ones(d) if directions is None else np.asarray(directions, dtype=np.float64)
    z = sign * (t - mean_out) / np.sqrt(var_out)
    info["covariance"] = "scalar" if scalar else "diagonal (Stouffer)"
    return z.sum(1) / math.sqrt(d), info


def use_global_variance(setting, n_references: int) -> bool:
    """The config's ``global_variance`` (true, false or auto: pooled below
    ``GLOBAL_VARIANCE_BELOW`` references)."""
    if setting == "auto":
        return n_references < GLOBAL_VARIANCE_BELOW
    return bool(setting)


# --------------------------------------------------------------------------------------------------
# RMIA
# --------------------------------------------------------------------------------------------------
def rmia_offline(target_x: np.ndarray, references_x: np.ndarray, member_mask: np.ndarray,
                 target_z: np.ndarray, references_z: np.ndarray, *, a: float, gamma: float
                 ) -> np.ndarray:
    """RMIA's offline score (Zarifzadeh et al. §3): Pr_z[LR(x, z) >= gamma], LR(x, z) =
    [Pr(x | theta) / Pr(x)] / [Pr(z | theta) / Pr(z)].

    ``target_x`` [n], ``references_x`` [N, n]: the true-class probability of the records under the
    target and the reference models; ``member_mask`` [N, n] (only the OUT references are used);
    ``target_z`` [m], ``references_z`` [N, m]: the same on the population records (no reference
    trained on them). Pr(.) = ((1 + a) Pr_OUT(.) + (1 - a)) / 2, the paper's offline
    approximation. Returns scores in [0, 1]: the fraction of z that x dominates."""
    if not 0 < a <= 1:
        raise CalibrationError(f"calibrated.rmia.a is {a}; it lies in (0, 1]")
    out = ~np.asarray(member_mask, dtype=bool)
    px_out = (np.asarray(references_x, dtype=np.float64) * out).sum(0) / out.sum(0)
    pz_out = np.asarray(references_z, dtype=np.float64).mean(0)
    scale = lambda p: ((1 + a) * p + (1 - a)) / 2  # noqa: E731
    ratio_x = np.asarray(target_x, dtype=np.float64) / scale(px_out)
    ratio_z = np.sort(np.asarray(target_z, dtype=np.float64) / scale(pz_out))
    # LR(x, z) >= gamma  <=>  ratio_z <= ratio_x / gamma: count by one sorted search.
    return np.searchsorted(ratio_z, ratio_x / gamma, side="right") / len(ratio_z)


# --------------------------------------------------------------------------------------------------
# The attacks of a profile, on the statistics files
# --------------------------------------------------------------------------------------------------
def attack_names(layer_names: list[str]) -> list[str]:
    """Every calibrated attack, in table order: black-box LiRA and RMIA, then white-box LiRA."""
    return ["lira_online", "lira_offline", "rmia_offline", "wb_lira_loss",
            *(f"wb_lira_grad_norm_{n}" for n in layer_names), "wb_lira_vector",
            "wb_lira_vector_offline"]


def describe(name: str, layer_labels: dict[str, str] | None = None) -> str:
    """A row label in the words of the papers; ``layer_labels`` names layers as the reader knows
    them (an audit: the user's module names, which the layer names spell with underscores)."""
    fixed = {
        "lira_online": "LiRA online (logit-scaled confidence)",
        "lira_offline": "LiRA offline (logit-scaled confidence)",
        "rmia_offline": "RMIA offline (true-class probability)",
        "wb_lira_loss": "White-box LiRA online: loss",
        "wb_lira_vector": "White-box LiRA online: vector (logit-scaled confidence, every layer's "
                          "log gradient norm)",
        "wb_lira_vector_offline": "White-box LiRA offline: vector (Stouffer of signed z-scores)",
    }
    if name in fixed:
        return fixed[name]
    if name.startswith("wb_lira_grad_norm_"):
        layer = name[len("wb_lira_grad_norm_"):]
        layer = (layer_labels or {}).get(layer, layer)
        return f"White-box LiRA online: log gradient norm of {layer}"
    raise KeyError(name)


def _stack(stats: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    """The named statistics on their Gaussian scale, stacked on a last axis."""
    return np.stack([gaussian_form(n, stats[n]) for n in names], axis=-1)


def run_attacks(target: dict[str, np.ndarray], references: dict[str, np.ndarray],
                member_mask: np.ndarray, layer_names: list[str], *, test_rows: np.ndarray,
                population_rows: np.ndarray, global_variance: bool, a: float, gamma: float
                ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """Every calibrated attack's scores on the test records.

    ``target``: {statistic: [n]} of the target model; ``references``: {statistic: [N, n]}; both
    over the same records, of which ``test_rows`` are the attack-test records (``member_mask``
    [N, len(test_rows)] says which references trained on them) and ``population_rows`` RMIA's z.
    Without population rows there is no RMIA. Returns ({attack: scores}, {attack: what it
    used})."""
    tr, pr = np.asarray(test_rows), np.asarray(population_rows, dtype=np.int64)
    t = {k: v[tr] for k, v in target.items()}
    r = {k: v[:, tr] for k, v in references.items()}
    phi = BLACK_BOX_STATISTIC
    scores, info = {}, {}
    scores["lira_online"], info["lira_online"] = lira(
        t[phi], r[phi], member_mask, online=True, global_variance=global_variance)
    scores["lira_offline"], info["lira_offline"] = lira(
        t[phi], r[phi], member_mask, online=False, global_variance=global_variance)
    p = probability
    # RMIA compares x with population records; with none (an audit whose data holds no record
    # outside the membership and the pool, audit.references.population 0) it is not run.
    if len(pr):
        scores["rmia_offline"] = rmia_offline(p(t[phi]), p(r[phi]), member_mask,
                                              p(target[phi][pr]), p(references[phi][:, pr]),
                                              a=a, gamma=gamma)
        info["rmia_offline"] = {"a": a, "gamma": gamma, "population": int(len(pr))}
    singles = {"wb_lira_loss": "loss",
               **{f"wb_lira_grad_norm_{n}": f"grad_norm/{n}" for n in layer_names}}
    for attack, stat in singles.items():
        scores[attack], info[attack] = lira(
            gaussian_form(stat, t[stat]), gaussian_form(stat, r[stat]), member_mask, online=True,
            global_variance=global_variance)
        info[attack]["statistics"] = [stat]
    vector = [phi, *(f"grad_norm/{n}" for n in layer_names)]
    signs = np.array([direction(n) for n in vector])
    for attack, online in (("wb_lira_vector", True), ("wb_lira_vector_offline", False)):
        scores[attack], info[attack] = lira(_stack(t, vector), _stack(r, vector), member_mask,
                                            online=online, global_variance=global_variance,
                                            directions=signs)
        info[attack]["statistics"] = vector
    for attack in ("lira_online", "lira_offline"):
        info[attack]["statistics"] = [phi]
    return scores, info


# The decision threshold behind each attack's accuracy column: a log-likelihood ratio of 0 (equal
# likelihood), a z-score of 0 (the OUT mean), RMIA's x dominating half of the population.
def threshold(name: str) -> float:
    return 0.0 if name.startswith(("lira", "wb_lira")) else 0.5


# --------------------------------------------------------------------------------------------------
# Per-record risk
# --------------------------------------------------------------------------------------------------
def exposure(scores: np.ndarray, member: np.ndarray, fpr: float) -> tuple[np.ndarray, float]:
    """Which records an attack calls members at its threshold for ``fpr`` on these records (the
    rule of the TPR at that FPR, deepleak.metrics.fpr_threshold), and that threshold. Only members
    can be exposed: a non-member above it is a false positive."""
    from deepleak import metrics

    scores = np.asarray(scores, dtype=np.float64)
    member = np.asarray(member).astype(bool)
    thr = float(metrics.fpr_threshold(scores[~member], fpr)[0])
    return (scores > thr) & member, thr


def rank(scores: np.ndarray) -> np.ndarray:
    """1 for the highest score (the most exposed record), ties sharing their best rank."""
    scores = np.asarray(scores, dtype=np.float64)
    order = np.sort(scores)[::-1]
    return np.searchsorted(-order, -scores, side="left") + 1


# --------------------------------------------------------------------------------------------------
# Did the white-box signals help? Paired differences at low FPR
# --------------------------------------------------------------------------------------------------
def whitebox_comparisons(last_layer: str) -> list[tuple[str, str]]:
    """(white-box, black-box) pairs of attacks whose difference answers the question of §I of the
    paper (do the parameters leak more than the outputs?) once both sides are calibrated, and, for
    reference, the paper's own uncalibrated answer (Table VIII)."""
    return [("wb_lira_vector", "lira_online"), (f"wb_lira_grad_norm_{last_layer}", "lira_online"),
            ("wb_lira_loss", "lira_online"), ("wb_lira_vector_offline", "lira_offline"),
            ("gradients_1", "black_box")]


def verdict(ci) -> str:
    """helped / hurt / no detectable difference, from the CI of (white-box - black-box)."""
    if ci is None or any(v is None or math.isnan(v) for v in ci):
        return "not measurable"
    lo, hi = ci
    return "helped" if lo > 0 else "hurt" if hi < 0 else "no detectable difference"


def compare(pairs: list[tuple[str, str]], replicates: list[dict[str, np.ndarray]],
            members: list[np.ndarray], *, n_bootstrap: int, seed: int, confidence: float,
            fprs: tuple[float, ...]) -> list[dict]:
    """The difference (a - b) in AUC and in TPR at each of ``fprs`` of each pair, each side's scores
    on the same records (``replicates[r][name]``, ``members[r]``): a paired bootstrap with one
    replicate (deepleak.metrics.paired_difference), else the t-interval over replicates of the
    per-replicate differences (deepleak.metrics.replicate_difference)."""
    from deepleak import metrics

    out = []
    for a, b in pairs:
        per_rep = [metrics.paired_difference(s[a], s[b], m, n_bootstrap=n_bootstrap, seed=seed,
                                             confidence=confidence, fprs=fprs,
                                             threshold_a=threshold(a), threshold_b=threshold(b))
                   for s, m in zip(replicates, members, strict=True)]
        row = {"a": a, "b": b, "method": per_rep[0]["method"], "replicates": len(per_rep)}
        for key in ("auc", *map(metrics.tpr_key, fprs)):
            values = [d[key] for d in per_rep]
            if len(per_rep) == 1 or None in values:
                row[key], row[f"{key}_ci"] = values[0], per_rep[0].get(f"{key}_ci")
            else:
                d = metrics.replicate_difference(values, [0.0] * len(values), confidence)
                row[key], row[f"{key}_ci"], row["method"] = d["difference"], d["ci"], d["method"]
            row[f"{key}_verdict"] = verdict(row[f"{key}_ci"])
        out.append(row)
    return out
