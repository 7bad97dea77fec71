"""The table layer (deepleak/paper.py, deepleak/tables.py) and the one metrics.json shape.

- every paper table is declared once, torch-free, with its paper values by row name;
- the stand-alone attack rules come from the variants' groups, checked at parse time against what
  the tables need: a variant removed from deepleak/variants.py stops the parse with its name;
- every metrics.json, whatever attack wrote it, follows workflow/schemas/metrics.schema.json.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from deepleak import (
    artifacts,
    attack,
    baselines,
    features,
    metrics,
    models,
    paper,
    tables,
    training,
    variants,
)

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "workflow/schemas/metrics.schema.json").read_text())
HP = dict(component_widths=[16, 8], gradient_widths=[16, 8], kernels=2, encoder_widths=[16, 8],
          dropout=0.0, init_std=0.01, lr=0.003, batch_size=32, epochs=3,
          input_scaling="fan_in", selection="balanced_mse")
EVALUATE = dict(n_bootstrap=20, confidence=0.95, seed=0)
ALL_TABLES = [*paper.STANDALONE_TABLES.values(), paper.TABLE7, paper.TABLE9,
              *paper.FEDERATED_TABLES.values()]


def check(path):
    """A metrics.json as written and read back, validated against the schema."""
    m = artifacts.load_json(path)
    jsonschema.validate(m, SCHEMA)
    return m


# --------------------------------------------------------------------------------------------------
# the declarations
# --------------------------------------------------------------------------------------------------
def test_table_layer_imports_neither_torch_nor_snakemake():
    code = ("import sys; from deepleak import paper, tables, variants; "
            "print(sorted(m for m in ('torch', 'snakemake') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "scripts", capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.key)
def test_paper_values_are_named_after_rows(table):
    names = {r.name for r in table.rows}
    assert len(names) == len(table.rows) and table.title.startswith("Table ")
    for model, values in table.paper.items():
        unknown = set(values) - names - {"arch", "train_acc", "test_acc"}
        assert not unknown, (table.key, model, unknown)
    if table.reference:
        assert set(table.paper[table.reference]) == names


def test_every_variant_has_a_rule_and_every_needed_attack_a_variant():
    groups = paper.check_standalone_rules(4, ["shadow_model", "unsupervised"])
    trained = [a for g in groups.values() for a in g]
    assert len(trained) == len(set(trained)) == len(variants.VARIANTS) + 4
    assert set(paper.standalone_attacks(4)) <= set(trained)


def test_one_job_per_attack_trains_the_same_attacks_once_each():
    grouped = paper.check_standalone_rules(4, ["shadow_model", "unsupervised"])
    single = paper.check_standalone_rules(4, ["shadow_model", "unsupervised"], per_attack=True)
    assert all(len(g) == 1 for g in single.values())
    assert sorted(a for g in single.values() for a in g) == \
        sorted(a for g in grouped.values() for a in g)
    assert single["gradients_1_known0"] == ["gradients_1-known0"]  # a rule name has no "-"


def test_a_removed_variant_is_named_at_parse_time(monkeypatch):
    monkeypatch.delitem(variants.VARIANTS, "outputs_2")
    with pytest.raises(ValueError, match="'outputs_2'"):
        paper.check_standalone_rules(2, ["shadow_model", "unsupervised"])


def test_a_removed_variant_stops_snakemake_with_its_name(tmp_path):
    for name in ("Snakefile", "workflow", "scripts", "config"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    source = tmp_path / "scripts/deepleak/variants.py"
    text = source.read_text()
    line = next(ln for ln in text.splitlines(keepends=True) if ln.strip().startswith('"outputs_3"'))
    source.write_text(text.replace(line, ""))
    out = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile",
                          "config/test.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode != 0
    assert "'outputs_3'" in out.stdout + out.stderr and "no rule makes" in out.stdout + out.stderr


# --------------------------------------------------------------------------------------------------
# one metrics.json shape
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def planted():
    """Features of a model that memorised 150 random-label members, and 150 non-members."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 12)).astype(np.float32), rng.integers(0, 5, 300)
    net = models.FCNet(12, 5, hidden=(32, 16))
    net, _ = training.fit(net, X[:150], y[:150], X[150:], y[150:], seed=0,
                          train=dict(lr=0.003, batch_size=32, epochs=20))
    feats = features.extract(net, X, y, gradient_layers=1)
    feats["records"] = np.arange(300)
    m, n = np.arange(150), np.arange(150, 300)
    spec = variants.VARIANTS["gradients_1"].resolve(list(net.layer_names), 1)
    return feats, spec, {"train": (m[:80], n[:80]), "val": (m[80:100], n[80:100]),
                         "test": (m[100:], n[100:])}


