"""The audit's report (rule audit_report): the verdict in plain words, the per-layer leakage table,
every attack's row, the ROC curves, the per-class figure (Figure 2's style: mean last-layer
gradient norm per class, the strongest attack's ROC on three classes) and the per-record risk of
the attack-test members. Where the audit ran LiRA with reference models (rule audit_lira), its
rows, a paragraph beside the verdict, its ROC curves and its per-record score; where it did not,
one line that says why."""
import numpy as np
import pandas as pd
from deepleak import (
    artifacts,
    audit_model,
    calibration,
    features,
    files,
    metrics,
    perclass,
    plots,
    tables,
)

SHOWN_BASELINES = {"loss": "Loss threshold (baseline)",
                   "modified_entropy": "Modified-entropy threshold (baseline)"}
# The calibrated attacks drawn in the ROC figure (all of them are in the table).
LIRA_SHOWN = ("lira_online", "lira_offline", "wb_lira_vector")


def main(features_path, checked_path, scores_path, metrics_path, unsup_scores_path,
         unsup_metrics_path, summary_md, summary_html, layers_csv, records_csv, roc_png,
         per_class_png, verdict_json, *, name, fpr, min_per_class, confidence, lira_skipped,
         train_function, lira_scores_path=None, lira_metrics_path=None, lira_summary_path=None):
    feats, meta = artifacts.load_npz(features_path), artifacts.load_npz_meta(features_path)
    checked = artifacts.load_json(checked_path)
    scores = artifacts.load_npz(scores_path)
    attacks = artifacts.load_json(metrics_path)["attacks"]
    unsup = artifacts.load_json(unsup_metrics_path)["attacks"]["unsupervised"]
    # Supervised attacks in their order (black-box, outputs, gradients, combined), then baselines.
    order = sorted(attacks, key=lambda k: attacks[k]["kind"] != "supervised")
    results = {k: dict(attacks[k]["metrics"]["test"], confidence=confidence) for k in order}
    descriptions = {k: r["description"] for k, r in attacks.items()}
    results["unsupervised"] = dict(unsup["metrics"]["test"], confidence=confidence)
    descriptions["unsupervised"] = "Unsupervised attack (no membership labels)"
    known = tables.known_sizes(attacks["black_box"])
    label = f"the model {checked['model_class']} ({checked['n_parameters']:,} parameters)"
    # The verdict speaks of the supervised threat model (attacks and baselines that use the
    # attacker's known records); the unsupervised attack is in the table beside them.
    supervised = {k: v for k, v in results.items() if k in scores}
    text = audit_model.verdict(supervised, descriptions, fpr=fpr, known=known, model_label=label)
    best = audit_model.strongest(supervised, fpr)
    paper_best = audit_model.strongest({k: v for k, v in supervised.items()
                                        if attacks[k]["kind"] == "supervised"}, fpr)

    # LiRA with reference models: its rows after the paper's attacks, scored on the same records.
    lira_scores, lira = None, {}
    if lira_metrics_path:
        lira_scores = artifacts.load_npz(lira_scores_path)
        if not np.array_equal(lira_scores["records"], scores["records"]):
            raise ValueError(f"{lira_scores_path} and {scores_path} score different records; "
                             f"rerun the audit (snakemake -R audit_validate)")
        done = artifacts.load_json(lira_metrics_path)["attacks"]
        modules = dict(zip(meta["layer_names"], meta["modules"], strict=True))
        for k in (k for k in calibration.attack_names(meta["layer_names"]) if k in done):
            results[k] = dict(done[k]["metrics"]["test"], confidence=confidence)
            descriptions[k] = calibration.describe(k, modules)
            lira[k] = done[k]["details"]["references"]
        summary = artifacts.load_json(lira_summary_path)
        references = {"models": summary["models"], "train_size": summary["train_size"],
                      "pool": summary["pool"], "train_function": train_function,
                      "mean_out_accuracy": float(np.mean(summary["out_accuracy"]))}
        lira_text = audit_model.lira_verdict(results, descriptions, fpr=fpr,
                                             references=references, paper_best=paper_best,
                                             skipped=None)
    else:
        references = None
        lira_text = audit_model.lira_verdict(results, descriptions, fpr=fpr, references={},
                                             paper_best=None,
                                             skipped=lira_skipped or "no LiRA results were given")

    # Per-layer leakage: each layer's output and gradient attack, and its mean gradient norm.
    rows = features.rows_of(feats["records"], scores["records"])
    member = scores["member"].astype(bool)
    norms = {layer: (float(feats[f"grad_norm/{layer}"][rows][member].mean()),
                     float(feats[f"grad_norm/{layer}"][rows][~member].mean()))
             for layer in meta["layer_names"]}
    layer_rows = audit_model.layer_rows(results, meta["layer_names"], meta["modules"], norms, fpr)
    df, cells, headers = tables.audit_layers(layer_rows, fpr)
    with files.atomic_path(layers_csv, ".csv") as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    kinds = {**{k: r["kind"] for k, r in attacks.items()}, "unsupervised": "unsupervised",
             **dict.fromkeys(lira, "calibrated")}
    a_headers, a_cells = tables.audit_attacks_table(results, descriptions, fpr, kinds)
    notes = [f"Layers: the last {len(meta['modules'])} parameterised nn.Linear / nn.Conv2d modules "
             f"in the order the forward pass runs them, {meta['modules']} (audit.layers). A "
             f"layer's output is its module's output as a forward hook sees it.",
             f"Strongest attack at {100 * fpr:g} % FPR: {descriptions[best]}.",
             "Threshold baselines: thresholds chosen on the attacker's known records; AUC and "
             "TPR do not depend on them.",
             f"CIs: {confidence:.0%} bootstrap intervals over the attack-test records."]
    if lira:
        used = lira["lira_online"]
        notes.append(
            f"LiRA (Carlini et al. 2022) and RMIA (Zarifzadeh et al. 2024), not in the paper: "
            f"{references['models']} reference models trained by {train_function}() "
            f"(audit.references), {used['variance']} variance (calibrated.global_variance); "
            f"their attacker knows the training recipe and records from the same data, not which "
            f"test records are members; the verdict above speaks of the paper's supervised "
            f"attacks." + ("" if "rmia_offline" in lira else
                           " RMIA offline was not run: audit.references.population is 0."))
    md, html = tables.audit_page(f"Membership-inference audit: {name}", text, headers, cells,
                                 a_headers, a_cells, notes, calibrated=lira_text)
    for path, content, suffix in ((summary_md, md, ".md"), (summary_html, html, ".html")):
        with files.atomic_path(path, suffix) as tmp:
            tmp.write_text(content)
    artifacts.save_json(verdict_json, {"verdict": text, "strongest": best, "fpr": fpr,
                                       "results": results, "layers": layer_rows,
                                       "lira": lira_text, "references": references})

    # Per-record risk of the attack-test members: the strongest attack's score and rank (1 = the
    # record the attack is surest is a member, among all attack-test records).
    s = scores[best]
    rank = pd.Series(-s).rank(method="min").to_numpy().astype(np.int64)
    threshold = metrics.fpr_threshold(s[~member], fpr)[0]
    risk = pd.DataFrame({
        "record": scores["records"], "class": feats["label"][rows], "loss": feats["loss"][rows],
        "score": s, "rank": rank, f"exposed_at_{fpr:g}_fpr": (s > threshold).astype(int),
        "score_black_box": scores["black_box"], "score_loss_threshold": scores["loss"],
        **({"score_lira_online": lira_scores["lira_online"],
            "score_lira_offline": lira_scores["lira_offline"]} if lira_scores else {}),
    })[member].sort_values("rank", kind="stable")
    with files.atomic_path(records_csv, ".csv") as tmp:
        risk.to_csv(tmp, index=False, float_format="%.6g")

    # ROC curves: the black-box and white-box attacks beside the baselines and the unsupervised one.
    unsup_scores = artifacts.load_npz(unsup_scores_path)
    curves = {}
    for key in dict.fromkeys(["black_box", best, "gradients_all", "outputs_all",
                              "gradients_all_outputs_all"]):
        curves[descriptions[key]] = _curve(scores[key], member)
    curves[descriptions["unsupervised"]] = _curve(unsup_scores["score"], unsup_scores["member"])
    curves.update({lab: _curve(scores[b], member) for b, lab in SHOWN_BASELINES.items()})
    # LiRA beside them, dashed: calibrated per record by reference models, another threat model.
    styles = {}
    for key in (LIRA_SHOWN if lira_scores else ()):
        curves[descriptions[key]] = _curve(lira_scores[key], lira_scores["member"])
        styles[descriptions[key]] = {"ls": "--"}
    plots.save(plots.roc_figure(curves, f"{name}: membership-inference attacks on the attack-test "
                                        f"records", highlight=descriptions[best],
                                  styles=styles), roc_png)

    # Figure 2's style: the last layer's mean gradient norm per class; the strongest attack's ROC
    # on the classes with the smallest, median and largest member / non-member gap.
    last = meta["layer_names"][-1]
    labels = feats["label"][rows]
    stats = perclass.class_means(feats[f"grad_norm/{last}"][rows].astype(np.float64), labels,
                                 member, meta["n_classes"])
    chosen = perclass.gap_classes(stats, min_per_class)
    rocs = {size: (cls, float(stats["gap"][cls]), perclass.class_roc(s, member, labels, cls))
            for size, cls in chosen.items()}
    fig = plots.figure2({name: {"stats": stats, "rocs": rocs, "attack": descriptions[best]}},
                        {name: f"{name}, last layer {meta['modules'][-1]}"})
    plots.save(fig, per_class_png)


def _curve(scores, member):
    fpr, tpr = metrics.roc(scores, member)
    return fpr, tpr, metrics.auc(scores, member)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.features, snakemake.input.checked, snakemake.input.scores,
         snakemake.input.metrics, snakemake.input.unsup_scores, snakemake.input.unsup_metrics,
         snakemake.output.summary_md, snakemake.output.summary_html, snakemake.output.layers,
         snakemake.output.records, snakemake.output.roc, snakemake.output.per_class,
         snakemake.output.verdict, **snakemake.params,
         lira_scores_path=snakemake.input.get("lira_scores"),
         lira_metrics_path=snakemake.input.get("lira_metrics"),
         lira_summary_path=snakemake.input.get("lira_summary"))
