"""ROC curves, linear and log-log, of every attack on one dataset, each beside the loss and modified
entropy threshold baselines (rule roc_plots). Titles and legends name each attack in the paper's
words (its description in deepleak/variants.py), never by its code name."""
from deepleak import artifacts, metrics, plots, variants

BASELINES_SHOWN = {"loss": "Loss threshold (baseline)",
                   "modified_entropy": "Modified-entropy threshold (baseline)"}


def curve(scores, member):
    fpr, tpr = metrics.roc(scores, member)
    return fpr, tpr, metrics.auc(scores, member)


def attack_label(attack: str, knowledge_fractions) -> str:
    """The attack in the paper's words; a Table VI run also says how much the attacker knew."""
    variant, known = variants.variant_of(attack)
    if known is None:
        return variant.description
    members, nonmembers = knowledge_fractions[known]
    return (f"{variant.description}, with {members:.0%} of the attacker's known members and "
            f"{nonmembers:.0%} of its known non-members (Table VI)")


def main(score_paths, baseline_path, provenance_path, pngs, *, dataset, attacks,
         knowledge_fractions):
    base = artifacts.load_npz(baseline_path)
    source = "stand-in" if artifacts.load_json(provenance_path)["source"] == "synthetic" else "real"
    reference = {label: curve(base[b], base["member"]) for b, label in BASELINES_SHOWN.items()}
    for attack, path, png in zip(attacks, score_paths, pngs, strict=True):
        s = artifacts.load_npz(path)
        label = attack_label(attack, knowledge_fractions)
        curves = {label: curve(s["score"], s["member"]), **reference}
        plots.save(plots.roc_figure(curves, f"{dataset} ({source}): {label}", highlight=label), png)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.scores, snakemake.input.baselines, snakemake.input.provenance,
         snakemake.output.png, dataset=snakemake.wildcards.dataset,
         **snakemake.params)