def test_supervised_threshold_and_pooled_records_follow_the_schema(planted, tmp_path):
    feats, spec, sets = planted
    scores, record = attack.run_supervised(
        (feats, *sets["train"]), (feats, *sets["val"]), {"test": (feats, *sets["test"])},
        spec=spec, n_classes=5, hp=HP, seed=0, evaluate=EVALUATE, description="planted")
    assert set(scores["test"]) == {"records", "member", "score"}
    b_scores, b_records = baselines.calibrated((feats, *sets["test"]), (feats, *sets["train"]),
                                               evaluate=EVALUATE, calibrated_on="known records")
    assert set(b_records) == set(baselines.BASELINES)
    assert np.array_equal(b_scores["records"], scores["test"]["records"])
    pooled = metrics.record("pooled", "pooled", {"test": record["metrics"]["test"]},
                            parties_attacked=[0])
    metrics.save(tmp_path / "metrics.json", {"gradients_1": record, **b_records, "pooled": pooled},
                 scenario="standalone")
    m = check(tmp_path / "metrics.json")
    assert {r["kind"] for r in m["attacks"].values()} == {"supervised", "threshold", "pooled"}
    assert m["attacks"]["gradients_1"]["training"]["n_train"] == {"members": 80, "nonmembers": 80}
    with pytest.raises(jsonschema.ValidationError):  # the schema has teeth
        jsonschema.validate({**m, "attacks": {"x": {**record, "kind": "threshold"}}}, SCHEMA)


# --------------------------------------------------------------------------------------------------
# the difference to the paper: only where the run is the paper's experiment
# --------------------------------------------------------------------------------------------------
PAPER_PROFILE = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
CIFAR_SIZES = paper.SETTINGS["standalone"]["cifar100"]


