"""Tables X, XII and XIII of the federated scenario (rule make_federated_table)."""
from collections import defaultdict

import numpy as np
import pandas as pd
from deepleak import artifacts, federated, paper, tables

TITLES = {
    "table10": "Table X: membership inference in federated learning, central (global) and local "
               "attackers, passive and active",
    "table12": "Table XII: the passive central attacker as the observed epochs change",
    "table13": "Table XIII: the passive local attacker as the number of parties changes",
}


def row(table, dataset, source, label, results, paper_value, runs_meta, confidence):
    """One table row from the per-replicate metrics of one attack on one test set."""
    rec = {"table": table, "dataset": dataset, "source": source, "row": label,
           **tables.aggregate(results, confidence), "paper_accuracy": paper_value,
           "global_test_acc": 100 * float(np.mean([m["global_test_acc"] for m in runs_meta])),
           "target_party_test_acc": 100 * float(np.mean([m["target_party_test_acc"]
                                                         for m in runs_meta])),
           "gamma": runs_meta[0]["gamma"]}
    rec["delta_pp"] = rec["accuracy"] - paper_value if paper_value is not None else float("nan")
    return rec


def table10_rows(dataset, source, runs, observed, reference, confidence):
    ref = paper.paper_reference(paper.TABLE10_PAPER, *reference)
    out = []
    for i, (label, run, observer, test) in enumerate(paper.TABLE10_COLUMNS):
        key = f"{observer}:{federated.epochs_label(observed)}"
        results = [m["attacks"][key][test] for m in runs[run]]
        out.append(row("table10", dataset, source, label, results, ref[i] if ref else None,
                       runs[run], confidence))
    # The fair reference for the active rows: the passive attacks on the same target records.
    for label, observer in paper.TABLE10_PASSIVE_ON_TARGETS:
        key = f"{observer}:{federated.epochs_label(observed)}"
        out.append(row("table10", dataset, source, label,
                       [m["attacks"][key]["targets"] for m in runs["passive"]], None,
                       runs["passive"], confidence))
    return out


def table12_rows(dataset, source, runs, epoch_sets, rounds, confidence):
    out = []
    for (paper_epochs, paper_value), epochs in zip(paper.TABLE12_PAPER, epoch_sets, strict=True):
        key = f"central:{federated.epochs_label(epochs)}"
        label = (f"Rounds {', '.join(map(str, epochs))} of {rounds} (paper: epochs "
                 f"{', '.join(map(str, paper_epochs))} of {paper.TABLE12_PAPER_ROUNDS})")
        out.append(row("table12", dataset, source, label,
                       [m["attacks"][key]["test"] for m in runs["passive"]], paper_value,
                       runs["passive"], confidence))
    return out


def table13_rows(dataset, source, runs, parties, party_sweep, observed, confidence):
    out = []
    for n in sorted(party_sweep):
        run = "passive" if n == parties else f"parties{n}"
        key = f"local:{federated.epochs_label(observed)}"
        out.append(row("table13", dataset, source, f"{n} parties", [m["attacks"][key]["test"]
                                                                    for m in runs[run]],
                       paper.TABLE13_PAPER.get(n), runs[run], confidence))
    return out


def main(metrics_paths, provenance_paths, csv_out, md_out, *, table, datasets, replicates, parties,
         party_sweep, rounds, observed_epochs, epoch_sets, references, confidence):
    runs = defaultdict(lambda: defaultdict(list))  # dataset -> run -> per-replicate metrics
    for path in metrics_paths:
        m = artifacts.load_json(path)
        runs[m["dataset"]][m["run"]].append(m)
    records, headers = [], {}
    for dataset, prov in zip(datasets, provenance_paths, strict=True):
        source = "stand-in" if artifacts.load_json(prov)["source"] == "synthetic" else "real"
        passive = runs[dataset]["passive"][0]
        parties_note = "" if table == "table13" else f"{passive['parties']} parties, "
        headers[dataset] = (f"{dataset} ({source}), {parties_note}{rounds[dataset]} rounds, "
                            f"observed rounds {', '.join(map(str, observed_epochs[dataset]))}")
        if table == "table10":
            records += table10_rows(dataset, source, runs[dataset], observed_epochs[dataset],
                                    references[dataset], confidence)
        elif table == "table12":
            records += table12_rows(dataset, source, runs[dataset], epoch_sets[dataset],
                                    rounds[dataset], confidence)
        else:
            records += table13_rows(dataset, source, runs[dataset], parties, party_sweep,
                                    observed_epochs[dataset], confidence)
    df = pd.DataFrame.from_records(records)
    gamma = next((r["gamma"] for r in records if r["gamma"] is not None), None)
    notes = [
        "Accuracy on a balanced attack test set at the paper's 0.5 threshold; the attack model "
        "(one per attacked party, T observed rounds through shared components concatenated before "
        "the encoder, SPEC.md 2.4) is selected on a validation split (the paper selected on the "
        "test set).",
        "Central attacker: one attack per party on its uploads; its test sets are pooled, so the "
        "accuracy is the average over parties. Local attacker: the last party, on the global "
        "models, against the union of the other parties' data.",
        "CIs: " + (f"t-interval over {len(replicates)} replicates." if len(replicates) > 1
                   else "bootstrap over the attack test set."),
        "The global model's test accuracy is that of the final round's FedAvg model of the same "
        "run (isolating runs: the model the other parties share).",
        "'stand-in' marks a generated offline substitute for the real dataset (see the report).",
    ]
    if table == "table10":
        notes += [
            f"Active attacks are scored on their target records (100 members, 100 non-members; "
            f"SPEC.md 1.4; bootstrap CIs are wide, about +/-7 pp); gradient-ascent rate gamma = "
            f"{gamma}.",
            "Paper values: Purchase100 / Texas100 FC models, 4 parties, epochs 40-100 of 100.",
        ]
        paper_label = "Paper %"
    else:
        paper_label = "Paper % (CIFAR100-AlexNet)"
    tables.write(df, csv_out, md_out,
                 federated.table_markdown(df, TITLES[table], notes, headers, paper_label))


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.metrics, snakemake.input.provenance, snakemake.output.csv,
         snakemake.output.md, table=snakemake.wildcards.table, **snakemake.params)
