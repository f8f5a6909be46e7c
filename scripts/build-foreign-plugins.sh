#!/usr/bin/env bash
# Install the Python, JavaScript and C plugin toolchains and build the task plugins written
# in those languages. (`tests/e2e/newcomer.rs` takes a `plugin new` skeleton of every
# language through its own test.sh with these toolchains.)
#
# 1. Installs each language's toolchain (pinned, from PyPI and npm, no root) under
#    $RAPHA_TOOLS (default ~/.cache/rapha-host/tools) with scripts/toolchain/<lang>.sh.
# 2. Runs each plugin's native tests (plugins/<id>/test.sh), then builds it
#    (plugins/<id>/build.sh) into plugins/dist/<id>.wasm, where the e2e tests and the
#    languages benchmark look for it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rapha-host/target}"
export RAPHA_TOOLS="${RAPHA_TOOLS:-$HOME/.cache/rapha-host/tools}"

rustup target add wasm32-wasip2 >/dev/null
cargo build --locked -p rapha-host
export RAPHA_HOST="$CARGO_TARGET_DIR/debug/rapha-host"
export PATH="$(dirname "$RAPHA_HOST"):$PATH"

for lang in python js c; do
    scripts/toolchain/$lang.sh
done

mkdir -p plugins/dist
for id in icd-coding-py summarisation-js trial-matching-c; do
    echo "== $id"
    "plugins/$id/test.sh"
    "plugins/$id/build.sh" "plugins/dist/$id.wasm"
done

echo "built the foreign-language plugins into plugins/dist/"
