#!/usr/bin/env bash
# Build the four task plugins as WASI components and run `rapha-host plugin check`
# on each against its validation set.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rapha-host/target}"
rustup target add wasm32-wasip2 >/dev/null
cargo build --locked -p rapha-plugin-artifacts -p rapha-host
wasm="$CARGO_TARGET_DIR/plugin-artifacts/wasm32-wasip2/release"
for task in summarisation icd-coding fhir-extraction trial-matching; do
    "$CARGO_TARGET_DIR/debug/rapha-host" plugin check "$wasm/rapha_plugin_${task//-/_}.wasm" \
        --data "data/$task/val.jsonl"
done