def scored_record(known: tuple[int, int], seed: int) -> dict:
    """A supervised attack's metrics record on 200 + 200 test records, trained and validated on
    ``known`` (members, non-members) records."""
    rng = np.random.default_rng(seed)
    member = np.r_[np.ones(200), np.zeros(200)]
    scores = np.clip(0.3 * member + rng.uniform(0, 0.7, 400), 0, 1)
    m, n = known
    return metrics.record("supervised", "toy", {"test": metrics.evaluate(scores, member,
                                                                         n_bootstrap=10)},
                          training={"n_train": {"members": m - m // 5, "nonmembers": n - n // 5},
                                    "n_validation": {"members": m // 5, "nonmembers": n // 5}})


def standalone_records(table, *, source, data, arch, sizes, known=None, provenance=None):
    """The records of a stand-alone table on one dataset entry "ds": every attack of the table
    known ``known`` (by attack; default the sizes' known records), plus a threshold baseline."""
    known = known or {}
    provenance = provenance or {"source": source}
    default = (sizes["attack_train_members"], sizes["attack_train_nonmembers"])
    attacks = {a: [scored_record(known.get(a, default), i)] for i, a in enumerate(table.attacks)}
    attacks["loss"] = [{**scored_record(default, 99), "kind": "threshold"}]
    meta = {"train_acc": 1.0, "test_acc": 0.5, "model_cfg": {"arch": arch}}
    records, headers = tables.standalone(table, {"ds": attacks}, {"ds": [meta]},
                                         {"ds": provenance}, {"ds": data},
                                         {"ds": {**sizes, "shadow_train": 1, "shadow_test": 1}},
                                         0.95)
    return pd.DataFrame.from_records(records), headers


def markdown(table, df, headers):
    return tables.to_markdown(df, table.title, table.paper_label, [tables.COMPARABLE_NOTE],
                              headers)


def test_a_real_run_at_the_papers_sizes_shows_the_difference():
    sizes = paper.SETTINGS["standalone"]["purchase100"]
    df, headers = standalone_records(paper.TABLE8, source="real", data="purchase100", arch="fc",
                                     sizes=sizes)
    rows = df[df["paper_accuracy"].notna()]
    assert len(rows) == 3 and rows["not_comparable"].isna().all()
    assert np.allclose(rows["delta_pp"], rows["accuracy"] - rows["paper_accuracy"])
    text = markdown(paper.TABLE8, df, headers)
    assert "Not comparable" not in text and f"| {tables.NOT_COMPARABLE} |" not in text
    assert f"| {rows['delta_pp'].iloc[0]:.1f} |" in text


@pytest.mark.parametrize("source, sizes, reason", [
    ("synthetic", paper.SETTINGS["standalone"]["purchase100"], "stand-in data"),
    ("real", {**paper.SETTINGS["standalone"]["purchase100"], "target_train": 3000},
     "3,000 training records (the paper: 20,000)"),
    ("real", {**paper.SETTINGS["standalone"]["purchase100"], "target_train": 3000,
              "attack_test_members": 1500, "attack_test_nonmembers": 1500},
     "3,000 training records (the paper: 20,000), and 2 other settings differ"),
])
def test_a_stand_in_or_a_smaller_run_shows_no_difference_and_says_why(source, sizes, reason):
    df, headers = standalone_records(paper.TABLE8, source=source, data="purchase100", arch="fc",
                                     sizes=sizes)
    rows = df[df["paper_accuracy"].notna()]
    assert len(rows) == 3 and rows["delta_pp"].isna().all()
    assert (rows["not_comparable"] == reason).all()
    assert df[df["paper_accuracy"].isna()]["not_comparable"].isna().all()  # the baseline
    text = markdown(paper.TABLE8, df, headers)
    assert f"Not comparable with the paper: {reason}." in text
    assert text.count(f"| {tables.NOT_COMPARABLE} |") == 3
    assert "| 67.60 |" in text  # the paper's value stays, for reference


def test_another_model_is_not_compared_with_the_one_the_table_reports():
    # Tables III-VI report CIFAR100-AlexNet alone: Purchase100 is shown beside it, not compared.
    df, _ = standalone_records(paper.TABLE3, source="real", data="purchase100", arch="fc",
                               sizes=paper.SETTINGS["standalone"]["purchase100"])
    assert (df["not_comparable"].dropna() == "the paper's value is CIFAR100-AlexNet's").all()
    df, _ = standalone_records(paper.TABLE3, source="real", data="cifar100", arch="alexnet",
                               sizes=CIFAR_SIZES)
    assert df["not_comparable"].isna().all() and df["delta_pp"].notna().sum() == 4
    df, _ = standalone_records(paper.TABLE8, source="real", data="purchase100", arch="convnet",
                               sizes=paper.SETTINGS["standalone"]["purchase100"])
    assert (df["not_comparable"].dropna()
            == "a convnet model (the paper's is fully connected)").all()


def test_a_dataset_the_paper_did_not_run_has_no_paper_value_and_no_reason():
    sizes = paper.SETTINGS["standalone"]["cifar100"]
    df, headers = standalone_records(paper.TABLE7, source="real", data="fashion_mnist",
                                     arch="convnet", sizes=sizes)
    assert df["paper_accuracy"].isna().all() and df["not_comparable"].isna().all()
    text = markdown(paper.TABLE7, df, headers)
    assert "Not comparable" not in text and f"| {tables.NOT_COMPARABLE} |" not in text


def test_table6_compares_each_row_at_its_known_records():
    # A row whose attacker knew other numbers than the paper's row is labelled; the others compare.
    table = paper.standalone_table("table6", 4)
    known = {a: (m, n) for a, (m, n) in paper.TABLE6_KNOWN.items()}
    other = table.rows[1].attack
    known[other] = (12000, 2000)
    df, headers = standalone_records(table, source="real", data="cifar100", arch="alexnet",
                                     sizes=CIFAR_SIZES, known=known)
    rows = df[df["paper_accuracy"].notna()].set_index("attack")
    assert rows.loc[other, "not_comparable"] == "12,000 known members (the paper: 15,000)"
    assert rows.drop(other)["not_comparable"].isna().all()
    assert rows.drop(other)["delta_pp"].notna().all()
    label = rows.loc[other, "row"]
    assert f"Not comparable with the paper ({label}): 12,000 known members" in markdown(
        table, df, headers)


@pytest.mark.parametrize("table, scenario, why", [
    (paper.TABLE9, "finetune", "200 training records (the paper: 20,000), and 1 other setting "
                               "differs"),
    (paper.TABLE10, "federated", "60 training records per party (the paper: 10,000), and 9 "
                                 "other settings differ")])
def test_the_paper_profile_is_comparable_and_the_test_profile_is_not(table, scenario, why):
    test_profile = yaml.safe_load((ROOT / "config/test.yaml").read_text())
    row = table.rows[0]
    for data in ("purchase100", "texas100"):
        ours = paper.run_setting(PAPER_PROFILE, scenario, data)
        assert table.not_comparable(paper.Run(data, "fc", True, ours), row) is None
    small = paper.run_setting(test_profile, scenario, "purchase100")
    assert table.not_comparable(paper.Run("purchase100", "fc", True, small), row) == why


def test_config_paper_runs_every_setting_the_paper_states():
    # The comparisons trust that config/paper.yaml is the paper's experiment: each of its dataset
    # entries runs what deepleak/paper.py SETTINGS states, and Table VI's known records.
    entries = {"standalone": PAPER_PROFILE["standalone"]["datasets"],
               "finetune": PAPER_PROFILE["finetune"]["datasets"],
               "federated": PAPER_PROFILE["federated"]["datasets"]}
    for scenario, datasets in entries.items():
        for entry in datasets:
            data = PAPER_PROFILE["datasets"][entry].get("data", entry)
            if (scenario, data) == ("federated", "cifar100"):
                # Not stated in full (paper.py SETTINGS): its tables say so instead.
                run = paper.Run(data, PAPER_PROFILE["datasets"][entry]["model"]["arch"], True,
                                paper.run_setting(PAPER_PROFILE, scenario, entry))
                assert "does not state" in paper.TABLE10.not_comparable(
                    run, paper.TABLE10.row("central_passive"))
                continue
            stated = paper.SETTINGS[scenario][data]
            ours = paper.run_setting(PAPER_PROFILE, scenario, entry)
            assert paper.setting_difference(stated, ours) is None, (scenario, entry)
    sizes = PAPER_PROFILE["datasets"]["cifar100_alexnet"]["standalone"]["sizes"]
    known = [(round(fm * sizes["attack_train_members"]),
              round(fn * sizes["attack_train_nonmembers"]))
             for fm, fn in PAPER_PROFILE["standalone"]["knowledge_fractions"]]
    assert known == [(r.setting["attack_train_members"], r.setting["attack_train_nonmembers"])
                     for r in paper.TABLE6.rows]


def test_an_unpublished_copy_is_not_compared_and_says_so():
    # A real-format copy verified against the config's own digests (datasets.<d>.digests), as the
    # paper-profile smoke run's generated archives: never compared with the paper.
    sizes = paper.SETTINGS["standalone"]["purchase100"]
    df, headers = standalone_records(paper.TABLE8, source="real", data="purchase100", arch="fc",
                                     sizes=sizes, provenance={"source": "real",
                                                              "matches_published": False})
    rows = df[df["paper_accuracy"].notna()]
    assert rows["delta_pp"].isna().all()
    assert (rows["not_comparable"] == "not the published data (unpublished copy)").all()
    assert "unpublished copy" in markdown(paper.TABLE8, df, headers)


# --------------------------------------------------------------------------------------------------
# Beyond the paper: every table's Markdown (and the risk page's HTML) from deepleak/tables.py
# --------------------------------------------------------------------------------------------------
def _risk(resolvable: bool) -> dict:
    return {"fpr": 0.001, "n_members": 3, "n_nonmembers": 3, "resolvable": resolvable,
            "exposed": {"lira_online": {"fraction_of_members": 1 / 3}},
            "exposed_by_any": {"fraction_of_members": 2 / 3},
            "most_exposed": [{"record": 17, "member": 1, "label": 4, "target_loss": 0.01234,
                              "score:lira_online": 6.5, "rank:lira_online": 1},
                             {"record": 9, "member": 0, "label": 2, "target_loss": 2.5,
                              "score:lira_online": 1.25, "rank:lira_online": 2}]}


@pytest.mark.parametrize("resolvable", [True, False])
def test_the_risk_section_and_the_report_page_list_the_same_records(resolvable):
    """Table calibrated's per-record risk (Markdown) and the report's page of the most exposed
    records (HTML) come from the same cells and words: the same records, classes, losses, ranks,
    the fraction exposed, and the caveat only where the non-members cannot resolve the FPR."""
    from html import unescape

    from deepleak import tables

    risk = _risk(resolvable)
    md = tables.risk_markdown([("purchase100, r0", risk)])
    page = unescape(tables.risk_html("The 10 most exposed records", "purchase100, r0", risk, []))
    assert "| 17 | yes | 4 | 0.0123 | 6.5 | 1 |" in md and "| 9 | no | 2 | 2.5 | 1.25 | 2 |" in md
    assert ("<td>17</td><td>yes</td><td>4</td><td>0.0123</td><td>6.5</td><td>1</td>" in page
            and "<td>9</td><td>no</td><td>2</td>" in page)
    for text in tables.risk_text(risk):
        assert text in md and text in page
    assert "66.7 % of 3; by each: lira_online 33.3 %." in md
    assert ("FPR of 0 rather than 0.1 %" in md) is (not resolvable)


def test_table_dp_says_why_a_tpr_is_missing():
    """Table DP's TPR cell, as every table's: a TPR the test set cannot realise reads why."""
    from deepleak import metrics, tables

    key = metrics.tpr_key(0.01)
    row = {"dataset": "d", "privacy": "ε = 4", "accountant_epsilon": 3.99, "test_acc": 50.0,
           "row": "LiRA online", "auc": 0.5, "auc_ci_low": 0.4, "auc_ci_high": 0.6,
           key: float("nan"), "audit_epsilon_lower": 0.0, "audit_epsilon": float("inf"),
           "audit_epsilon_upper": float("inf"), "audit_max_resolvable": 2.5}
    md = tables.dp_markdown(pd.DataFrame([row, {**row, key: 2.5, f"{key}_ci_low": 1.0,
                                                f"{key}_ci_high": 4.0}]),
                            title="T", tpr_fpr=0.01, dataset_headers={}, notes=["n"])
    assert "| ε = 4 | 3.99 | 50.0 | LiRA online | 0.500 [0.400, 0.600] | n/a (needs >= 100 " \
           "non-members) | 0.00 | ∞, ≤ ∞ | 2.50 |" in md
    assert "| 2.50 [1.00, 4.00] |" in md and md.startswith("# T\n\n- n\n\n## d\n\n| Target |")
