"""The paper's tables, reproduced: our value beside the paper's, with CIs, AUC and low-FPR TPR. The
tables themselves (rows, attacks, paper values) are declared in deepleak/paper.py; this module turns
metrics records into rows and renders them (the one place that writes Markdown).

The difference to the paper's value (``delta_pp``, "Δ pp") is given only where the run is the
paper's experiment (deepleak.paper.Table.not_comparable); elsewhere the paper's value stays for
reference, ``not_comparable`` says why, and the Markdown prints "n/c" and the reason.

Every table is one tidy CSV (one row per dataset and table row) and one Markdown page grouped by
dataset. Accuracies are in %, AUC in [0, 1], TPRs in %. With one replicate the CI is the bootstrap
CI of the attack test set; with several it is a t-interval over replicates (independent splits,
target models and attack models), and the value is their mean.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from deepleak import metrics, paper

METRICS = [("accuracy", 100.0), ("auc", 1.0),
           *((metrics.tpr_key(p), 100.0) for p in metrics.FPR_POINTS)]


def aggregate(results: list[dict], confidence: float = 0.95) -> dict:
    """Mean and CI of each metric over replicates (bootstrap CI when there is one replicate). A TPR
    at an FPR that the test set cannot realise (deepleak.metrics.min_nonmembers) is NaN, and so is
    its CI; the FPR its threshold realised is kept beside it, in %."""
    first = results[0]
    row = {"replicates": len(results), "n_test": first["n_members"] + first["n_nonmembers"],
           "n_nonmembers": first["n_nonmembers"]}
    for p in metrics.FPR_POINTS:
        realised = [r.get(metrics.realised_key(p)) for r in results]
        row[metrics.realised_key(p)] = (float("nan") if None in realised
                                        else 100 * float(np.mean(realised)))
    for name, scale in METRICS:
        values = np.array([r[name] for r in results], dtype=np.float64) * scale  # None -> NaN
        row[name] = float(values.mean())
        if np.isnan(row[name]):
            row[f"{name}_ci_low"] = row[f"{name}_ci_high"] = float("nan")
            continue
        if len(values) > 1:
            from scipy import stats  # only with replicates: keep SciPy out of every table job

            t = stats.t.ppf((1 + confidence) / 2, len(values) - 1)
            half = t * values.std(ddof=1) / math.sqrt(len(values))
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = row[name] - half, row[name] + half
        elif first.get(f"{name}_ci") is not None:
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = (v * scale for v in first[f"{name}_ci"])
        else:
            row[f"{name}_ci_low"] = row[f"{name}_ci_high"] = float("nan")
    return row


def ci_note(n_replicates: int) -> str:
    return ("CIs: " + (f"t-interval over {n_replicates} replicates." if n_replicates > 1
                       else "bootstrap over the attack test set."))


def source_label(provenance: dict) -> str:
    """"stand-in" (generated), "unpublished copy" (real source, but verified against the config's
    own digests, not the published ones) or "real"."""
    if provenance["source"] == "synthetic":
        return "stand-in"
    return "real" if provenance.get("matches_published", True) else "unpublished copy"


def run_of(provenance: dict, data: str, arch: str, setting: dict) -> paper.Run:
    """A dataset entry's run as the tables compare it with the paper: the data set it reads, its
    architecture, its records' source (provenance.json) and what it ran (paper.run_setting)."""
    source = source_label(provenance)
    return paper.Run(data, arch, source == "real", setting, source)


def row(table: str, dataset: str, source: str, label: str, results: list[dict],
        paper_value: float | None, confidence: float, *, attack: str | None = None,
        not_comparable: str | None = None, **extra) -> dict:
    """One table row: the metrics of one attack on one test set (``results``: one
    deepleak.metrics.evaluate dict per replicate) aggregated, the paper's value, and the difference
    to it unless ``not_comparable`` says why there is none (deepleak.paper.Table.not_comparable)."""
    out = {"table": table, "dataset": dataset, "source": source, "row": label,
           **({"attack": attack} if attack is not None else {}), **aggregate(results, confidence),
           "paper_accuracy": paper_value, **extra}
    compared = paper_value is not None and not_comparable is None
    out["delta_pp"] = out["accuracy"] - paper_value if compared else float("nan")
    out["not_comparable"] = not_comparable if paper_value is not None else None
    return out


