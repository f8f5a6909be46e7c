#!/usr/bin/env bash
# Build the four task plugins as WASI components and run `rapha-host plugin check`
# on each against its validation set.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rapha-host/target}"
scripts/build-plugins.sh
for task in summarisation icd-coding fhir-extraction trial-matching; do
    "$CARGO_TARGET_DIR/debug/rapha-host" plugin check "plugins/dist/$task.wasm" --data "data/$task/val.jsonl"
done
