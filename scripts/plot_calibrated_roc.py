"""ROC curves, linear and log-log, of every calibrated attack beside the paper's black-box and
white-box (gradients) attacks and the loss threshold, on one target (rule calibrated_roc)."""
from deepleak import artifacts, calibration, metrics, paper, plots


def curve(scores, member):
    fpr, tpr = metrics.roc(scores, member)
    return fpr, tpr, metrics.auc(scores, member)


def main(calibrated_scores, calibrated_metrics, paper_paths, baselines_path, provenance_path,
         png, pdf, *, dataset, paper_attacks):
    s, records = artifacts.load_npz(calibrated_scores), artifacts.load_json(calibrated_metrics)
    source = "stand-in" if artifacts.load_json(provenance_path)["source"] == "synthetic" else "real"
    attacks = records["attacks"]
    vector = attacks["wb_lira_vector"]["details"]["references"]["statistics"]
    layers = [v.split("/", 1)[1] for v in vector if v.startswith("grad_norm/")]
    curves = {attacks[name]["description"]: curve(s[name], s["member"])
              for name in calibration.attack_names(layers)}
    for name, path in zip(paper_attacks, paper_paths, strict=True):
        p = artifacts.load_npz(path)
        curves[f"Paper: {paper.TABLE8.row(name).label}"] = curve(p["score"], p["member"])
    base = artifacts.load_npz(baselines_path)
    curves["Loss threshold (baseline)"] = curve(base["loss"], base["member"])
    # Colours repeat after ten curves: the paper's attacks and the baseline dashed, in black and
    # grey, the white-box LiRA rows dotted.
    styles = {f"Paper: {paper.TABLE8.row(paper_attacks[0]).label}": {"ls": "--", "color": "0.0"},
              "Loss threshold (baseline)": {"ls": "--", "color": "0.55"},
              **{label: {"ls": ":"} for label in curves if label.startswith("White-box LiRA")}}
    if len(paper_attacks) > 1:
        styles[f"Paper: {paper.TABLE8.row(paper_attacks[1]).label}"] = {"ls": "-.", "color": "0.0"}
    fig = plots.roc_figure(curves, f"{dataset} ({source}): calibrated attacks (LiRA, RMIA) beside "
                                   f"the paper's attacks",
                           highlight=attacks["lira_online"]["description"], styles=styles)
    plots.save(fig, png, pdf)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.scores, snakemake.input.metrics, snakemake.input.paper,
         snakemake.input.baselines, snakemake.input.provenance, snakemake.output.png,
         snakemake.output.pdf, dataset=snakemake.wildcards.dataset, **snakemake.params)
