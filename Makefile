# DeepLeak's two entry points (README, "Quick start"):
#   make        install into .venv, then run the default pipeline (offline, CPU)
#   make test   install into .venv, then run the test suite (what CI runs)
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
CORES ?= all

.PHONY: all pipeline test install data-packages report lint clean

all: pipeline

# The venv is rebuilt when the dependency list changes. torch/torchvision are pinned in pyproject.toml.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
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

pipeline: install
	$(BIN)/snakemake --cores $(CORES)

test: install
	$(BIN)/python -m pytest

report: pipeline
	$(BIN)/snakemake --report report.html

lint: install
	$(BIN)/ruff check scripts tests benchmarks

clean:
	rm -rf results/*/ results/tables figures/*/ figures/*.png figures/*.pdf logs benchmarks/*/ .snakemake
