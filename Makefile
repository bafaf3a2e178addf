# Two commands do all the set-up on a fresh machine (Python >= 3.11):
#   make reproduce   install, then run the whole DAG on the embedded default (synthetic replicas)
#   make test        install, then run the test suite
#
# `make install` installs requirements.lock (every package, pinned, hash-checked) into .venv: the
# versions that made the committed tables. `make lock` regenerates the lock after a change to
# pyproject.toml, keeping every other pin; `make lock-upgrade` moves every package to its newest
# release within pyproject.toml's ranges (a deliberate update: run `make test` and the DAG after it).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
CORES ?= all
LOCK := requirements.lock
TOOLS := .tools
UV_VERSION := 0.13.9
UV_COMPILE = $(TOOLS)/bin/uv pip compile pyproject.toml --extra test --universal --python-version 3.11 \
	--generate-hashes --output-file $(LOCK)

.PHONY: install reproduce test efficiency dvc-repro dvc-yaml lock lock-upgrade clean

install: $(VENV)/.installed

$(VENV)/.installed: $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -c "import hashlib, sys; print(hashlib.sha256(open('$(LOCK)', 'rb').read()).hexdigest()[:12])" \
		> $(VENV)/summarymixing-lock.sha256
	$(BIN)/python -m summarymixing.environment
	touch $@

reproduce: install
	PATH=$(abspath $(BIN)):$$PATH snakemake --cores $(CORES)

efficiency: install
	PATH=$(abspath $(BIN)):$$PATH snakemake --cores $(CORES) efficiency

dvc-repro: install
	PATH=$(abspath $(BIN)):$$PATH dvc repro

test: install
	PATH=$(abspath $(BIN)):$$PATH python -m pytest -q

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet uv==$(UV_VERSION)

lock: $(TOOLS)/bin/uv
	$(UV_COMPILE)

lock-upgrade: $(TOOLS)/bin/uv
	$(UV_COMPILE) --upgrade

clean:
	rm -rf data exp checkpoints logs slurm-logs .snakemake
