# Two commands on a fresh machine (python3.11, git, make): `make reproduce` and `make test`.
# Offline: export SMOOTHGRAD_DATA_MIRROR=/path/to/a/mirror (e.g. ../shared/data).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv data reproduce test test-all smoke-check lint clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Fetch + verify; a corrupt file is fetched again (bad copy to .smoothgrad-quarantine/). Then
# record the verified files in DVC's cache so `dvc status` is clean.
data: venv
	$(BIN)/python -m smoothgrad.data.fetch
	$(BIN)/dvc commit --force --quiet data.dvc

reproduce: data
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

lint: venv
	$(BIN)/ruff check .

test: venv lint
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

test-all: venv lint
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -m ""

# CI's determinism check: smoke pipeline in a clean clone, then `dvc repro` (nothing may run) and
# `dvc repro --force` (byte-identical outputs). SMOKE_FLAGS=--worktree checks uncommitted files too.
smoke-check: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python .ci/smoke_check.py --repo . $(SMOKE_FLAGS)
