"""The claims table (rule make_claims): every qualitative claim of the paper (deepleak/paper.py
CLAIMS) judged per dataset from the per-record scores of the table rows it compares
(deepleak/claims.py says how)."""
import re

import numpy as np
from deepleak import artifacts, claims, paper, tables

# The views a federated attack's scores are stored under: the central attacker's parties, the local
# attacker's global models (scripts/run_federated_attack.py).
VIEW = re.compile(r"party\d+|global")


class Results:
    """The metrics.json records and scores.npz arrays of the attack jobs the claims read, by job key
    (dataset, scenario, replicate, job), each file read once."""

    def __init__(self, metrics_paths, scores_paths, keys):
        self.paths = {tuple(k): p for k, *p in zip(keys, metrics_paths, scores_paths, strict=True)}
        self.loaded = {}

    def __call__(self, *key):
        if key not in self.loaded:
            metrics_path, scores_path = self.paths[key]
            self.loaded[key] = (artifacts.load_json(metrics_path)["attacks"],
                                artifacts.load_npz(scores_path))
        return self.loaded[key]


def standalone(results, dataset, rep, name, scenario="standalone"):
    """A stand-alone attack (or a fine-tuning task) on its test set; LOSS_BASELINE is the loss
    threshold, scored by the job that scores every baseline."""
    if name == paper.LOSS_BASELINE:
        baseline = name.removeprefix("baseline_")
        attacks, scores = results(dataset, scenario, rep, "baselines")
        return claims.Scored(scores["records"], scores["member"], scores[baseline],
                             attacks[baseline]["metrics"]["test"])
    attacks, scores = results(dataset, scenario, rep, name)
    return claims.Scored(scores["records"], scores["member"], scores["score"],
                         attacks[name]["metrics"]["test"])


def calibrated(results, dataset, rep, name):
    """A calibrated attack (LiRA, RMIA: rule calibrated_attacks) on the attack-test records."""
    attacks, scores = results(dataset, "standalone", rep, "calibrated")
    return claims.Scored(scores["records"], scores["member"], scores[name],
                         attacks[name]["metrics"]["test"])


def federated(results, dataset, rep, attack, test, epochs):
    """A federated row ("<run>:<observer>") at some observed epochs on one test set: the central
    attacker's per-party test sets pooled, as its metrics are."""
    run, observer = attack.split(":")
    key = f"{observer}:{'-'.join(str(int(e)) for e in epochs)}"
    attacks, scores = results(dataset, "federated", rep, run)
    views = sorted({k.split("/")[1] for k in scores if k.startswith(f"{key}/")
                    and k.endswith(f"/{test}/score") and VIEW.fullmatch(k.split("/")[1])})
    pooled = {field: np.concatenate([scores[f"{key}/{v}/{test}/{field}"] for v in views])
              for field in ("records", "member", "score")}
    return claims.Scored(**pooled, metrics=attacks[key]["metrics"][test])


def standalone_rows(table, dataset, results, first_rep, n_knowledge):
    """(name, label, replicate -> Scored) of a stand-alone table's rows, then the loss threshold.
    Table VI's labels are filled with the sizes its attacker knew."""
    t = paper.TABLE7 if table == "table7" else paper.standalone_table(table, n_knowledge)
    rows = []
    for r in t.rows:
        label = r.label
        if "{" in label:
            label = label.format(**tables.known_sizes(
                results(dataset, "standalone", first_rep, r.attack)[0][r.attack]))
        rows.append((r.name, label, lambda rep, r=r: standalone(results, dataset, rep, r.attack)))
    rows.append((paper.LOSS_BASELINE, "the loss threshold",
                 lambda rep: standalone(results, dataset, rep, paper.LOSS_BASELINE)))
    return rows


def federated_rows(table, dataset, results, p):
    """(name, label, replicate -> Scored) of a federated table's rows as the profile ran them:
    Table X's at its observed epochs, Table XII's at each distinct epoch set, Table XIII's at each
    party count."""
    observed = p["observed_epochs"][dataset]
    if table == "table10":
        spec = [(r, r.label, observed) for r in paper.TABLE10.rows]
    elif table == "table12":
        spec, seen = [], set()
        for r, epochs in zip(paper.TABLE12.rows, p["epoch_sets"][dataset], strict=True):
            if tuple(epochs) not in seen:  # a small profile may scale two sets to one
                seen.add(tuple(epochs))
                spec.append((r, r.label.format(epochs=", ".join(map(str, epochs)),
                                               rounds=p["rounds"][dataset]), epochs))
    else:
        spec = [(r, r.label, observed) for r in paper.table13_rows(p["parties"], p["party_sweep"])]
    return [(r.name, label,
             lambda rep, r=r, e=e: federated(results, dataset, rep, r.attack, r.test, e))
            for r, label, e in spec]


def sides_of(table, dataset, results, replicates, p):
    """The Sides of a claim's table on one dataset, by row name, and the table's own rows (the
    loss threshold is printed under it, not one of them) in order as the profile ran them (for
    chains)."""
    if table == "table_calibrated":  # every calibrated attack, from its one scores.npz
        attacks, _ = results(dataset, "standalone", replicates[0], "calibrated")
        rows = [(name, record["description"], lambda rep, name=name: calibrated(
            results, dataset, rep, name)) for name, record in attacks.items()]
    elif table == "table9":
        rows = [(r.name, r.label,
                 lambda rep, r=r: standalone(results, dataset, rep, r.attack, "finetune"))
                for r in paper.TABLE9.rows]
    elif table in paper.FEDERATED_TABLES:
        rows = federated_rows(table, dataset, results, p)
    else:
        rows = standalone_rows(table, dataset, results, replicates[0], p["n_knowledge"])
    sides = {name: claims.Side(name, label, [get(rep) for rep in replicates])
             for name, label, get in rows}
    return sides, [name for name, _, _ in rows if name != paper.LOSS_BASELINE]


def main(metrics_paths, scores_paths, provenance_paths, csv_out, md_out, *, jobs, datasets,
         provenance_datasets, replicates, n_bootstrap, confidence, seed, **profile):
    """``jobs``: the job key of each metrics.json / scores.npz pair; ``datasets``: the datasets of
    each claim's table; ``profile``: how the profile runs the tables (n_knowledge, parties,
    party_sweep, rounds, observed_epochs, epoch_sets)."""
    results = Results(metrics_paths, scores_paths, jobs)
    sources = {d: tables.source_label(artifacts.load_json(p))
               for d, p in zip(provenance_datasets, provenance_paths, strict=True)}
    records = []
    for claim in paper.CLAIMS:
        for dataset in datasets.get(claim.table, []):
            sides, rows = sides_of(claim.table, dataset, results, replicates, profile)
            records += claims.judge(claim, dataset, sources[dataset], sides, rows,
                                    n_bootstrap=n_bootstrap, seed=seed, confidence=confidence)
    claims.render(records, {d: f"{d} ({s})" for d, s in sources.items()}, csv_out, md_out,
                  n_bootstrap=n_bootstrap, confidence=confidence)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.metrics, snakemake.input.scores, snakemake.input.provenance,
         snakemake.output.csv, snakemake.output.md, **snakemake.params)
