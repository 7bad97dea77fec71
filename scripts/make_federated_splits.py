"""Draw the federated scenario's named record sets: the parties' data, the test set, each
attacker's known and attack-test members and non-members, and the active attacks' targets (rule
federated_split, Table XI)."""
from deepleak import artifacts, federated_runs, splits


def main(dataset_path, splits_out, *, sizes, parties, party_sweep, validation_fraction, overlapping,
         seed, dataset):
    n = len(artifacts.load_npz(dataset_path)["y"])
    sets = federated_runs.federated_splits(n, sizes, parties=parties, party_sweep=party_sweep,
                                           validation_fraction=validation_fraction,
                                           overlapping=overlapping, seed=seed,
                                           key=f"federated.per_dataset.{dataset}.sizes")
    splits.save(splits_out, sets, meta={"sizes": sizes, "parties": parties,
                                        "party_sweep": party_sweep,
                                        "validation_fraction": validation_fraction,
                                        "overlapping": overlapping, "seed": seed, "n_records": n})


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.dataset, snakemake.output.splits, dataset=snakemake.wildcards.dataset,
         **snakemake.params)