def attack_rows(table, dataset: str, source: str, attacks: dict[str, list[dict]], run: paper.Run,
                confidence: float, labels: dict[str, str] | None = None,
                row_settings: dict[str, dict] | None = None) -> list[dict]:
    """The rows of a paper table (deepleak.paper.Table) on one dataset, then the threshold
    baselines.
    ``attacks``: metrics records (deepleak.metrics.record) by attack name, one per replicate;
    ``run``: the dataset's run, which picks the paper's values and says whether they compare;
    ``labels``: row labels filled in at run time, ``row_settings``: what a row with its own
    setting ran (deepleak.paper.Row.setting), both by row name."""
    labels, row_settings = labels or {}, row_settings or {}
    values = table.values(run.data, run.arch) or {}
    out = [row(table.key, dataset, source, labels.get(r.name, r.label),
               [a["metrics"][r.test] for a in attacks[r.attack]], values.get(r.name), confidence,
               attack=r.attack,
               not_comparable=table.not_comparable(run, r, row_settings.get(r.name)))
           for r in table.rows]
    baselines = [name for name, records in attacks.items() if records[0]["kind"] == "threshold"]
    return out + [row(table.key, dataset, source, f"Baseline: {name.replace('_', ' ')} threshold",
                      [a["metrics"]["test"] for a in attacks[name]], None, confidence,
                      attack=f"baseline_{name}") for name in baselines]


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value, digits=1, pct=False):
    if _missing(value):
        return "–"
    return f"{value:.{digits}f}{' %' if pct else ''}"


NOT_COMPARABLE = "n/c"  # the Δ cell of a row whose paper value is not comparable


def delta_cell(row) -> str:
    return NOT_COMPARABLE if not _missing(row["not_comparable"]) else fmt(row["delta_pp"], 1)


def comparability_lines(group: pd.DataFrame) -> list[str]:
    """Under a dataset's heading: why its paper values are not comparable, one line per reason,
    naming the rows where the reason is not every paper value's."""
    with_paper = group[group["paper_accuracy"].notna()]
    off = with_paper[with_paper["not_comparable"].notna()]
    lines = []
    for reason, rows in off.groupby("not_comparable", sort=False):
        which = "" if len(rows) == len(with_paper) else f" ({'; '.join(rows['row'])})"
        lines.append(f"Not comparable with the paper{which}: {reason}. The paper's values are "
                     f"for reference only (Δ: {NOT_COMPARABLE}).")
    return lines


def tpr_cell(row, fpr: float) -> str:
    """A TPR at ``fpr`` in %, with the FPR its threshold realised, or why the test set has none."""
    value = row[metrics.tpr_key(fpr)]
    if value is None or math.isnan(value):
        return f"n/a (needs >= {metrics.min_nonmembers(fpr):,} non-members)"
    realised = row.get(metrics.realised_key(fpr), math.nan)
    return f"{value:.2f} %" + ("" if math.isnan(realised) else f" (at {realised:.2f} % FPR)")


def _with_ci(row, name, digits):
    lo, hi = row.get(f"{name}_ci_low"), row.get(f"{name}_ci_high")
    if lo is None or math.isnan(lo):
        return fmt(row[name], digits)
    return f"{row[name]:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def to_markdown(df: pd.DataFrame, title: str, paper_label: str, notes: list[str],
                dataset_headers: dict[str, str], extra: tuple = ()) -> str:
    """A Markdown page: one section per dataset, the paper's value beside ours. ``extra``: more
    columns, (header, function of a row) pairs (Tables X-XIII: the global model's accuracy and the
    test set's size, without which an active attack cannot be judged)."""
    headers = ["Row", "Accuracy % (95% CI)", paper_label, "Δ pp", "AUC (95% CI)",
               *(f"TPR @ {100 * p:g}% FPR" for p in metrics.FPR_POINTS), *(h for h, _ in extra)]
    sections = []
    for dataset, group in df.groupby("dataset", sort=False):
        cells = [[r["row"], _with_ci(r, "accuracy", 1), fmt(r["paper_accuracy"], 2),
                  delta_cell(r), _with_ci(r, "auc", 3),
                  *(tpr_cell(r, p) for p in metrics.FPR_POINTS), *(fn(r) for _, fn in extra)]
                 for _, r in group.iterrows()]
        sections.append((dataset_headers.get(dataset, dataset),
                         [f"{line}\n" for line in comparability_lines(group)], headers, cells))
    return page(title, notes, sections)


