#!/usr/bin/env bash
# Test the plugin: its native unit tests (test/, Node's own test runner, no npm packages),
# then the built component through the host on the skeleton's own data: `plugin check` on
# data/val.jsonl and `plugin score` of data/predictions.jsonl.
set -euo pipefail
cd "$(dirname "$0")"
node --test --test-reporter=dot test/*.test.js
rapha_host="${RAPHA_HOST:-$(command -v rapha-host || true)}"
if [ -z "$rapha_host" ] || [ ! -x "$rapha_host" ]; then
    echo "test.sh: rapha-host not found: put it on PATH or set RAPHA_HOST to its path" >&2
    exit 1
fi
./build.sh
"$rapha_host" plugin check {{id}}.wasm --data data/val.jsonl
"$rapha_host" plugin score {{id}}.wasm --data data/val.jsonl --predictions data/predictions.jsonl
