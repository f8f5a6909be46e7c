#!/usr/bin/env bash
# Build the `icd-coding-py` plugin as a WASI component: `build.sh OUT.wasm`.
#
# componentize-py (from `$RAPHA_TOOLS/python`, installed by scripts/toolchain/python.sh)
# bundles CPython with `app.py`, the `icd_coding` package and the module `icd_codes_2026`,
# which gen_codes.py writes from the Rust plugin's code list. Everything it builds, bytecode
# caches included, stays in a temporary folder.
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 OUT.wasm" >&2
    exit 2
fi
out="$(realpath -m "$1")"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tools="${RAPHA_TOOLS:-$HOME/.cache/rapha-host/tools}/python"
if [ ! -x "$tools/bin/componentize-py" ]; then
    echo "build.sh: componentize-py not found in \`$tools\`: run scripts/toolchain/python.sh" \
        "(or set RAPHA_TOOLS to the folder that holds python/)" >&2
    exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/icd_coding"
cp "$here/app.py" "$work/"
cp "$here"/icd_coding/*.py "$work/icd_coding/"
"$tools/bin/python" "$here/gen_codes.py" "$root/plugins/icd-coding/data/codes-2026.txt" "$work"
(cd "$work" && "$tools/bin/componentize-py" --quiet --wit-path "$root/wit" --world task-plugin \
    componentize app --python-path "$work" --output "$work/plugin.wasm")
mkdir -p "$(dirname "$out")"
mv "$work/plugin.wasm" "$out"
echo "built $out ($(stat -c %s "$out") bytes)"
