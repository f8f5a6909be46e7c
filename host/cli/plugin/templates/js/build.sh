#!/usr/bin/env bash
# Build the plugin as a WASI component: {{id}}.wasm beside this script.
#
# jco componentizes app.js against wit/ with the QuickJS engine, with synchronous exports
# (the host does not enable the component-model async ABI). The engine keeps its WASI
# imports so that an uncaught exception's message and stack reach the plugin's log (the
# host grants nothing else through them); `--backend-qjs-stub-wasi` replaces them all by
# traps, for a component that imports nothing.
set -euo pipefail
cd "$(dirname "$0")"
tools="${RAPHA_TOOLS:-$HOME/.cache/rapha-host/tools}/js"
if [ ! -x "$tools/node_modules/.bin/jco" ]; then
    echo "build.sh: jco not found in \`$tools\`: run scripts/toolchain/js.sh" \
        "from the rapha-host repository, or \`npm install --prefix $tools" \
        "@bytecodealliance/jco@1.35.0 componentize-qjs@0.4.5\` (set RAPHA_TOOLS to use another folder)" >&2
    exit 1
fi
# jco runs the build from the source's folder: absolute paths keep it from looking elsewhere.
"$tools/node_modules/.bin/jco" componentize "$PWD/app.js" --wit "$PWD/wit" --world-name task-plugin \
    --backend qjs --backend-qjs-disable-async --out "$PWD/{{id}}.wasm" >/dev/null
echo "built {{id}}.wasm; next: rapha-host plugin check {{id}}.wasm --data data/val.jsonl"
