"""Per-record membership risk of one target (rule record_risk): each attack-test record's score
under every calibrated attack and the paper's black-box and white-box (gradients) attacks and the
loss threshold, its rank, whether the attack exposes it at 0.1 % FPR, and the fraction exposed;
and the report's page of the most exposed records (deepleak/tables.py risk_html)."""
import numpy as np
import pandas as pd
from deepleak import artifacts, calibration, files, metrics, tables

FPR = 0.001


def main(calibrated_path, paper_paths, baselines_path, target_path, dataset_path, csv_out,
         summary_out, page_out=None, *, paper_attacks, top, heading=""):
    cal = artifacts.load_npz(calibrated_path)
    records, member = cal["records"], cal["member"].astype(bool)
    scores = {k: v for k, v in cal.items() if k not in ("records", "member")}
    for name, path in zip(paper_attacks, paper_paths, strict=True):
        scores[name] = metrics.scores_on(artifacts.load_npz(path), records)
    scores["baseline_loss"] = metrics.scores_on(artifacts.load_npz(baselines_path), records, "loss")
    target = artifacts.load_npz(target_path)
    y = artifacts.load_npz(dataset_path)["y"]
    df = pd.DataFrame({"record": records, "member": member.astype(int), "label": y[records],
                       "target_loss": metrics.scores_on(target, records, "loss")})
    # With fewer than 1 / FPR non-members the threshold is the highest non-member's score, an FPR
    # of 0 rather than FPR: the summary says so, and the table prints it.
    summary = {"fpr": FPR, "n_members": int(member.sum()), "n_nonmembers": int((~member).sum()),
               "resolvable": bool((~member).sum() >= metrics.min_nonmembers(FPR)),
               "exposed": {}}
    exposed_any = np.zeros(len(records), dtype=bool)
    for name, s in scores.items():
        exposed, thr = calibration.exposure(s, member, FPR)
        df[f"score:{name}"] = s
        df[f"rank:{name}"] = calibration.rank(s)
        df[f"exposed:{name}"] = exposed.astype(int)
        exposed_any |= exposed
        summary["exposed"][name] = {"fraction_of_members": float(exposed[member].mean()),
                                    "fraction_of_records": float(exposed.mean()),
                                    "threshold": thr}
    df["exposed:any"] = exposed_any.astype(int)
    summary["exposed_by_any"] = {"fraction_of_members": float(exposed_any[member].mean()),
                                 "fraction_of_records": float(exposed_any.mean())}
    # The most exposed records: ranked by the best calibrated attack's score (LiRA online).
    most = df.sort_values("rank:lira_online", kind="stable").head(top)
    summary["most_exposed"] = most[["record", "member", "label", "target_loss",
                                    "score:lira_online", "rank:lira_online"]].to_dict("records")
    with files.atomic_path(csv_out, ".csv") as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    artifacts.save_json(summary_out, summary)
    if page_out is not None:
        notes = [
            "Ranked by LiRA online's score (the per-example Gaussian likelihood ratio of the "
            "logit-scaled confidence, Carlini et al. 2022): rank 1 is the record it is surest is "
            "a member. Class: the record's label; target loss: the target model's cross-entropy "
            "on it.",
            f"Exposed: called a member at the attack's threshold for {100 * FPR:g} % FPR on the "
            "attack-test non-members (only members can be exposed). Every record's score and rank "
            "under every attack: risk/records.csv."]
        with files.atomic_path(page_out, ".html") as tmp:
            tmp.write_text(tables.risk_html(f"The {top} most exposed records", heading, summary,
                                            notes))


if __name__ == "__main__":
    from _common import setup

    setup(snakemake)
    main(snakemake.input.calibrated, snakemake.input.paper, snakemake.input.baselines,
         snakemake.input.target, snakemake.input.dataset, snakemake.output.csv,
         snakemake.output.summary, snakemake.output.page, **snakemake.params)
