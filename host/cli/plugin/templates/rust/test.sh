#!/usr/bin/env bash
# Test the plugin: its native unit tests (`cargo test` on this machine's target), then the
# built component through the host (host-check.sh: build, `plugin check`, `plugin score` on
# the project's own data/).
set -euo pipefail
cd "$(dirname "$0")"
cargo test --quiet
./host-check.sh
