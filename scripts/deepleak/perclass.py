"""Per-class views of membership leakage: Figures 2 and 6 of the paper.

Figure 2 compares, class by class, the mean last-layer gradient norm of members and non-members, and
shows the attack's ROC on three classes whose member / non-member gap is small, medium and large
(the paper: 174, 860 and 1,788 on CIFAR100-AlexNet). Figure 6 does the same with the prediction
uncertainty, the normalised entropy of the softmax of the logits, -(1/log K) sum_i p_i log p_i (Eq.
5, whose minus sign the paper drops). The paper does not say how its three classes were chosen;
here they are the classes with the smallest, the median and the largest gap among those with enough
test records.
"""

from __future__ import annotations

import numpy as np

from deepleak import metrics

# A class needs this many members and non-members in the attack test set for its mean and its ROC to
# mean anything (CIFAR-100 at the paper's sizes has ~50 of each per class); config
# standalone.per_class_min_records.
MIN_PER_CLASS = 10


def class_means(values: np.ndarray, labels: np.ndarray, member: np.ndarray, n_classes: int):
    """Mean of ``values`` per class for members and non-members, and their counts, [n_classes]."""
    member = member.astype(bool)
    out = {}
    for name, mask in (("member", member), ("nonmember", ~member)):
        counts = np.bincount(labels[mask], minlength=n_classes)
        sums = np.bincount(labels[mask], weights=values[mask], minlength=n_classes)
        out[f"{name}_mean"] = np.divide(
            sums, counts, out=np.full(n_classes, np.nan), where=counts > 0
        )
        out[f"{name}_count"] = counts
    out["gap"] = out["nonmember_mean"] - out["member_mean"]
    return out


def gap_classes(stats: dict, min_per_class: int = MIN_PER_CLASS) -> dict[str, int]:
    """The classes with the smallest, the median and the largest gap among those with enough
    records."""
    ok = np.flatnonzero(
        (stats["member_count"] >= min_per_class)
        & (stats["nonmember_count"] >= min_per_class)
        & np.isfinite(stats["gap"])
    )
    if len(ok) == 0:
        raise ValueError(
            f"no class has {min_per_class} members and non-members in the attack test set; raise "
            "attack_test_members / attack_test_nonmembers or lower "
            "standalone.per_class_min_records in the config"
        )
    order = ok[np.argsort(stats["gap"][ok], kind="stable")]
    return {"small": int(order[0]), "medium": int(order[len(order) // 2]), "large": int(order[-1])}


def class_roc(scores: np.ndarray, member: np.ndarray, labels: np.ndarray, cls: int):
    """ROC (fpr, tpr) and AUC of the attack on the test records of one class."""
    mask = labels == cls
    fpr, tpr = metrics.roc(scores[mask], member[mask])
    return fpr, tpr, metrics.auc(scores[mask], member[mask])
