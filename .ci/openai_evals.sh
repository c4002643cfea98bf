#!/usr/bin/env bash
# Installs OpenAI evals into a cache folder once and prints the folder (put it on PYTHONPATH to run oaieval).
# evals 3.0.1 pins half of PyPI (tensorflow, spacy, playwright, ...) that `oaieval` never imports for a
# model-graded eval, so it goes in with --no-deps plus the few modules its CLI does import.
# tests/export/test_export_openai_evals.py reads DSC_OPENAI_EVALS_HOME. Re-running with the cache in place costs nothing.
set -euo pipefail
EVALS_VERSION=3.0.1.post1
python="${PYTHON:-python3}"  # the Python the tests run on
py=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')  # lz4 is a compiled wheel
home="${DSC_OPENAI_EVALS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/dsc/openai-evals-$EVALS_VERSION-py$py}"
if [ ! -f "$home/.installed" ]; then
    rm -rf "$home" && mkdir -p "$home"
    "$python" -m pip install --quiet --disable-pip-version-check --target "$home" --no-deps "evals==$EVALS_VERSION" >&2
    "$python" -m pip install --quiet --disable-pip-version-check --target "$home" \
        blobfile backoff aiolimiter termcolor dacite fire lz4 >&2
    touch "$home/.installed"
fi
echo "$home"
