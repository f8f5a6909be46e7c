#!/usr/bin/env bash
# Install the JavaScript plugin toolchain into `$RAPHA_TOOLS/js`: npm's jco, pinned, with
# the two engines it componentizes with, also pinned: componentize-qjs (QuickJS, which the
# plugins and skeletons use: a component 7 times smaller, compiled 10 times faster and
# about half the fuel per call) and componentize-js (SpiderMonkey). Everything comes from
# the npm registry, with prebuilt binaries inside the packages: no root, no compile. The
# machine's Node.js (>= 18) runs the tools. Idempotent: a folder that already holds the
# pinned versions is left as it is.
set -euo pipefail
JCO_VERSION=1.35.0
COMPONENTIZE_QJS_VERSION=0.4.5
COMPONENTIZE_JS_VERSION=0.22.0
tools="${RAPHA_TOOLS:-$HOME/.cache/rapha-host/tools}/js"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "js toolchain: node and npm not found: install Node.js 18 or newer" >&2
    exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 18 ]; then
    echo "js toolchain: node $(node --version): expected Node.js 18 or newer" >&2
    exit 1
fi

# The installed versions of the three packages, one line.
installed() {
    (cd "$tools" 2>/dev/null && node -e '
        const read = (name) => require(`./node_modules/${name}/package.json`).version;
        console.log(["@bytecodealliance/jco", "componentize-qjs", "@bytecodealliance/componentize-js"]
            .map(read).join(" "));' 2>/dev/null)
}

wanted="$JCO_VERSION $COMPONENTIZE_QJS_VERSION $COMPONENTIZE_JS_VERSION"
if [ "$(installed || true)" = "$wanted" ]; then
    echo "js toolchain: found jco $JCO_VERSION, componentize-qjs $COMPONENTIZE_QJS_VERSION and componentize-js $COMPONENTIZE_JS_VERSION in $tools"
    exit 0
fi
rm -rf "$tools"
mkdir -p "$tools"
cat >"$tools/package.json" <<JSON
{
  "private": true,
  "description": "rapha-host's JavaScript plugin toolchain, written by scripts/toolchain/js.sh",
  "dependencies": {
    "@bytecodealliance/jco": "$JCO_VERSION",
    "componentize-qjs": "$COMPONENTIZE_QJS_VERSION",
    "@bytecodealliance/componentize-js": "$COMPONENTIZE_JS_VERSION"
  }
}
JSON
npm install --prefix "$tools" --no-audit --no-fund --loglevel=error >/dev/null
echo "js toolchain: installed jco, componentize-qjs and componentize-js ($(installed)) in $tools"