def page(title: str, notes: list[str], sections: list[tuple]) -> str:
    """A Markdown page: ``# title``, the notes as a list, then per section (heading, lines before
    its table, headers, cells) a ``##`` heading and its table. Every table page is laid out here."""
    lines = [f"# {title}", ""]
    lines += [f"- {n}" for n in notes]
    for heading, before, headers, cells in sections:
        lines += ["", f"## {heading}", "", *before, markdown_table(headers, cells)]
    return "\n".join(lines) + "\n"


def render(records: list[dict], table, notes: dict, headers: dict[str, str], csv_out, md_out,
           extra: tuple = (), after: str = "") -> None:
    """Write a table (deepleak.paper.Table) as CSV and Markdown; ``notes`` fills its notes'
    placeholders ({ci}, {gamma}). A table with paper values also says when it compares them.
    ``after``: Markdown under the table (Table calibrated: :func:`risk_markdown`,
    :func:`whitebox_markdown`)."""
    df = pd.DataFrame.from_records(records)
    lines = [n.format(**notes) for n in table.notes] + ([COMPARABLE_NOTE] if table.paper else [])
    write(df, csv_out, md_out, to_markdown(df, table.title, table.paper_label, lines, headers,
                                           extra) + after)


COMPARABLE_NOTE = (
    "Δ pp: our accuracy minus the paper's, given only where the run is the paper's experiment: "
    "the real data set, the paper's own model and the sizes the paper states (Table II; Table XI "
    "and Table X's rounds for the federated tables; config/paper.yaml runs them). Elsewhere the "
    f"paper's value is for reference only, the Δ cell reads '{NOT_COMPARABLE}' and the dataset's "
    "section says why: a difference on a stand-in or on fewer records does not test the "
    "replication.")


def write(df: pd.DataFrame, csv_path, md_path, markdown: str) -> None:
    from deepleak.artifacts import atomic_path

    with atomic_path(csv_path, ".csv") as tmp:
        df.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(md_path, ".md") as tmp:
        tmp.write_text(markdown)


# --------------------------------------------------------------------------------------------------
# reading a table's inputs
# --------------------------------------------------------------------------------------------------
def collect(paths, keys) -> dict:
    """{key: {attack: [metrics record, one per replicate]}} from metrics.json files and the key
    (dataset, or dataset and task) of each."""
    from deepleak.artifacts import load_json

    out: dict = {}
    for key, path in zip(keys, paths, strict=True):
        for name, record in load_json(path)["attacks"].items():
            out.setdefault(key, {}).setdefault(name, []).append(record)
    return out


def mean_accuracy(metas: list[dict], key: str) -> float:
    """A model's train or test accuracy in %, averaged over replicates (meta.json files)."""
    return 100 * sum(m[key] for m in metas) / len(metas)


def known_sizes(record: dict) -> dict[str, int]:
    """The members and non-members a supervised attack knew (trained and validated on)."""
    t = record["training"]
    return {k: t["n_train"][k] + t["n_validation"][k] for k in ("members", "nonmembers")}


