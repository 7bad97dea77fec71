# DeepLeak's two entry points (README, "Quick start"):
#   make        install into .venv, then run the default pipeline (offline, CPU)
#   make test   install into .venv, then run the test suite (what CI runs; as root on Debian it
#               also sets up a single-node SLURM cluster for tests/test_slurm.py)
#   make test-fast   the unit tests only (no whole-DAG runs): the quick loop while editing
#   make readme      rewrite the README's results section from the last run (scripts/readme_results.py)
#   make benchmarks  time and peak memory per step of the last run (results/benchmarks.md)
#   make audit AUDIT=my-audit.yaml   the paper's attacks on your own model, and audit.html
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
CORES ?= all

.PHONY: all pipeline test test-fast install data-packages report readme benchmarks lint clean audit

all: pipeline

# The venv is rebuilt when the dependency list changes. torch/torchvision are pinned in pyproject.toml.
# The `cluster` extra (the SLURM executor plugin) too: `make test` submits a DAG to a single-node
# SLURM cluster (tests/test_slurm.py), so a fresh CI machine needs it, and it is small.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,cluster]"
	touch $@

install: $(BIN)/.installed data-packages

# Fashion-MNIST for the offline image dataset: Debian's package installs the real IDX files. Skipped with a
# note where apt-get is not available (the pipeline then says how to get the files).
data-packages:
	@if [ -d /usr/share/datasets/fashion-mnist ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
		|| echo "note: could not install dataset-fashion-mnist; see README, 'Datasets'"; \
	else echo "note: install Debian's dataset-fashion-mnist or see README, 'Datasets'"; fi

# A run from an empty results/ also records its wall time, job count and the machine's load in
# results/make_time.json, which `make readme` shows (NOTE="..." says what else ran meanwhile).
pipeline: install
	@mkdir -p results logs
	@fresh=$$([ -e results/tables ] && echo no || echo yes); start=$$(date +%s); \
	load0=$$(cut -d' ' -f1 /proc/loadavg 2>/dev/null); \
	$(BIN)/snakemake --cores $(CORES) 2>&1 | tee logs/make.log; rc=$${PIPESTATUS[0]}; \
	if [ "$$fresh" = yes ] && [ $$rc = 0 ]; then \
		jobs=$$(grep -o 'of [0-9]* steps' logs/make.log | tail -1 | tr -dc 0-9); \
		printf '{"seconds": %d, "jobs": %s, "cores": %d, "date": "%s", "load_before": "%s", "load_after": "%s", "note": "%s"}\n' \
			$$(( $$(date +%s) - start )) "$${jobs:-0}" $$(nproc) "$$(date -u +%Y-%m-%d)" "$$load0" \
			"$$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)" "$(NOTE)" > results/make_time.json; fi; \
	exit $$rc

# Both lint first: CI runs `make test`, so a style error fails there, not in a reviewer's checkout.
test: lint
	$(BIN)/python -m pytest --durations=15

test-fast: lint
	$(BIN)/python -m pytest -m "not e2e"

# README, "Audit your own model": the audit its config describes, then its HTML report.
AUDIT ?= config/audit_resnet.yaml
audit: install
	$(BIN)/snakemake --cores $(CORES) audit --configfile $(AUDIT)
	$(BIN)/snakemake --report audit.html audit --configfile $(AUDIT)

readme:
	$(BIN)/python scripts/readme_results.py

# BEFORE=<an earlier run's benchmarks folder> adds a before / after column per step.
benchmarks:
	$(BIN)/python scripts/benchmark_table.py $(if $(BEFORE),--before $(BEFORE))

report: pipeline
	$(BIN)/snakemake --report report.html

lint: install
	$(BIN)/ruff check scripts tests benchmarks

clean:
	rm -rf results/*/ results/tables figures/*/ figures/*.png figures/*.pdf logs benchmarks/*/ .snakemake
