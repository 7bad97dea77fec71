"""Table DP (beyond the paper): the paper's attacks against DP-SGD targets, one row per privacy
level and attack, with the accountant's epsilon, the target's test accuracy, each attack's AUC and
TPR at 1 % FPR with CIs, and the empirical epsilon lower bound of the audit (deepleak/audit.py)
beside the accountant's. Torch-free (a table job); the rendering helpers are deepleak/tables.py's.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from deepleak import audit, calibration, tables, variants

TPR_FPR = 0.01  # the low-FPR point the table and figure show
LOSS_BASELINE = "baseline_loss"


def attack_label(attack: str) -> str:
    """An attack's name in the table: the variant's description, or the baseline's."""
    if attack == LOSS_BASELINE:
        return "Loss threshold (Yeom et al. 2018)"
    if attack in variants.VARIANTS:
        return variants.VARIANTS[attack].description
    return calibration.describe(attack)  # a calibrated attack of dp.calibrated_attacks


def level_label(level: str) -> str:
    if level == audit.CLIP_ONLY:
        return "clip-only (no noise)"
    if level == audit.NON_PRIVATE:
        return "non-private"
    return f"ε = {audit.level_epsilon(level):g}"


def row(dataset: str, level: str, attack: str, *, metas: list[dict], records: list[dict],
        scores: dict, audit_seed: int, delta: float, confidence: float) -> dict:
    """One row: the level's targets (``metas``, one meta.json per replicate), the attack's
    metrics records (one per replicate) and the first replicate's scores (the audit)."""
    privacy = [m.get("privacy") for m in metas]
    eps = [p["epsilon"] if p else None for p in privacy]
    out = {"dataset": dataset, "level": level, "privacy": level_label(level), "attack": attack,
           "row": attack_label(attack),
           "target_epsilon": audit.level_epsilon(level),
           # None (written empty) for clip-only and non-private: no finite guarantee.
           "accountant_epsilon": (float(np.mean(eps)) if None not in eps else math.inf),
           "accountant": privacy[0]["accountant"] if privacy[0] else None,
           "noise_multiplier": privacy[0]["noise_multiplier"] if privacy[0] else 0.0,
           "test_acc": tables.mean_accuracy(metas, "test_acc"),
           "train_acc": tables.mean_accuracy(metas, "train_acc")}
    out.update(tables.aggregate([r["metrics"]["test"] for r in records], confidence))
    s = audit.attack_scores(scores, attack)
    a = audit.audit(s, scores["member"], seed=audit_seed, delta=delta, confidence=confidence)
    out.update({f"audit_{k}": v for k, v in a.items() if k not in ("tpr_ci", "fpr_ci")})
    return out


TITLE = "Table DP: the paper's attacks against DP-SGD targets (beyond the paper)"


def markdown(df: pd.DataFrame, *, dataset_headers: dict[str, str], notes: list[str]) -> str:
    """The table's Markdown, laid out by deepleak/tables.py (dp_markdown) as every table."""
    return tables.dp_markdown(df, title=TITLE, tpr_fpr=TPR_FPR, dataset_headers=dataset_headers,
                              notes=notes)


def notes(*, accountant: str, delta: float, confidence: float, n_replicates: int,
          max_grad_norm: float, references: dict | None = None) -> list[str]:
    """The table's notes; ``references``: {"dp": reference models per DP target,
    "non_private": per non-private target} where the table has calibrated rows (LiRA)."""
    name = {"rdp": "Opacus's RDP accountant (Mironov 2017; Renyi DP of the sampled Gaussian "
                   "mechanism)",
            "prv": "Opacus's PRV accountant (Gopi et al. 2021)"}.get(accountant, accountant)
    return [
        f"Accountant ε: {name}, at δ = {delta:g}, after the steps taken; DP-SGD with Poisson "
        f"sampling, per-example clipping at L2 norm {max_grad_norm:g} and the noise Opacus's "
        "make_private_with_epsilon picks for the target ε. Clip-only: the same clipping without "
        "noise (no finite ε); non-private: the stand-alone target of Tables III-VIII. Opacus's "
        "secure_mode is off (seeded noise, for reproducibility).",
        "Attacks: the paper's supervised attack model (§III-E) on each target's features, trained "
        "on the attacker's known records of the stand-alone splits with the stand-alone attacks' "
        "seeds; the loss threshold beside them (its accuracy threshold calibrated on the "
        "non-private shadow model; AUC, TPR and the audit do not use it). "
        + tables.ci_note(n_replicates),
        *([f"Calibrated attacks (LiRA, Carlini et al. 2022): on each DP target against "
           f"{references['dp']} reference models trained by that target's own DP-SGD recipe (its "
           "noise multiplier, clipping norm, sample rate and epochs; each on half of the "
           "calibrated stage's reference pool, every attack-test record IN for half of them); on "
           f"the non-private target against the calibrated stage's {references['non_private']} "
           "(Table calibrated). With few references the variance is pooled over records "
           "(calibrated.global_variance)."] if references else []),
        "Empirical ε (Jagielski et al. 2020; Nasr et al. 2021): the attack's threshold chosen on a "
        "seeded half of the attack-test records, its TPR and FPR counted on the other half and "
        f"bounded by Clopper-Pearson intervals ({100 * confidence:g} % together); lower bound "
        "max(log((TPR_lo - δ) / FPR_hi), log((1 - FPR_hi - δ) / (1 - TPR_lo))), the interval's "
        "upper end from the opposite ends of both intervals, the point from the rates themselves "
        "(∞ where no non-member of the evaluation half passes the threshold)"
        + ("; the first replicate's." if n_replicates > 1 else ".")
        + " It audits membership of the natural records, one model, not inserted canaries: a "
        "lower bound on this run's leakage, not a worst-case audit.",
        "max. resolvable: the lower bound a perfect attack would reach on the evaluation half "
        "(every member above the threshold, no non-member): about ln(non-members). No audit of "
        "this size can show a larger ε.",
    ]