def standalone(table, attacks: dict, targets: dict[str, list[dict]], provenance: dict[str, dict],
               data: dict[str, str], settings: dict[str, dict], confidence: float, *,
               paper_columns: bool = True):
    """Records and per-dataset headers of a stand-alone table (Tables III-VIII): its rows, the
    threshold baselines, and the target model's accuracy beside the paper's (Table VIII's).
    ``attacks``, ``targets`` (meta.json per replicate), ``provenance``, ``data`` (the data set an
    entry reads) and ``settings`` (deepleak.paper.run_setting) by dataset. A row label with
    placeholders (Table VI) is filled with the sizes its attacker knew, and a row with its own
    paper setting (Table VI again) is compared at those sizes."""
    from deepleak.paper import TABLE8

    records, headers = [], {}
    for dataset, prov in provenance.items():
        source = source_label(prov)
        train_acc = mean_accuracy(targets[dataset], "train_acc")
        test_acc = mean_accuracy(targets[dataset], "test_acc")
        arch = targets[dataset][0]["model_cfg"]["arch"]
        model = TABLE8.values(data[dataset], arch)
        headers[dataset] = (f"{dataset} ({source}), {arch} target model: train accuracy "
                            f"{train_acc:.1f} %, test accuracy {test_acc:.1f} %"
                            + (f" (paper: {model['train_acc']} % / {model['test_acc']} %)"
                               if model else ""))
        known = {r.name: known_sizes(attacks[dataset][r.attack][0])
                 for r in table.rows if "{" in r.label or r.setting}
        labels = {r.name: r.label.format(**known[r.name]) for r in table.rows if "{" in r.label}
        row_settings = {name: {f"attack_train_{k}": v for k, v in sizes.items()}
                        for name, sizes in known.items()}
        run = run_of(prov, data[dataset], arch, settings[dataset])
        for rec in attack_rows(table, dataset, source, attacks[dataset], run, confidence, labels,
                               row_settings):
            rec.update(target_train_acc=train_acc, target_test_acc=test_acc)
            if paper_columns:
                rec.update(paper_train_acc=model["train_acc"] if model else None,
                           paper_test_acc=model["test_acc"] if model else None)
            records.append(rec)
    return records, headers


# --------------------------------------------------------------------------------------------------
# Audit your own model (deepleak/audit_model.py): the per-layer leakage table and the summary page
# --------------------------------------------------------------------------------------------------
def _ci_cell(value, ci, digits=3) -> str:
    if _missing(value):
        return "–"
    return f"{value:.{digits}f}" + ("" if not ci else f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]")


def _tpr_pct(value, fpr: float) -> str:
    return (f"n/a (needs >= {metrics.min_nonmembers(fpr):,} non-members)" if _missing(value)
            else f"{100 * value:.1f} %")


AUDIT_LAYER_HEADERS = ("Layer", "Position", "Output attack AUC (95% CI)", "Output attack TPR",
                       "Gradient attack AUC (95% CI)", "Gradient attack TPR",
                       "Mean gradient norm, members", "Mean gradient norm, non-members")


def audit_layers(rows: list[dict], fpr: float) -> tuple[pd.DataFrame, list[list[str]], list[str]]:
    """The per-layer leakage table of an audit (deepleak/audit_model.py layer_rows): the tidy
    frame for its CSV, the formatted cells, and the headers (TPRs at ``fpr``)."""
    df = pd.DataFrame.from_records(
        [{k: v for k, v in r.items() if not k.endswith("_ci")}
         | {f"{k}_low": (r[k] or [None, None])[0] for k in r if k.endswith("_ci")}
         | {f"{k}_high": (r[k] or [None, None])[1] for k in r if k.endswith("_ci")} for r in rows])
    cells = [[r["layer"], r["position"], _ci_cell(r["output_auc"], r["output_auc_ci"]),
              _tpr_pct(r["output_tpr"], fpr), _ci_cell(r["gradient_auc"], r["gradient_auc_ci"]),
              _tpr_pct(r["gradient_tpr"], fpr), f"{r['member_grad_norm']:.4g}",
              f"{r['nonmember_grad_norm']:.4g}"] for r in rows]
    headers = [h.replace("TPR", f"TPR @ {100 * fpr:g}% FPR") for h in AUDIT_LAYER_HEADERS]
    return df, cells, headers


def markdown_table(headers, cells) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(map(str, c)) + " |" for c in cells])


def html_table(headers, cells) -> str:
    from html import escape

    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in cells)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# What each kind of attack in an audit's table knows (metrics.record kinds).
AUDIT_KINDS = {"supervised": "paper, supervised (knows some members)",
               "threshold": "threshold baseline (knows some members)",
               "unsupervised": "paper, unsupervised",
               "calibrated": "calibrated (reference models)"}


