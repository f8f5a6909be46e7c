#!/usr/bin/env bash
# Build the `trial-matching-c` plugin component: `build.sh OUT.wasm`.
#
# The C sources are compiled for `wasm32-wasi` (a preview-1 reactor module) by PyPI's
# `ziglang` from `$RAPHA_TOOLS/c` (scripts/toolchain/c.sh installs it), next to the C
# bindings that `rapha-host plugin bindings --lang c` writes; `rapha-host plugin
# componentize` then wraps the module into a WASI preview-2 component. rapha-host is
# `$RAPHA_HOST`, or `rapha-host` on PATH. Intermediates go to a temporary folder, and
# zig's cache to `$RAPHA_TOOLS/c/zig-cache`.
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 OUT.wasm" >&2
    exit 2
fi
out="$1"
here="$(cd "$(dirname "$0")" && pwd)"
tools="${RAPHA_TOOLS:-$HOME/.cache/rapha-host/tools}/c"
python="${PYTHON:-python3}"
if [ ! -f "$tools/ziglang/__main__.py" ]; then
    echo "error: no C toolchain in \`$tools\`: run scripts/toolchain/c.sh" >&2
    exit 1
fi
rapha_host="${RAPHA_HOST:-$(command -v rapha-host || true)}"
if [ -z "$rapha_host" ] || [ ! -x "$rapha_host" ]; then
    echo "error: rapha-host not found: put it on PATH or set RAPHA_HOST" >&2
    exit 1
fi
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
"$rapha_host" plugin bindings --lang c --out "$build/bindings" >/dev/null
export ZIG_GLOBAL_CACHE_DIR="${ZIG_GLOBAL_CACHE_DIR:-$tools/zig-cache}"
PYTHONPATH="$tools" "$python" -m ziglang cc -target wasm32-wasi -mexec-model=reactor \
    -std=c11 -O2 -Wall -Wextra -Werror -Wno-missing-field-initializers \
    -Wl,--strip-debug -Wl,-z,stack-size=1048576 \
    -I "$build/bindings" -o "$build/core.wasm" \
    "$here"/src/*.c "$build/bindings/task_plugin.c" \
    "$build/bindings/task_plugin_component_type.o"
"$rapha_host" plugin componentize "$build/core.wasm" --out "$out" >/dev/null
echo "built \`$out\` ($(wc -c <"$out") bytes)"
