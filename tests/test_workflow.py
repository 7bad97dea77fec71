"""End to end: the whole DAG on config/test.yaml, twice from scratch, with byte-identical tables."""
import filecmp
import subprocess
import sys
from pathlib import Path

import pytest
from workdir import env, fresh_copy

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


def snakemake(workdir, *args):
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/test.yaml",
           *args]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env(workdir))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    dirs = []
    for name in ("first", "second"):
        work = fresh_copy(base / name)
        out = snakemake(work)
        assert out.returncode == 0, out.stderr[-5000:]
        dirs.append(work)
    return dirs


def test_every_target_is_produced(runs):
    first = runs[0]
    dry = snakemake(first, "-n")
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr
    for table in ("table3", "table4", "table5", "table6", "table8"):
        assert (first / f"results/tables/{table}.csv").stat().st_size > 0
        assert "Paper" in (first / f"results/tables/{table}.md").read_text()
    for figure in ("figure3", "figure4"):
        assert (first / f"figures/{figure}.png").stat().st_size > 0
        assert (first / f"figures/{figure}.pdf").stat().st_size > 0
    assert list((first / "figures/roc").rglob("*.png"))


def test_finetune_and_other_knowledge_targets_are_produced(runs):
    # Table VII (unsupervised and shadow-model attacks), Table IX (fine-tuning) and Figure 5.
    first = runs[0]
    assert "Unsupervised" in (first / "results/tables/table7.md").read_text()
    assert "D vs D_Δ" in (first / "results/tables/table9.md").read_text()
    for ext in ("png", "pdf"):
        assert (first / f"figures/figure5.{ext}").stat().st_size > 0


def test_federated_targets_are_produced(runs):
    # The federated scenario (workflow/rules/federated.smk): Tables X, XII, XIII and Figure 7.
    first = runs[0]
    for table in ("table10", "table12", "table13"):
        assert (first / f"results/tables/{table}.csv").stat().st_size > 0
        assert "Paper" in (first / f"results/tables/{table}.md").read_text()
    assert "Global model test acc." in (first / "results/tables/table10.md").read_text()
    assert (first / "figures/figure7.png").stat().st_size > 0
    assert (first / "figures/figure7.pdf").stat().st_size > 0


def test_image_targets_are_produced(runs):
    # The tiny CNN case: real Fashion-MNIST images (deepleak/images.py), a convnet whose conv
    # layers' gradients are stored as per-channel reductions, and the per-class Figures 2 and 6.
    import numpy as np

    first = runs[0]
    assert "fashion_mnist (real), convnet" in (first / "results/tables/table8.md").read_text()
    with np.load(first / "results/fashion_mnist/standalone/r0/features/target.npz") as feats:
        assert {"conv_grad_channel_norms/conv1", "h_in/fc2"} <= set(feats.files)
    for figure in ("figure2", "figure6"):
        assert (first / f"figures/{figure}.png").stat().st_size > 0
        assert (first / f"figures/{figure}.pdf").stat().st_size > 0


def test_dp_targets_are_produced(runs):
    # Beyond the paper: DP-SGD targets, their attacks and audit (table_dp, figure_dp).
    first = runs[0]
    md = (first / "results/tables/table_dp.md").read_text()
    assert "Accountant ε" in md and "clip-only" in md and "non-private" in md
    assert (first / "figures/figure_dp.png").stat().st_size > 0
    # LiRA on every level (config/test.yaml's dp.calibrated_attacks), its DP reference models
    # trained with each DP target's own noise multiplier.
    import json

    rows = [line for line in md.splitlines() if line.startswith("| ") and "LiRA online" in line]
    assert len(rows) == 3  # eps4, clip-only, non-private
    run = first / "results/purchase100/dp/r0"
    for level in ("eps4", "clip_only"):
        meta = json.loads((run / f"models/{level}/meta.json").read_text())
        refs = json.loads((run / f"calibration/{level}/references.json").read_text())
        assert len(refs["privacy"]) == 4
        assert {p["noise_multiplier"] for p in refs["privacy"]} == {
            meta["privacy"]["noise_multiplier"]}


def test_every_metrics_json_follows_the_schema(runs):
    # One record shape on disk for every attack of every scenario
    # (workflow/schemas/metrics.schema.json).
    import json

    import jsonschema
    from deepleak import metrics

    schema = json.loads((ROOT / "workflow/schemas/metrics.schema.json").read_text())
    files = sorted((runs[0] / "results").rglob("metrics.json"))
    records = [json.loads(p.read_text()) for p in files]
    for path, record in zip(files, records, strict=True):
        try:
            jsonschema.validate(record, schema)
        except jsonschema.ValidationError as err:
            pytest.fail(f"{path.relative_to(runs[0])}: {err.message}")
    assert {m["context"]["scenario"] for m in records} == {"standalone", "finetune", "federated"}
    assert {r["kind"] for m in records for r in m["attacks"].values()} == set(metrics.KINDS)


def test_tables_are_byte_identical_across_runs(runs):
    first, second = runs
    tables = sorted((first / "results/tables").iterdir())
    assert tables
    for path in tables:
        assert filecmp.cmp(path, second / "results/tables" / path.name, shallow=False), path.name


def test_named_target_builds_only_what_it_needs(runs):
    # Removing one table and asking for it by name reruns that table's job alone.
    first = runs[0]
    (first / "results/tables/table8.csv").unlink()
    dry = snakemake(first, "-n", "table8")
    assert dry.returncode == 0
    assert "make_standalone_table" in dry.stdout and "train_model" not in dry.stdout


def test_claims_table_is_produced_and_reruns_alone(runs):
    # The claims table (rule make_claims) judges the paper's claims on this run; editing its
    # script reruns that table and nothing else.
    first = runs[0]
    md = (first / "results/tables/claims.md").read_text()
    assert "## Summary" in md and "White-box (gradients) > Black-box" in md
    with open(first / "scripts/make_claims.py", "a") as script:
        script.write("\n# edited\n")
    dry = snakemake(first, "-n", "claims")
    assert dry.returncode == 0 and "make_claims" in dry.stdout
    assert not any(rule in dry.stdout for rule in ("make_standalone_table", "train_model"))


def test_calibrated_targets_are_produced(runs):
    # The calibrated attacks (LiRA, RMIA, white-box LiRA) on config/test.yaml's 4 reference models:
    # the table, the white-box comparison, the ROC figure, the per-record risk, the mask artifact.
    import numpy as np

    first = runs[0]
    md = (first / "results/tables/table_calibrated.md").read_text()
    assert "LiRA online" in md and "RMIA offline" in md and "White-box LiRA" in md
    assert "Did the white-box signals help?" in md and "most exposed records" in md
    assert (first / "results/tables/table_calibrated_whitebox.csv").stat().st_size > 0
    for ext in ("png", "pdf"):
        assert (first / f"figures/calibrated_roc/purchase100/r0.{ext}").stat().st_size > 0
    run = first / "results/purchase100/standalone/r0"
    assert (run / "risk/records.csv").stat().st_size > 0
    with np.load(run / "calibration/mask.npz") as drawn:
        assert (drawn["mask"].sum(0) == 2).all()  # every pool record IN for half of the 4
    with np.load(run / "calibration/references.npz") as refs:
        assert refs["logit_confidence"].shape[0] == 4 and not any(
            name.endswith((".weight", ".bias")) for name in refs.files)  # statistics, no models
