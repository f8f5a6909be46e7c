#!/usr/bin/env bash
# Install the one dependency of the Flower App in host/flower, flwr (pinned in its
# pyproject.toml), into a venv of its own: $FLOWER_VENV, default ~/.cache/rapha-host/flower.
# The app itself is not installed: `flwr run host/flower` ships its current code to the
# SuperLink and SuperNodes. Idempotent: a venv with the pinned flwr is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${FLOWER_VENV:-$HOME/.cache/rapha-host/flower}"
python="${PYTHON:-python3}"
pinned="$(sed -n 's/^dependencies = \["flwr==\(.*\)"\]$/\1/p' host/flower/pyproject.toml)"
if [ -x "$venv/bin/python" ] && [ "$("$venv/bin/python" -c 'import flwr; print(flwr.__version__)' 2>/dev/null)" = "$pinned" ]; then
    echo "flower: found flwr $pinned in $venv"
    exit 0
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "flower: $("$python" --version) found; flwr $pinned needs Python 3.11 or newer (set PYTHON)" >&2
    exit 1
fi
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet "flwr==$pinned"
echo "flower: installed flwr $pinned into $venv"
