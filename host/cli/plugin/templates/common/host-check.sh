#!/usr/bin/env bash
# The built component through the host on this project's own data: build it, `plugin check`
# on data/val.jsonl, `plugin score` of data/predictions.jsonl. test.sh runs it after the
# native tests.
set -euo pipefail
cd "$(dirname "$0")"
rapha_host="${RAPHA_HOST:-$(command -v rapha-host || true)}"
if [ -z "$rapha_host" ] || [ ! -x "$rapha_host" ]; then
    echo "host-check.sh: rapha-host not found: put it on PATH or set RAPHA_HOST to its path" >&2
    exit 1
fi
./build.sh
"$rapha_host" plugin check {{id}}.wasm --data data/val.jsonl
"$rapha_host" plugin score {{id}}.wasm --data data/val.jsonl --predictions data/predictions.jsonl
