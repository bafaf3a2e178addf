# Two commands do all the set-up on a fresh machine (Python >= 3.11):
#   make reproduce   install, then run the whole DAG on the embedded default (synthetic replica)
#   make test        install, then run the test suite
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
CORES ?= all

.PHONY: install reproduce test efficiency dvc-repro clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

reproduce: install
	PATH=$(abspath $(BIN)):$$PATH snakemake --cores $(CORES)

efficiency: install
	PATH=$(abspath $(BIN)):$$PATH snakemake --cores $(CORES) efficiency

dvc-repro: install
	PATH=$(abspath $(BIN)):$$PATH dvc repro

test: install
	PATH=$(abspath $(BIN)):$$PATH python -m pytest -q

clean:
	rm -rf data exp checkpoints logs slurm-logs .snakemake
