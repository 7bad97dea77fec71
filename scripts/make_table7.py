"""Table VII: the unsupervised attack beside the shadow-model attack, per dataset, with the
supervised white-box attack of Table VIII and the threshold baselines for reference (rule
make_table7; the table is declared in deepleak/paper.py)."""
from collections import defaultdict

from deepleak import artifacts, paper, tables


def main(metrics_paths, target_paths, provenance_paths, csv_out, md_out, *, entries, datasets,
         replicates, data, settings, confidence):
    """``entries``: the dataset of each metrics.json (the table's attacks, then the baselines);
    ``settings``: what each dataset ran, to compare with the paper (deepleak.paper.run_setting)."""
    targets = defaultdict(list)
    for dataset, path in zip([d for d in datasets for _ in replicates], target_paths, strict=True):
        targets[dataset].append(artifacts.load_json(path))
    provenance = {d: artifacts.load_json(p)
                  for d, p in zip(datasets, provenance_paths, strict=True)}
    records, headers = tables.standalone(paper.TABLE7, tables.collect(metrics_paths, entries),
                                         targets, provenance, data, settings, confidence,
                                         paper_columns=False)
    tables.render(records, paper.TABLE7, {"ci": tables.ci_note(len(replicates))}, headers,
                  csv_out, md_out)


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.metrics, snakemake.input.target, snakemake.input.provenance,
         snakemake.output.csv, snakemake.output.md, **snakemake.params)
