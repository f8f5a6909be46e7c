#!/usr/bin/env bash
# Test the plugin: its native unit tests (tests/, compiled with the machine's C compiler,
# gcc by default or `$CC`, warnings as errors, AddressSanitizer/UBSan where it has them),
# then the built component through the host on the skeleton's own data: `plugin check` on
# data/val.jsonl and `plugin score` of data/predictions.jsonl.
set -euo pipefail
cd "$(dirname "$0")"
cc="${CC:-gcc}"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
flags=(-std=c11 -O1 -g -Wall -Wextra -Werror)
if echo 'int main(void){return 0;}' | "$cc" -x c - -fsanitize=address,undefined -o "$build/probe" 2>/dev/null; then
    flags+=(-fsanitize=address,undefined -fno-sanitize-recover=all)
fi
sources=()
for file in ./*.c; do
    [ "$file" = ./app.c ] || sources+=("$file")
done
"$cc" "${flags[@]}" -o "$build/tests" "${sources[@]}" tests/*.c
"$build/tests"
rapha_host="${RAPHA_HOST:-$(command -v rapha-host || true)}"
if [ -z "$rapha_host" ] || [ ! -x "$rapha_host" ]; then
    echo "test.sh: rapha-host not found: put it on PATH or set RAPHA_HOST to its path" >&2
    exit 1
fi
./build.sh
"$rapha_host" plugin check {{id}}.wasm --data data/val.jsonl
"$rapha_host" plugin score {{id}}.wasm --data data/val.jsonl --predictions data/predictions.jsonl
