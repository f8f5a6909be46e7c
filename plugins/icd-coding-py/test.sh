#!/usr/bin/env bash
# Run the plugin's native unit tests with the machine's python3 (3.9 or later, standard
# library only): no toolchain, no component. The code table module is generated into a
# temporary folder, and no bytecode cache is written into the tree.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 "$here/gen_codes.py" "$here/../icd-coding/data/codes-2026.txt" "$work"
cd "$here"
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$work:$here" python3 -m unittest discover --start-directory tests --top-level-directory . "$@"
