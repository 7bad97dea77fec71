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
import pytest
import torch
from deepleak import (
    artifacts,
    attack,
    baselines,
    features,
    metrics,
    models,
    paper,
    training,
    variants,
)

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "workflow/schemas/metrics.schema.json").read_text())
HP = dict(component_widths=[16, 8], gradient_widths=[16, 8], kernels=2, encoder_widths=[16, 8],
          dropout=0.0, init_std=0.01, lr=0.003, batch_size=32, epochs=3)
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