def audit_attacks_table(results: dict[str, dict], descriptions: dict[str, str], fpr: float,
                        kinds: dict[str, str] | None = None) -> tuple[list[str], list[list[str]]]:
    """Every attack of an audit, one row each: AUC and TPR at ``fpr`` with CIs; with ``kinds``
    (attack -> metrics.record kind), a column saying what the attacker knows."""
    key = metrics.tpr_key(fpr)
    headers = ["Attack", *(["Kind"] if kinds else []), "AUC (95% CI)",
               f"TPR @ {100 * fpr:g}% FPR (95% CI)", "Test members", "Test non-members"]
    cells = []
    for name, m in results.items():
        tpr = m.get(key)
        ci = m.get(f"{key}_ci")
        tpr_text = _tpr_pct(tpr, fpr) + ("" if _missing(tpr) or not ci else
                                         f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]")
        kind = [AUDIT_KINDS.get(kinds[name], kinds[name])] if kinds else []
        cells.append([descriptions[name], *kind, _ci_cell(m["auc"], m.get("auc_ci")), tpr_text,
                      m["n_members"], m["n_nonmembers"]])
    return headers, cells


def audit_page(title: str, verdict: str, layer_headers, layer_cells, attack_headers, attack_cells,
               notes: list[str], calibrated: str | None = None) -> tuple[str, str]:
    """The audit's summary as (Markdown, self-contained HTML): the verdict, the paragraph on LiRA
    with reference models (``calibrated``: what it found, or why it was not run), the per-layer
    table, every attack's row, and notes."""
    from html import escape

    lira_md = ["## LiRA with reference models", "", calibrated, ""] if calibrated else []
    lira_html = (f"<h2>LiRA with reference models</h2><p>{escape(calibrated)}</p>"
                 if calibrated else "")
    md = "\n".join([f"# {title}", "", verdict, "", *lira_md, "## Leakage per layer", "",
                    markdown_table(layer_headers, layer_cells), "", "## Every attack", "",
                    markdown_table(attack_headers, attack_cells), "",
                    *[f"- {n}" for n in notes]]) + "\n"
    html = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>" + escape(title)
            + "</title><style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
            "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.2em .5em;"
            "font-size:90%}</style></head><body>"
            f"<h1>{escape(title)}</h1><p>{escape(verdict)}</p>{lira_html}"
            "<h2>Leakage per layer</h2>"
            + html_table(layer_headers, layer_cells) + "<h2>Every attack</h2>"
            + html_table(attack_headers, attack_cells) + "<ul>"
            + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul></body></html>\n")
    return md, html


# --------------------------------------------------------------------------------------------------
# Beyond the paper: Table calibrated's per-record risk and white-box comparison, Table DP
# --------------------------------------------------------------------------------------------------
RISK_HEADERS = ("Record", "Member", "Class", "Target loss", "LiRA online score", "Rank")


def risk_text(risk: dict) -> list[str]:
    """What a target's per-record risk (scripts/record_risk.py summary) says in words: the caveat
    where its non-members cannot resolve the FPR, the fractions of members exposed."""
    any_ = risk["exposed_by_any"]["fraction_of_members"]
    caveat = ([] if risk["resolvable"] else [
        f"(Only {risk['n_nonmembers']:,} non-members: the threshold is the highest non-member's "
        f"score, an FPR of 0 rather than {100 * risk['fpr']:g} %.)"])
    return [*caveat,
            f"Members exposed at {100 * risk['fpr']:g} % FPR by at least one attack: "
            f"{100 * any_:.1f} % of {risk['n_members']:,}; by each: "
            + ", ".join(f"{name} {100 * e['fraction_of_members']:.1f} %"
                        for name, e in risk["exposed"].items()) + "."]


def most_exposed_cells(risk: dict) -> list[list[str]]:
    """The most exposed records of a target's risk summary, one row each (:data:`RISK_HEADERS`)."""
    return [[r["record"], "yes" if r["member"] else "no", r["label"], f"{r['target_loss']:.3g}",
             f"{r['score:lira_online']:.3g}", r["rank:lira_online"]]
            for r in risk["most_exposed"]]


def risk_markdown(targets: list[tuple[str, dict]]) -> str:
    """Table calibrated's per-record risk section: per (heading, risk summary) its text and its
    most exposed records."""
    lines = ["", "# Per-record risk (the attack-test records; see risk/records.csv)"]
    for heading, risk in targets:
        lines += ["", f"## {heading}", ""]
        for paragraph in risk_text(risk):
            lines += [paragraph, ""]
        lines += ["The ten most exposed records (LiRA online):", "",
                  markdown_table(RISK_HEADERS, most_exposed_cells(risk))]
    return "\n".join(lines) + "\n"


