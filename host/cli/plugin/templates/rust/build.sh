#!/usr/bin/env bash
# Build the plugin as a WASI component: {{id}}.wasm beside this script.
set -euo pipefail
cd "$(dirname "$0")"
rustup target add wasm32-wasip2 >/dev/null
cargo build --release --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{snake}}.wasm" {{id}}.wasm
echo "built {{id}}.wasm; next: rapha-host plugin check {{id}}.wasm --data data/val.jsonl"
