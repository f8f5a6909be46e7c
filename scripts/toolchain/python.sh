#!/usr/bin/env bash
# Install the Python plugin toolchain into `$RAPHA_TOOLS/python`: a virtual environment
# holding componentize-py from PyPI, pinned. componentize-py bundles its own CPython
# build for WASI, so the host's Python only runs the tool. Idempotent: an environment
# that already holds the pinned version is left as it is.
set -euo pipefail
COMPONENTIZE_PY_VERSION=0.25.1
tools="${RAPHA_TOOLS:-$HOME/.cache/rapha-host/tools}/python"
python="${PYTHON:-python3}"

installed() {
    "$tools/bin/python" -c 'import importlib.metadata as m; print(m.version("componentize-py"))' 2>/dev/null
}

if [ "$(installed || true)" = "$COMPONENTIZE_PY_VERSION" ]; then
    echo "python toolchain: found componentize-py $COMPONENTIZE_PY_VERSION in $tools"
    exit 0
fi
"$python" -m venv "$tools"
"$tools/bin/python" -m pip install --quiet --disable-pip-version-check \
    "componentize-py==$COMPONENTIZE_PY_VERSION"
echo "python toolchain: installed componentize-py $(installed) in $tools"
