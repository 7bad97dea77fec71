"""The calibrated attacks' table (rule make_table_calibrated; declared in deepleak/paper.py
calibrated_table): each calibrated attack beside the paper's black-box and white-box (gradients)
attacks and the loss threshold, on the same attack-test records."""
from collections import defaultdict

import pandas as pd
from deepleak import artifacts, calibration, files, metrics, paper, tables


def main(metrics_paths, target_paths, provenance_paths, risk_paths, scores_paths, csv_out, md_out,
         whitebox_out, *, entries, datasets, replicates, settings, references, paper_attacks,
         n_bootstrap, confidence, seed):
    """``scores_paths``: per dataset and replicate, the calibrated attacks' scores.npz, then each of
    ``paper_attacks``' scores.npz."""
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
    # The per-record risk of each target (rule record_risk) and the white-box comparison, under
    # the table.
    keys = [(d, r) for d in datasets for r in replicates]
    risk = tables.risk_markdown([(f"{dataset}, {rep}", artifacts.load_json(path))
                                 for (dataset, rep), path in zip(keys, risk_paths, strict=True)])
    # Did the white-box signals help, once calibrated? Paired differences on the same records.
    pairs = calibration.whitebox_comparisons(layers[-1])
    labels = {**{n: first[n][0]["description"] for n in calibrated},
              **{r.name: r.label for r in table.rows}}
    per_key = len(paper_attacks) + 1
    rows = []
    for i, dataset in enumerate(datasets):
        reps, members = [], []
        for j in range(len(replicates)):
            paths = scores_paths[(i * len(replicates) + j) * per_key:][:per_key]
            cal = artifacts.load_npz(paths[0])
            scores = {k: v for k, v in cal.items() if k not in ("records", "member")}
            for name, path in zip(paper_attacks, paths[1:], strict=True):
                scores[name] = metrics.scores_on(artifacts.load_npz(path), cal["records"])
            reps.append(scores)
            members.append(cal["member"])
        for row in calibration.compare(pairs, reps, members, n_bootstrap=n_bootstrap, seed=seed,
                                       confidence=confidence, fprs=metrics.FPR_POINTS):
            rows.append({"dataset": dataset, "white_box": labels[row["a"]],
                         "black_box": labels[row["b"]], **row})
    whitebox = pd.DataFrame(rows)
    with files.atomic_path(whitebox_out, ".csv") as tmp:
        whitebox.to_csv(tmp, index=False, float_format="%.4f")
    tables.render(records, table, {"ci": tables.ci_note(len(replicates)), "references": note},
                  headers, csv_out, md_out,
                  after=risk + tables.whitebox_markdown(rows, confidence))


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.metrics, snakemake.input.target, snakemake.input.provenance,
         snakemake.input.risk, snakemake.input.scores, snakemake.output.csv, snakemake.output.md,
         snakemake.output.whitebox, **snakemake.params)
