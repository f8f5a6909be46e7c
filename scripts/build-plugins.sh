#!/usr/bin/env bash
# Build the rapha-host binary and the four task plugins as WASI components, and copy the
# components to plugins/dist/<task>.wasm, where the recipes in recipes/ look for them.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rapha-host/target}"
rustup target add wasm32-wasip2 >/dev/null
cargo build --locked -p rapha-plugin-artifacts -p rapha-host
wasm="$CARGO_TARGET_DIR/plugin-artifacts/wasm32-wasip2/release"
mkdir -p plugins/dist
for task in summarisation icd-coding fhir-extraction trial-matching; do
    cp "$wasm/rapha_plugin_${task//-/_}.wasm" "plugins/dist/$task.wasm"
done
