#!/usr/bin/env bash
# Set up a fresh clone and run the default recipe: FHIR-like extraction on
# SmolLM2-135M-Instruct in NF4 (recipes/default.toml). Downloads the model once, builds the
# binary and the plugins, trains, and prints the base-vs-adapter table. The work folder is
# work/default, the export folder export/default; a second run needs them moved away first
# (or `--resume` to continue a stopped run: `scripts/run-default.sh --resume`).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rapha-host/target}"
scripts/fetch-model.sh
scripts/build-plugins.sh
exec "$CARGO_TARGET_DIR/debug/rapha-host" run recipes/default.toml "$@"
