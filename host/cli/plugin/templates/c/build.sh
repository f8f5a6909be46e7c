#!/usr/bin/env bash
# Build the plugin as a WASI component: {{id}}.wasm beside this script.
#
# 1. `rapha-host plugin bindings --lang c` writes the contract's C bindings (wit-bindgen's
#    task_plugin.h/.c and the component type object) into a temporary folder;
# 2. PyPI's `ziglang` compiles app.c and them for `wasm32-wasi` as a reactor module (no
#    `main`), with wasi-libc;
# 3. `rapha-host plugin componentize` wraps the module into a WASI preview-2 component with
#    the preview-1 adapter of the wasmtime that rapha-host runs.
set -euo pipefail
cd "$(dirname "$0")"
tools="${RAPHA_TOOLS:-$HOME/.cache/rapha-host/tools}/c"
python="${PYTHON:-python3}"
if [ ! -f "$tools/ziglang/__main__.py" ]; then
    echo "build.sh: the C toolchain (PyPI's ziglang) is not in \`$tools\`: run" \
        "scripts/toolchain/c.sh from the rapha-host repository, or" \
        "\`$python -m pip install --target $tools ziglang==0.15.1\`" \
        "(set RAPHA_TOOLS to use another folder)" >&2
    exit 1
fi
rapha_host="${RAPHA_HOST:-$(command -v rapha-host || true)}"
if [ -z "$rapha_host" ] || [ ! -x "$rapha_host" ]; then
    echo "build.sh: rapha-host not found: put it on PATH or set RAPHA_HOST to its path" >&2
    exit 1
fi
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
"$rapha_host" plugin bindings --lang c --out "$build/bindings" >/dev/null
# Zig caches the compiled wasi-libc here: the first build takes a minute, later ones seconds.
export ZIG_GLOBAL_CACHE_DIR="${ZIG_GLOBAL_CACHE_DIR:-$tools/zig-cache}"
PYTHONPATH="$tools" "$python" -m ziglang cc -target wasm32-wasi -mexec-model=reactor \
    -std=c11 -O2 -Wall -Wextra -Wl,--strip-debug -Wl,-z,stack-size=1048576 \
    -I "$build/bindings" -o "$build/core.wasm" \
    ./*.c "$build/bindings/task_plugin.c" "$build/bindings/task_plugin_component_type.o"
"$rapha_host" plugin componentize "$build/core.wasm" --out {{id}}.wasm >/dev/null
echo "built {{id}}.wasm; next: rapha-host plugin check {{id}}.wasm --data data/val.jsonl"
