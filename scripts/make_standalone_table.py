"""Tables III, IV, V, VI and VIII of the stand-alone scenario (rule make_standalone_table; the
tables are declared in deepleak/paper.py)."""
from collections import defaultdict

from deepleak import artifacts, paper, tables


def main(metrics_paths, target_paths, provenance_paths, csv_out, md_out, *, table, entries,
         datasets, replicates, n_knowledge, settings, confidence):
    """``entries``: the dataset of each metrics.json (the table's attacks, then the baselines);
    ``settings``: what each dataset ran, to compare with the paper (deepleak.paper.run_setting)."""
    t = paper.standalone_table(table, n_knowledge)
    targets = defaultdict(list)
    for dataset, path in zip([d for d in datasets for _ in replicates], target_paths, strict=True):
        targets[dataset].append(artifacts.load_json(path))
    provenance = {d: artifacts.load_json(p)
                  for d, p in zip(datasets, provenance_paths, strict=True)}
    # An entry reads its own data or the one `data:` names (cifar100_alexnet reads cifar100).
    records, headers = tables.standalone(
        t, tables.collect(metrics_paths, entries), targets, provenance,
        {d: p.get("data", d) for d, p in provenance.items()}, settings, confidence)
    tables.render(records, t, {"ci": tables.ci_note(len(replicates))}, headers, csv_out, md_out)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.metrics, snakemake.input.target, snakemake.input.provenance,
         snakemake.output.csv, snakemake.output.md, table=snakemake.wildcards.table,
         **snakemake.params)
