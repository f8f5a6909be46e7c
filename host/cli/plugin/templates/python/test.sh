#!/usr/bin/env bash
# Test the plugin: its native unit tests (tests/, the machine's python3 with the standard
# library only), then the built component through the host
# (host-check.sh: build, `plugin check`, `plugin score` on the project's own data/).
set -euo pipefail
cd "$(dirname "$0")"
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=. python3 -m unittest discover --start-directory tests
./host-check.sh
