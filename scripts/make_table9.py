"""Table IX: membership attacks on a fine-tuned model whose two snapshots the attacker holds, three
tasks per dataset, the paper's values beside ours (rule make_table9)."""
import math
from collections import defaultdict

import pandas as pd
from deepleak import artifacts, finetune, paper, tables

TITLE = "Table IX: attack accuracy on fine-tuned models (both snapshots observed)"
BASELINE = "loss"  # the threshold baseline shown per task (Sablayrolles et al. 2019: the reference)


def main(paths, csv_out, md_out, *, datasets, replicates, data, tasks, confidence):
    """``paths``: dict of lists: ``metrics`` per (dataset, replicate, task), ``finetuned`` (the
    fine-tuned model's meta.json) per (dataset, replicate), ``provenance`` per dataset."""
    results = defaultdict(lambda: defaultdict(list))
    keys = [(d, r, t) for d in datasets for r in replicates for t in tasks]
    for (dataset, _, task), path in zip(keys, paths["metrics"], strict=True):
        results[dataset][task].append(artifacts.load_json(path))
    models = defaultdict(list)
    model_keys = [(d, r) for d in datasets for r in replicates]
    for (dataset, _), path in zip(model_keys, paths["finetuned"], strict=True):
        models[dataset].append(artifacts.load_json(path))
    labels = dict((attack, label) for label, attack in paper.TABLE9_TASKS)
    records, headers = [], {}
    for dataset, provenance_path in zip(datasets, paths["provenance"], strict=True):
        synthetic = artifacts.load_json(provenance_path)["source"] == "synthetic"
        source = "stand-in" if synthetic else "real"
        arch = models[dataset][0]["model_cfg"]["arch"]
        ref = paper.paper_reference(paper.TABLE9_PAPER, data[dataset], arch)
        acc = {k: 100 * sum(m[k] for m in models[dataset]) / len(models[dataset])
               for k in ("train_acc", "test_acc")}
        headers[dataset] = (f"{dataset} ({source}), {arch} model fine-tuned: train accuracy "
                            f"{acc['train_acc']:.1f} % (D and D_Δ), test accuracy "
                            f"{acc['test_acc']:.1f} %"
                            + (f" (paper: {ref[1]} % / {ref[2]} %)" if ref else ""))
        paper_of = {attack: (ref[3 + i] if ref else None)
                    for i, (_, attack) in enumerate(paper.TABLE9_TASKS)}
        rows = [(labels.get(t, t), t, paper_of.get(t)) for t in tasks]
        recs = tables.attack_rows("table9", dataset, source, rows, results[dataset], {}, confidence)
        for task in tasks:
            for snap in finetune.SNAPSHOTS:
                name = f"{BASELINE}@{snap}"
                recs.append({"table": "table9", "dataset": dataset, "source": source,
                             "row": f"Baseline, {labels.get(task, task)}: {BASELINE} threshold on "
                                    f"the {snap} snapshot",
                             "attack": f"baseline_{name}", "task": task,
                             **tables.aggregate(
                                 [m["baselines"][name] for m in results[dataset][task]],
                                 confidence),
                             "paper_accuracy": None, "delta_pp": math.nan})
        for rec in recs:
            rec.update(finetuned_train_acc=acc["train_acc"], finetuned_test_acc=acc["test_acc"],
                       paper_train_acc=ref[1] if ref else None,
                       paper_test_acc=ref[2] if ref else None)
            rec.setdefault("task", rec["attack"])
            records.append(rec)
    df = pd.DataFrame.from_records(records)
    notes = [
        "A model trained on D (60 % of the target training set) is fine-tuned on D_Δ (the other "
        "40 %); the attacker holds both snapshots, and one attack model reads the features of both "
        "(T = 2, SPEC.md 2.4). In each task the first set is called positive (member of it).",
        "Accuracy on a balanced attack test set at the paper's 0.5 threshold; the attack model's "
        "epoch is chosen on a validation split (the paper chose on the test set). "
        + "CIs: " + (f"t-interval over {len(replicates)} replicates." if len(replicates) > 1
                   else "bootstrap over the attack test set."),
        "Baselines: the loss threshold on one snapshot alone, calibrated on the attacker's known "
        "records of the task (all five baselines per snapshot are in each task's metrics.json).",
        "'stand-in' marks a generated offline substitute for the real dataset (see the report).",
    ]
    tables.write(df, csv_out, md_out, tables.to_markdown(df, TITLE, "Paper %", notes, headers))


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    paths = {k: list(snakemake.input[k]) for k in ("metrics", "finetuned", "provenance")}
    main(paths, snakemake.output.csv, snakemake.output.md, **snakemake.params)
