#!/usr/bin/env bash
# Install the C plugin toolchain into `$RAPHA_TOOLS/c`: PyPI's `ziglang`, pinned, whose
# `python -m ziglang cc -target wasm32-wasi` is a clang that bundles wasi-libc, so no root,
# no apt and no compile are needed. The C bindings and the preview-1 adapter come from
# `rapha-host plugin bindings` / `plugin componentize`. Idempotent: a folder that already
# holds the pinned version is left as it is.
set -euo pipefail
ZIGLANG_VERSION=0.15.1
tools="${RAPHA_TOOLS:-$HOME/.cache/rapha-host/tools}/c"
python="${PYTHON:-python3}"

installed() {
    PYTHONPATH="$tools" "$python" -c \
        'import importlib.metadata as m; print(m.version("ziglang"))' 2>/dev/null
}

if [ "$(installed || true)" = "$ZIGLANG_VERSION" ]; then
    echo "c toolchain: found ziglang $ZIGLANG_VERSION in $tools"
    exit 0
fi
rm -rf "$tools"
"$python" -m pip install --quiet --disable-pip-version-check --no-compile --root-user-action=ignore \
    --target "$tools" "ziglang==$ZIGLANG_VERSION"
echo "c toolchain: installed ziglang $(installed) in $tools"