def risk_html(title: str, heading: str, risk: dict, notes: list[str]) -> str:
    """The report's page of one target's most exposed records: the same text and rows as
    :func:`risk_markdown`, as a self-contained HTML page (as the audit's summary page)."""
    from html import escape

    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>" + escape(title)
            + "</title><style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
            "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.2em .5em;"
            "font-size:90%}</style></head><body>"
            f"<h1>{escape(title)}</h1><h2>{escape(heading)}</h2>"
            + "".join(f"<p>{escape(p)}</p>" for p in risk_text(risk))
            + html_table(RISK_HEADERS, most_exposed_cells(risk)) + "<ul>"
            + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul></body></html>\n")


WHITEBOX_HEADERS = ("Dataset", "White-box", "Black-box", "Δ AUC", "Δ TPR @ 1% FPR (pp)",
                    "Δ TPR @ 0.1% FPR (pp)")


def _difference_cell(row: dict, key: str, scale: float, digits: int) -> str:
    if row[key] is None:
        return "n/a (too few non-members)"
    lo, hi = row[f"{key}_ci"] or (float("nan"), float("nan"))
    return (f"{scale * row[key]:+.{digits}f} [{scale * lo:+.{digits}f}, {scale * hi:+.{digits}f}]"
            f" {row[f'{key}_verdict']}")


def whitebox_markdown(rows: list[dict], confidence: float) -> str:
    """Table calibrated's white-box comparison (deepleak/calibration.py compare rows, with
    ``dataset``, ``white_box`` and ``black_box`` labels): differences with CIs and verdicts."""
    keys = ["auc", *map(metrics.tpr_key, metrics.FPR_POINTS)]
    cells = [[r["dataset"], r["white_box"], r["black_box"],
              *(_difference_cell(r, k, 1 if k == "auc" else 100, 3 if k == "auc" else 1)
                for k in keys)] for r in rows]
    return "\n".join([
        "", "# Did the white-box signals help? (white-box minus black-box, same records)", "",
        "Differences of AUC and of TPR (percentage points) at 1 % and 0.1 % FPR with "
        f"{100 * confidence:g} % CIs ({rows[0]['method'] if rows else ''}); 'helped' where the CI "
        "lies above 0, 'hurt' where it lies below.", "",
        markdown_table(WHITEBOX_HEADERS, cells)]) + "\n"


def _epsilon_cell(value) -> str:
    return "∞" if value is None or math.isinf(value) else f"{value:.2f}"


def dp_markdown(df: pd.DataFrame, *, title: str, tpr_fpr: float, dataset_headers: dict[str, str],
                notes: list[str]) -> str:
    """Table DP (deepleak/dp_table.py rows): per dataset, each privacy level's attacks with the
    accountant's epsilon, AUC and TPR at ``tpr_fpr`` with CIs, and the audit's empirical epsilon."""
    key = metrics.tpr_key(tpr_fpr)
    headers = ["Target", "Accountant ε", "Test acc. %", "Attack", "AUC (95% CI)",
               f"TPR @ {100 * tpr_fpr:g}% FPR, % (95% CI)", "Empirical ε ≥ (95 %)",
               "Empirical ε: point, upper", "max. resolvable"]
    sections = []
    for dataset, group in df.groupby("dataset", sort=False):
        cells = [[r["privacy"], _epsilon_cell(r["accountant_epsilon"]), fmt(r["test_acc"], 1),
                  r["row"], _with_ci(r, "auc", 3),
                  # As tpr_cell says it in every table: why a TPR is missing.
                  (f"n/a (needs >= {metrics.min_nonmembers(tpr_fpr):,} non-members)"
                   if _missing(r[key]) else _with_ci(r, key, 2)),
                  _epsilon_cell(r["audit_epsilon_lower"]),
                  f"{_epsilon_cell(r['audit_epsilon'])}, ≤ "
                  f"{_epsilon_cell(r['audit_epsilon_upper'])}",
                  f"{r['audit_max_resolvable']:.2f}"] for _, r in group.iterrows()]
        sections.append((dataset_headers.get(dataset, dataset), [], headers, cells))
    return page(title, notes, sections)
