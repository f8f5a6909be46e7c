#!/usr/bin/env bash
# Test the plugin: its native unit tests (test/, Node's own test runner, no npm packages),
# then the built component through the host (host-check.sh: build, `plugin check`,
# `plugin score` on the project's own data/).
set -euo pipefail
cd "$(dirname "$0")"
node --test --test-reporter=dot test/*.test.js
./host-check.sh
