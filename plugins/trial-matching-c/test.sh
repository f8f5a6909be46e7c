#!/usr/bin/env bash
# Run the plugin's native unit tests: the task logic (src/ less the WIT glue) and the
# tests under tests/, compiled with the machine's C compiler (gcc by default, `$CC` to
# choose), with warnings as errors and AddressSanitizer/UBSan where the compiler has them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cc="${CC:-gcc}"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
sources=()
for file in "$here"/src/*.c; do
    [ "$(basename "$file")" = glue.c ] || sources+=("$file")
done
flags=(-std=c11 -O1 -g -Wall -Wextra -Werror -Wno-missing-field-initializers)
if echo 'int main(void){return 0;}' | "$cc" -x c - -fsanitize=address,undefined -o "$build/probe" 2>/dev/null; then
    flags+=(-fsanitize=address,undefined -fno-sanitize-recover=all)
fi
"$cc" "${flags[@]}" -o "$build/tests" "${sources[@]}" "$here"/tests/*.c -lm
"$build/tests"
