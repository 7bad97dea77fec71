#!/usr/bin/env bash
# Mutation testing (issue 9, point 8): mutmut 3 over the modules that decide who is a member and how
# an attack is scored (splits, features, metrics, baselines, attack), killed by their fast tests
# (tests/test_planted_units.py: planted membership at the library level, under a second a test;
# tests/test_planted.py, the same through the rule scripts, is too slow to run per mutant).
# Test-only, not in CI:
#   .venv/bin/pip install mutmut            # 3.x
#   benchmarks/mutation.sh [WORKDIR]        # then: cd WORKDIR && mutmut results / mutmut show NAME
# About 25 minutes on one core. mutmut names modules by their path under ./ or src/ and DeepLeak's
# library lives in scripts/, so the run happens in a scratch copy with scripts/ as src/. WORKDIR
# (default $TMPDIR/deepleak-mutmut) keeps mutmut's results: a rerun retries only what changed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-${TMPDIR:-/tmp}/deepleak-mutmut}
BIN=${VENV_BIN:-$ROOT/.venv/bin}
mkdir -p "$WORK"
rm -rf "$WORK/src" "$WORK/tests"
cp -a "$ROOT/scripts" "$WORK/src"    # -a keeps mtimes: mutmut reuses the mutants of unchanged files
cp -a "$ROOT/tests" "$WORK/tests"
find "$WORK/src" "$WORK/tests" -name __pycache__ -prune -exec rm -rf {} +
# Adam's first use imports torch._dynamo (seconds): import it once in mutmut's fork server, not
# once per mutant.
printf 'import torch._dynamo  # noqa: F401\n' > "$WORK/tests/conftest.py"
cat > "$WORK/pyproject.toml" <<'TOML'
[tool.pytest.ini_options]
pythonpath = ["src"]
testpaths = ["tests"]
markers = ["e2e: end-to-end runs of the Snakemake DAG (slow)"]

[tool.mutmut]
source_paths = ["src"]
only_mutate = ["src/deepleak/splits.py", "src/deepleak/features.py", "src/deepleak/metrics.py",
               "src/deepleak/baselines.py", "src/deepleak/attack.py"]
pytest_add_cli_args = ["-p", "no:cacheprovider"]
pytest_add_cli_args_test_selection = ["tests/test_splits.py", "tests/test_metrics.py",
                                      "tests/test_planted_units.py",
                                      "tests/test_attack.py::test_multi_observation_model_shapes"]
# Error messages and log lines are not mutated (a changed message is no wrong result).
do_not_mutate_patterns = ['^\s*raise ', '\blog\.(info|warning|debug)\(']
process_isolation = "forkserver"  # torch is not fork-safe once the stats run has used it
timeout_multiplier = 3.0
timeout_constant = 10.0
TOML
cd "$WORK"
OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 "$BIN/mutmut" run --max-children "${MAX_CHILDREN:-1}" || true
"$BIN/mutmut" export-cicd-stats >/dev/null 2>&1 && cat mutants/mutmut-cicd-stats.json || true
