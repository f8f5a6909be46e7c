#!/usr/bin/env bash
# Test the plugin: its native unit tests (tests/, compiled with the machine's C compiler,
# gcc by default or `$CC`, warnings as errors, AddressSanitizer/UBSan where it has them),
# then the built component through the host (host-check.sh: build, `plugin check`,
# `plugin score` on the project's own data/).
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
./host-check.sh
