"""The calibrated attacks' table (rule make_table_calibrated; declared in deepleak/paper.py
calibrated_table): each calibrated attack beside the paper's black-box and white-box (gradients)
attacks and the loss threshold, on the same attack-test records."""
from collections import defaultdict

from deepleak import artifacts, calibration, paper, tables


def main(metrics_paths, target_paths, provenance_paths, risk_paths, csv_out, md_out, *, entries,
         datasets, replicates, settings, references, confidence):
    collected = tables.collect(metrics_paths, entries)
    # The loss threshold alone of the baselines (the calibrated attacks' reference).
    for attacks in collected.values():
        for name in [n for n, r in attacks.items() if r[0]["kind"] == "threshold" and n != "loss"]:
            del attacks[name]
    first = collected[datasets[0]]
    # In the order deepleak/calibration.py declares them (the layers: the vector's statistics).
    vector = first["wb_lira_vector"][0]["details"]["references"]["statistics"]
    layers = [s.split("/", 1)[1] for s in vector if s.startswith("grad_norm/")]
    calibrated = calibration.attack_names(layers)
    table = paper.calibrated_table(calibrated, {n: first[n][0]["description"] for n in calibrated})
    targets = defaultdict(list)
    for dataset, path in zip([d for d in datasets for _ in replicates], target_paths, strict=True):
        targets[dataset].append(artifacts.load_json(path))
    provenance = {d: artifacts.load_json(p) for d, p in zip(datasets, provenance_paths,
                                                             strict=True)}
    records, headers = tables.standalone(
        table, collected, targets, provenance,
        {d: p.get("data", d) for d, p in provenance.items()}, settings, confidence,
        paper_columns=False)
    used = first[calibrated[0]][0]["details"]["references"]
    note = (f"{references} reference models per target ({used['variance']} variance; "
            f"each record IN for half of them, OUT for the other half; the vector's "
            f"covariance: {first['wb_lira_vector'][0]['details']['references']['covariance']}).")
    tables.render(records, table, {"ci": tables.ci_note(len(replicates)), "references": note},
                  headers, csv_out, md_out)
    # The per-record risk of each target (rule record_risk), under the table.
    keys = [(d, r) for d in datasets for r in replicates]
    lines = ["", "# Per-record risk (attack-test records; results/<dataset>/standalone/<rep>/risk/)"]
    for (dataset, rep), path in zip(keys, risk_paths, strict=True):
        risk = artifacts.load_json(path)
        any_ = risk["exposed_by_any"]["fraction_of_members"]
        lines += ["", f"## {dataset}, {rep}", "",
                  f"Members exposed at {100 * risk['fpr']:g} % FPR by at least one attack: "
                  f"{100 * any_:.1f} % of {risk['n_members']:,}; by each: "
                  + ", ".join(f"{name} {100 * e['fraction_of_members']:.1f} %"
                              for name, e in risk["exposed"].items()) + ".", "",
                  "The ten most exposed records (LiRA online):", "",
                  "| Record | Member | Class | Target loss | LiRA online score | Rank |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['record']} | {'yes' if r['member'] else 'no'} | {r['label']} | "
                  f"{r['target_loss']:.3g} | {r['score:lira_online']:.3g} | "
                  f"{r['rank:lira_online']} |" for r in risk["most_exposed"]]
    with open(md_out, "a") as md:
        md.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.metrics, snakemake.input.target, snakemake.input.provenance,
         snakemake.input.risk, snakemake.output.csv, snakemake.output.md, **snakemake.params)
