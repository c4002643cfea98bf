# The two commands of the README work on a fresh machine with Python 3.11 and make. They create .venv on
# first use, install uv into it from PyPI (about 4x faster than pip here, with visible progress), and
# reinstall only when pyproject.toml changes: `make compile` installs what compiling needs, `make test`
# adds the test extras. Without uv (no wheel for the platform), pip does the same job.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
TESTING := $(VENV)/.installed-test
EXTRAS_RUNTIME := joblib,submitit
EXTRAS_TEST := dev,joblib,submitit
# `uv pip install` when uv is there, else pip (expanded when a recipe runs, after uv was installed);
# both print what they resolve, fetch and install
# (--compile-bytecode: like pip, so the first compile does not pay for compiling every dependency's .pyc)
INSTALL = $(if $(wildcard $(BIN)/uv),$(BIN)/uv pip install --compile-bytecode --python $(BIN)/python,$(BIN)/python -m pip install)

.PHONY: compile test check lint bench clean

$(BIN)/python:
	@echo "dsc: creating $(VENV) with $(PYTHON) and installing uv into it"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check uv || echo "dsc: no uv for this platform, using pip"

$(RUNTIME): pyproject.toml | $(BIN)/python
	@echo "dsc: installing dsc and what compiling needs into $(VENV)"
	$(INSTALL) -e '.[$(EXTRAS_RUNTIME)]'
	touch $(RUNTIME)

$(TESTING): pyproject.toml $(RUNTIME)
	@echo "dsc: adding the test extras into $(VENV)"
	$(INSTALL) -e '.[$(EXTRAS_TEST)]'
	touch $(TESTING)

compile: $(RUNTIME)
	$(BIN)/dsc compile $(ARGS)

test: $(TESTING)
	$(BIN)/python -m pytest -q -n 2 -p no:cacheprovider

lint: $(TESTING)
	$(BIN)/ruff check compiler tests bench
	$(BIN)/ruff format --check compiler tests bench
	$(BIN)/mypy compiler
	$(BIN)/lint-imports

check: lint test

bench: $(TESTING)
	$(INSTALL) -e '.[bench]'
	for b in compile coverage dedupe lm_fanout evidence sweep startup; do $(BIN)/python bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) .dsc .pytest_cache .mypy_cache .ruff_cache
