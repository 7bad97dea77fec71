"""Tables III, IV, V, VI and VIII of the stand-alone scenario (rule make_standalone_table)."""
from collections import defaultdict

import pandas as pd

from deepleak import artifacts, paper, tables

TITLES = {
    "table3": "Table III: attack accuracy using the outputs of individual activation layers",
    "table4": "Table IV: attack accuracy using the gradients of individual layers",
    "table5": "Table V: attack accuracy for combinations of gradients and outputs",
    "table6": "Table VI: attack accuracy for different sizes of the attacker's training data",
    "table8": "Table VIII: attack accuracy of the stand-alone setting, black-box vs white-box",
}


def table_rows(table, dataset, known_sizes, ref=None):
    """(label, attack, paper accuracy) of each row; Table VIII's paper values are per dataset and
    architecture (``ref``: its paper.TABLE8_PAPER row, or None)."""
    if table == "table8":
        return [(label, attack, ref[3 + i] if ref else None)
                for i, (label, attack) in enumerate(paper.TABLE8_COLUMNS)]
    if table == "table6":
        rows = []
        for i, (n_m, n_n) in enumerate(known_sizes):
            ref = paper.TABLE6_PAPER[i] if i < len(paper.TABLE6_PAPER) else None
            label = f"{n_m} known members, {n_n} known non-members"
            if ref:
                label += f" (paper: {ref[0]} / {ref[1]})"
            rows.append((label, paper.knowledge_attack(i), ref[2] if ref else None))
        return rows
    return [(r.label, r.attack, r.paper) for r in paper.STANDALONE_TABLES[table]]


def main(metrics_paths, baseline_paths, target_paths, provenance_paths, csv_out, md_out, *, table, entries,
         datasets, replicates, knowledge_fractions, confidence):
    attacks = defaultdict(lambda: defaultdict(list))
    known_sizes = defaultdict(list)
    for (dataset, _, attack), path in zip(entries, metrics_paths):
        m = artifacts.load_json(path)
        attacks[dataset][attack].append(m)
        if m["attack"].startswith(paper.KNOWLEDGE_VARIANT + "-known") and len(
                known_sizes[dataset]) < len(knowledge_fractions):
            known_sizes[dataset].append((m["n_train"]["members"] + m["n_validation"]["members"],
                                         m["n_train"]["nonmembers"] + m["n_validation"]["nonmembers"]))
    per_dataset = {d: [(d, r) for r in replicates] for d in datasets}
    flat = [k for d in datasets for k in per_dataset[d]]
    baselines = defaultdict(lambda: defaultdict(list))
    targets = defaultdict(list)
    for (dataset, _), b_path, t_path in zip(flat, baseline_paths, target_paths):
        for name, result in artifacts.load_json(b_path)["baselines"].items():
            baselines[dataset][name].append(result)
        targets[dataset].append(artifacts.load_json(t_path))
    provenance = {d: artifacts.load_json(p) for d, p in zip(datasets, provenance_paths)}

    records, headers = [], {}
    for dataset in datasets:
        source = "stand-in" if provenance[dataset]["source"] == "synthetic" else "real"
        train_acc = 100 * sum(t["train_acc"] for t in targets[dataset]) / len(targets[dataset])
        test_acc = 100 * sum(t["test_acc"] for t in targets[dataset]) / len(targets[dataset])
        arch = targets[dataset][0]["model_cfg"]["arch"]
        # An entry reads its own data or the one `data:` names (cifar100_alexnet reads cifar100).
        ref = paper.paper_reference(paper.TABLE8_PAPER, provenance[dataset].get("data", dataset),
                                    arch)
        headers[dataset] = (f"{dataset} ({source}), {arch} target model: train accuracy "
                            f"{train_acc:.1f} %, test accuracy {test_acc:.1f} %"
                            + (f" (paper: {ref[1]} % / {ref[2]} %)" if ref else ""))
        rows = table_rows(table, dataset, known_sizes[dataset], ref)
        for rec in tables.attack_rows(table, dataset, source, rows, attacks[dataset],
                                      baselines[dataset], confidence):
            rec.update(target_train_acc=train_acc, target_test_acc=test_acc,
                       paper_train_acc=ref[1] if ref else None, paper_test_acc=ref[2] if ref else None)
            records.append(rec)
    df = pd.DataFrame.from_records(records)
    paper_label = "Paper %" if table == "table8" else "Paper % (CIFAR100-AlexNet)"
    notes = [
        "Accuracy on a balanced attack test set at the paper's 0.5 threshold; the attack model's "
        "epoch is chosen on a validation split (the paper chose on the test set).",
        f"CIs: {'t-interval over ' + str(len(replicates)) + ' replicates' if len(replicates) > 1 else 'bootstrap over the attack test set'}.",
        "Threshold baselines are calibrated on the shadow model (correctness needs no threshold).",
        "'stand-in' marks a generated offline substitute for the real dataset (see the report).",
    ]
    tables.write(df, csv_out, md_out, tables.to_markdown(df, TITLES[table], paper_label, notes, headers))


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.metrics, snakemake.input.baselines, snakemake.input.target,
         snakemake.input.provenance, snakemake.output.csv, snakemake.output.md,
         table=snakemake.wildcards.table, **snakemake.params)
