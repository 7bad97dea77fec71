"""Table IX: membership attacks on a fine-tuned model whose two snapshots the attacker holds, three
tasks per dataset, the paper's values beside ours (rule make_table9; the table is declared in
deepleak/paper.py)."""
from collections import defaultdict

from deepleak import artifacts, finetune, paper, tables

T = paper.TABLE9


def main(metrics_paths, finetuned_paths, provenance_paths, csv_out, md_out, *, datasets,
         replicates, data, tasks, settings, confidence):
    """``metrics_paths`` per (dataset, replicate, task: every row of Table IX),
    ``finetuned_paths`` (the fine-tuned model's meta.json) per (dataset, replicate),
    ``provenance_paths`` per dataset; ``settings``: what each dataset ran, to compare with the
    paper (deepleak.paper.run_setting)."""
    results = tables.collect(metrics_paths, [(d, t) for d in datasets for _ in replicates
                                             for t in tasks])
    models = defaultdict(list)
    for dataset, path in zip([d for d in datasets for _ in replicates], finetuned_paths,
                             strict=True):
        models[dataset].append(artifacts.load_json(path))
    records, headers = [], {}
    for dataset, provenance_path in zip(datasets, provenance_paths, strict=True):
        provenance = artifacts.load_json(provenance_path)
        source = tables.source_label(provenance)
        arch = models[dataset][0]["model_cfg"]["arch"]
        model = T.values(data[dataset], arch)
        acc = {k: tables.mean_accuracy(models[dataset], k) for k in ("train_acc", "test_acc")}
        headers[dataset] = (f"{dataset} ({source}), {arch} model fine-tuned: train accuracy "
                            f"{acc['train_acc']:.1f} % (D and D_Δ), test accuracy "
                            f"{acc['test_acc']:.1f} %"
                            + (f" (paper: {model['train_acc']} % / {model['test_acc']} %)"
                               if model else ""))
        tasks_of = {r.attack: results[(dataset, r.attack)][r.attack] for r in T.rows}
        run = tables.run_of(provenance, data[dataset], arch, settings[dataset])
        recs = tables.attack_rows(T, dataset, source, tasks_of, run, confidence)
        # The loss threshold on each snapshot alone, per task.
        recs += [{**tables.row(T.key, dataset, source,
                               f"Baseline, {r.label}: {paper.TABLE9_BASELINE} threshold on the "
                               f"{snap} snapshot",
                               [m["metrics"]["test"] for m in results[(dataset, r.attack)][
                                   f"{paper.TABLE9_BASELINE}@{snap}"]], None, confidence,
                               attack=f"baseline_{paper.TABLE9_BASELINE}@{snap}"), "task": r.attack}
                 for r in T.rows for snap in finetune.SNAPSHOTS]
        for rec in recs:
            rec.update(finetuned_train_acc=acc["train_acc"], finetuned_test_acc=acc["test_acc"],
                       paper_train_acc=model["train_acc"] if model else None,
                       paper_test_acc=model["test_acc"] if model else None)
            rec.setdefault("task", rec["attack"])
            records.append(rec)
    tables.render(records, T, {"ci": tables.ci_note(len(replicates))}, headers, csv_out, md_out)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.metrics, snakemake.input.finetuned, snakemake.input.provenance,
         snakemake.output.csv, snakemake.output.md, **snakemake.params)
