#!/usr/bin/env bash
# Build the summarisation-js plugin into a WASI component: build.sh OUT.wasm
#
# jco componentizes src/app.js against the repository's wit/ with the QuickJS backend,
# synchronous (no component-model async ABI, which the host does not enable) and with
# every WASI import replaced by a trap: the component imports nothing, so the host has
# nothing to deny. The toolchain is found in $RAPHA_TOOLS/js (scripts/toolchain/js.sh).
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 OUT.wasm" >&2
    exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
tools="${RAPHA_TOOLS:-$HOME/.cache/rapha-host/tools}/js"
jco="$tools/node_modules/.bin/jco"
if [ ! -x "$jco" ]; then
    echo "build.sh: jco not found in \`$tools\`: run scripts/toolchain/js.sh (set RAPHA_TOOLS to use another folder)" >&2
    exit 1
fi
mkdir -p "$(dirname "$1")"
out="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
# jco runs the build from the source's folder; absolute paths keep it independent of that.
"$jco" componentize "$here/src/app.js" --wit "$here/../../wit" --world-name task-plugin \
    --backend qjs --backend-qjs-disable-async --backend-qjs-stub-wasi --out "$out" >/dev/null
echo "built summarisation-js: $out ($(wc -c <"$out") bytes)"
