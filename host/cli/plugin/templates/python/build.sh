#!/usr/bin/env bash
# Build the plugin as a WASI component: {{id}}.wasm beside this script.
set -euo pipefail
cd "$(dirname "$0")"
tools="${RAPHA_TOOLS:-$HOME/.cache/rapha-host/tools}/python"
if [ ! -x "$tools/bin/componentize-py" ]; then
    echo "build.sh: componentize-py not found in \`$tools\`: run scripts/toolchain/python.sh" \
        "from the rapha-host repository, or \`python3 -m venv $tools &&" \
        "$tools/bin/pip install componentize-py==0.25.1\` (set RAPHA_TOOLS to use another folder)" >&2
    exit 1
fi
# componentize-py bundles CPython, imports `app` (and what it imports from this folder)
# while it builds, and snapshots the result: module-level work costs nothing per call.
"$tools/bin/componentize-py" --quiet --wit-path wit --world task-plugin \
    componentize app --python-path . --output {{id}}.wasm
echo "built {{id}}.wasm; next: rapha-host plugin check {{id}}.wasm --data data/val.jsonl"
