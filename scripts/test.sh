#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run it.
# This is README's test command and what .ci/run calls.
#
# - the wasm32-wasip2 target (the task plugins are WASI components);
# - the SmolLM2-135M-Instruct GGUF into models/ (downloaded once, cached);
# - the Python, JavaScript and C toolchains (PyPI and npm, cached under
#   ~/.cache/rapha-host/tools) and the plugins written in those languages into
#   plugins/dist/ (the e2e tests also take a `plugin new` skeleton of every language,
#   Rust's included, through its own test.sh);
# - the Flower App's venv (scripts/flower.sh: flwr pinned, from PyPI), for the federated
#   rounds on Flower's deployment runtime (a SuperLink and two SuperNodes on loopback);
# - Debian's Chromium (headless), for the browser check of `compare`'s HTML report;
# - `cargo test` over the whole workspace. With CI=true, compiler warnings in the
#   workspace's own crates fail the run (read from cargo's JSON messages, so the
#   build fingerprint is the same as a local build's), and so does any clippy lint
#   (the workspace's `[workspace.lints]` and `clippy.toml`).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rapha-host/target}"

rustup target add wasm32-wasip2 >/dev/null
scripts/fetch-model.sh
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "test.sh: Debian's chromium is not installed (apt-get install chromium): the HTML report's browser check is skipped" >&2
    fi
fi
scripts/build-foreign-plugins.sh
scripts/flower.sh

if [ "${CI:-}" = "true" ]; then
    cargo test --workspace --locked --no-run --message-format=json-diagnostic-rendered-ansi \
        | python3 scripts/deny-warnings.py
    cargo clippy --workspace --all-targets --locked -- -D warnings
fi
cargo test --workspace --locked "$@"
