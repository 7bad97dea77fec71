"""Table DP: the paper's attacks against DP-SGD targets, the accountant's epsilon beside the audit's
empirical lower bound (rule make_dp_table; deepleak/dp_table.py)."""
import pandas as pd
from deepleak import artifacts, dp_table, tables


def main(metrics_paths, scores_paths, meta_paths, provenance_paths, csv_out, md_out, *, entries,
         datasets, levels, replicates, audit_seeds, delta, accountant, max_grad_norm, confidence,
         references=None):
    """``entries``: (dataset, level, replicate, attack) of each metrics.json / scores.npz pair, in
    order; ``meta_paths``: one per (dataset, level, replicate) in that order."""
    metas = {}
    for (d, lv), path in zip([(d, lv) for d in datasets for lv in levels for _ in replicates],
                             meta_paths, strict=True):
        metas.setdefault((d, lv), []).append(artifacts.load_json(path))
    records, first_scores = {}, {}
    for (d, lv, r, attack), m_path, s_path in zip(entries, metrics_paths, scores_paths,
                                                  strict=True):
        # The baselines' metrics.json holds every baseline by its own name (loss, ...).
        record = artifacts.load_json(m_path)["attacks"][attack.removeprefix("baseline_")]
        records.setdefault((d, lv, attack), []).append(record)
        if r == replicates[0]:
            first_scores[(d, lv, attack)] = artifacts.load_npz(s_path)
    rows = [dp_table.row(d, lv, a, metas=metas[(d, lv)], records=records[(d, lv, a)],
                         scores=first_scores[(d, lv, a)], audit_seed=audit_seeds[f"{d}/{lv}"],
                         delta=delta, confidence=confidence)
            for d, lv, a in records]
    provenance = {d: artifacts.load_json(p)
                  for d, p in zip(datasets, provenance_paths, strict=True)}
    headers = {d: f"{d} ({tables.source_label(provenance[d])})" for d in datasets}
    df = pd.DataFrame.from_records(rows)
    notes = dp_table.notes(accountant=accountant, delta=delta, confidence=confidence,
                           n_replicates=len(replicates), max_grad_norm=max_grad_norm,
                           references=references)
    tables.write(df, csv_out, md_out, dp_table.markdown(df, dataset_headers=headers, notes=notes))


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.metrics, snakemake.input.scores, snakemake.input.meta,
         snakemake.input.provenance, snakemake.output.csv, snakemake.output.md, **snakemake.params)
