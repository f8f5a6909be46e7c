#!/usr/bin/env bash
# Build the task plugins written in Python, JavaScript and C, and prove that a skeleton of
# every language `rapha-host plugin new` offers builds into a component the host loads.
#
# 1. Installs each language's toolchain (pinned, from PyPI and npm, no root) under
#    $RAPHA_TOOLS (default ~/.cache/rapha-host/tools) with scripts/toolchain/<lang>.sh.
# 2. Runs each plugin's native tests (plugins/<id>/test.sh), then builds it
#    (plugins/<id>/build.sh) into plugins/dist/<id>.wasm, where the e2e tests and the
#    languages benchmark look for it.
# 3. Writes a skeleton per language with `rapha-host plugin new`, builds it with its own
#    build.sh and loads it with `rapha-host plugin info`.
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

skeletons="$(mktemp -d)"
trap 'rm -rf "$skeletons"' EXIT
for lang in rust python js c; do
    echo "== skeleton: $lang"
    "$RAPHA_HOST" plugin new --lang "$lang" "skeleton-$lang" --out "$skeletons" >/dev/null
    # A Rust skeleton builds in a folder of its own in the shared target folder.
    CARGO_TARGET_DIR="$CARGO_TARGET_DIR/skeletons" "$skeletons/skeleton-$lang/build.sh"
    "$RAPHA_HOST" --work "$skeletons/work" plugin info "$skeletons/skeleton-$lang/skeleton-$lang.wasm" \
        | grep -q "^id: *skeleton-$lang$"
done
echo "built the foreign-language plugins into plugins/dist/ and a skeleton in every language"
