"""Table VII: the unsupervised attack beside the shadow-model attack, per dataset, with the
supervised white-box attack of Table VIII and the threshold baselines for reference (rule
make_table7)."""
from collections import defaultdict

import pandas as pd
from deepleak import artifacts, paper, tables

TITLE = "Table VII: unsupervised attack vs shadow-model attack (white-box)"
SUPERVISED = paper.TABLE8_COLUMNS[-1]  # ("White-box (gradients)", "gradients_1")


def main(paths, csv_out, md_out, *, datasets, replicates, data, confidence):
    """``paths``: dict of lists, one entry per (dataset, replicate) in ``datasets`` x ``replicates``
    order: unsupervised, shadow_model, supervised (metrics.json), baselines, target (meta.json)."""
    keys = [(d, r) for d in datasets for r in replicates]
    attacks = defaultdict(lambda: defaultdict(list))
    base = defaultdict(lambda: defaultdict(list))
    targets = defaultdict(list)
    for i, (dataset, _) in enumerate(keys):
        for name in ("unsupervised", "shadow_model"):
            attacks[dataset][name].append(artifacts.load_json(paths[name][i]))
        attacks[dataset][SUPERVISED[1]].append(artifacts.load_json(paths["supervised"][i]))
        for name, result in artifacts.load_json(paths["baselines"][i])["baselines"].items():
            base[dataset][name].append(result)
        targets[dataset].append(artifacts.load_json(paths["target"][i]))
    records, headers = [], {}
    for dataset, provenance_path in zip(datasets, paths["provenance"], strict=True):
        synthetic = artifacts.load_json(provenance_path)["source"] == "synthetic"
        source = "stand-in" if synthetic else "real"
        arch = targets[dataset][0]["model_cfg"]["arch"]
        ref = paper.paper_reference(paper.TABLE7_PAPER, data[dataset], arch)
        ref8 = paper.paper_reference(paper.TABLE8_PAPER, data[dataset], arch)
        train_acc = 100 * sum(t["train_acc"] for t in targets[dataset]) / len(targets[dataset])
        test_acc = 100 * sum(t["test_acc"] for t in targets[dataset]) / len(targets[dataset])
        headers[dataset] = (f"{dataset} ({source}), {arch} target model: train accuracy "
                            f"{train_acc:.1f} %, test accuracy {test_acc:.1f} %"
                            + (f" (paper: {ref8[1]} % / {ref8[2]} %)" if ref8 else ""))
        rows = [(label, attack, ref[1 + i] if ref else None)
                for i, (label, attack) in enumerate(paper.TABLE7_COLUMNS)]
        rows.append((f"Reference: supervised, known members (Table VIII {SUPERVISED[0]})",
                     SUPERVISED[1], ref8[5] if ref8 else None))
        for rec in tables.attack_rows("table7", dataset, source, rows, attacks[dataset],
                                      base[dataset], confidence):
            rec.update(target_train_acc=train_acc, target_test_acc=test_acc)
            records.append(rec)
    df = pd.DataFrame.from_records(records)
    notes = [
        "Unsupervised: the attack network as an encoder-decoder trained on the attacker's records "
        "without their membership; the test records' codes are split in two by spectral clustering "
        "and the cluster with the smaller mean last-layer gradient norm is called members. "
        "Accuracy is that clustering's; AUC and TPRs rank the records by their code, signed "
        "towards the member cluster.",
        "Shadow models: the same white-box attack model trained on one shadow model's members and "
        "non-members (disjoint from the target's data), applied to the target's attack test set.",
        "Accuracy on the balanced attack test set of the stand-alone scenario (Table VIII's). "
        + "CIs: " + (f"t-interval over {len(replicates)} replicates." if len(replicates) > 1
                   else "bootstrap over the attack test set."),
        "Threshold baselines are calibrated on the shadow model, the knowledge of the shadow-model "
        "attack (correctness needs no threshold).",
        "'stand-in' marks a generated offline substitute for the real dataset (see the report).",
    ]
    tables.write(df, csv_out, md_out, tables.to_markdown(df, TITLE, "Paper %", notes, headers))


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    paths = {k: list(snakemake.input[k]) for k in ("unsupervised", "shadow_model", "supervised",
                                                   "baselines", "target", "provenance")}
    main(paths, snakemake.output.csv, snakemake.output.md, **snakemake.params)
