#!/usr/bin/env bash
# Run the plugin's native unit tests with Node's test runner (no npm packages needed).
set -euo pipefail
cd "$(dirname "$0")"
node --test --test-reporter=dot test/
