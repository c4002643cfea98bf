# The two commands of the README work on a fresh machine with Python 3.11 and make:
# they create .venv on first use and reinstall only when pyproject.toml changes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: compile test check lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,joblib,submitit]'
	touch $(STAMP)

compile: $(STAMP)
	$(BIN)/dsc compile $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check compiler tests bench
	$(BIN)/ruff format --check compiler tests bench
	$(BIN)/mypy compiler
	$(BIN)/lint-imports

check: lint test

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	for b in compile coverage dedupe lm_fanout evidence sweep; do $(BIN)/python bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) .dsc .pytest_cache .mypy_cache .ruff_cache
