"""Tables X, XII and XIII of the federated scenario (rule make_federated_table; the tables are
declared in deepleak/paper.py)."""
from collections import defaultdict
from dataclasses import replace

import numpy as np
from deepleak import artifacts, federated_runs, paper, tables
from deepleak.baselines import TRACE_BASELINES


def _acc_auc(name):
    def cell(r):
        return (f"{tables.fmt(r[f'baseline_{name}_accuracy'], 1)} / "
                f"{tables.fmt(r[f'baseline_{name}_auc'], 3)}")
    return cell


# Beside every row: the global model's test accuracy (an active attack must not be judged without
# it), the size of the test set, the central attacker's AUC on each party (the row's AUC pools
# them), and the threshold baselines of the same attacker on the same snapshots and test records.
EXTRA = (("Global model test acc. %", lambda r: tables.fmt(r["global_test_acc"], 1)),
         ("Test records (m + n)", lambda r: int(r["n_test"])),
         ("AUC per party (central)", lambda r: r["auc_per_party"] or "–"),
         ("Loss threshold, last observed round: acc. % / AUC", _acc_auc("loss_last")),
         ("Loss-trace threshold (mean over observed rounds): acc. % / AUC", _acc_auc("loss_mean")))
BASELINE_NOTE = (
    "Baselines beside each row, for the same attacker, snapshots and test records: the loss "
    "threshold on the last observed round's model, and on the loss averaged over the observed "
    "rounds (the loss trace; deepleak/baselines.py says why the mean), each threshold calibrated "
    "on that attacker's known records (its attack-training and validation records). Central "
    "attacker: one threshold per party, the parties' test sets pooled as for the attack; AUC per "
    "party: its per-party attacks (parties 0, 1, ...; on the target records, party 0 alone).")


def _mean(values):
    return float(np.mean(values))


def baseline_columns(key, test, runs):
    """The row's trace baselines (accuracy %, AUC; mean over replicates) and the central attacker's
    per-party AUCs, from the records ``key/baseline:<name>`` and ``key/party<k>``."""
    out = {}
    for b in TRACE_BASELINES:
        found = [m["attacks"][f"{key}/baseline:{b}"]["metrics"][test] for m in runs]
        out[f"baseline_{b}_accuracy"] = 100 * _mean([f["accuracy"] for f in found])
        out[f"baseline_{b}_auc"] = _mean([f["auc"] for f in found])
    parties = runs[0]["attacks"][key]["details"].get("parties_attacked", [])
    per_party = [[m["attacks"][f"{key}/party{k}"]["metrics"][test]["auc"] for m in runs]
                 for k in parties if test in runs[0]["attacks"][f"{key}/party{k}"]["metrics"]]
    out["auc_per_party"] = " / ".join(f"{_mean(a):.3f}" for a in per_party)
    return out


def rows_of(table, dataset, source, runs, run, confidence, *, observed, epoch_sets,
            rounds, parties, party_sweep):
    """One record per row: a row's attack is "<run>:<observer>", read at Table X's observed epochs
    (Table XII: at each of its epoch sets) from every replicate's metrics.json of the run;
    ``run`` (deepleak.paper.Run) picks the paper's values and says whether they compare."""
    paper_values = table.values(run.data, run.arch) or {}
    rows = paper.table13_rows(parties, party_sweep) if table.key == "table13" else table.rows
    epochs = epoch_sets if table.key == "table12" else [observed] * len(rows)
    out = []
    for r, e in zip(rows, epochs, strict=True):
        name, observer = r.attack.split(":")
        key = f"{observer}:{federated_runs.epochs_label(e)}"
        context = [m["context"] for m in runs[name]]
        out.append(tables.row(
            table.key, dataset, source,
            r.label.format(epochs=", ".join(map(str, e)), rounds=rounds),
            [m["attacks"][key]["metrics"][r.test] for m in runs[name]],
            paper_values.get(r.name), confidence, not_comparable=table.not_comparable(run, r),
            global_test_acc=100 * float(np.mean([c["global_test_acc"] for c in context])),
            target_party_test_acc=100 * float(np.mean([c["target_party_test_acc"]
                                                       for c in context])),
            gamma=context[0]["gamma"], **baseline_columns(key, r.test, runs[name])))
    return out


def main(metrics_paths, provenance_paths, csv_out, md_out, *, table, datasets, replicates, parties,
         party_sweep, rounds, observed_epochs, epoch_sets, references, settings, confidence):
    """``references``: the data set and architecture of each dataset entry; ``settings``: what
    each ran, to compare with the paper (deepleak.paper.run_setting)."""
    t = paper.FEDERATED_TABLES[table]
    t = replace(t, notes=(*t.notes, BASELINE_NOTE))
    runs = defaultdict(lambda: defaultdict(list))  # dataset -> run -> per-replicate metrics
    for path in metrics_paths:
        m = artifacts.load_json(path)
        runs[m["context"]["dataset"]][m["context"]["run"]].append(m)
    records, headers = [], {}
    for dataset, prov in zip(datasets, provenance_paths, strict=True):
        provenance = artifacts.load_json(prov)
        source = tables.source_label(provenance)
        passive = runs[dataset]["passive"][0]["context"]
        parties_note = "" if table == "table13" else f"{passive['parties']} parties, "
        headers[dataset] = (f"{dataset} ({source}), {parties_note}{rounds[dataset]} rounds, "
                            f"observed rounds {', '.join(map(str, observed_epochs[dataset]))}")
        run = tables.run_of(provenance, *references[dataset], settings[dataset])
        records += rows_of(t, dataset, source, runs[dataset], run, confidence,
                           observed=observed_epochs[dataset], epoch_sets=epoch_sets[dataset],
                           rounds=rounds[dataset],
                           parties=parties, party_sweep=party_sweep)
    gamma = next((r["gamma"] for r in records if r["gamma"] is not None), None)
    tables.render(records, t, {"ci": tables.ci_note(len(replicates)), "gamma": gamma}, headers,
                  csv_out, md_out, EXTRA)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.metrics, snakemake.input.provenance, snakemake.output.csv,
         snakemake.output.md, table=snakemake.wildcards.table, **snakemake.params)
