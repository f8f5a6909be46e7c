#!/usr/bin/env bash
# A federation on one machine, on Flower's deployment runtime: a SuperLink and one SuperNode
# per site on loopback, the Flower App of host/flower, and `rapha-host` doing the work.
#
#   scripts/federation-loopback.sh DIR [SITE.toml …]
#
# DIR holds everything: `keys/` (each site's key pair, made here with `rapha-host keys new`
# unless present), `server-keys/` (their public halves), each site's inbox, and the server's
# `federation/round-N/{replies,global}`. Each SITE.toml is a federated recipe whose
# `federation.site` names its key `keys/SITE.key`. Rounds: $ROUNDS (default 2); a round goes
# on without a site that fails while $MIN_SITES (default: all) replies remain.
# Loopback without TLS (`--insecure`) is for a trial on one machine only; README,
# "Federated rounds", says what a real deployment turns on.
#
# Strategy: $STRATEGY (default ffa; the site recipes must name the same).
# Needs: the Flower venv (scripts/flower.sh; $FLOWER_VENV, default ~/.cache/rapha-host/flower),
# rapha-host ($RAPHA_HOST or on PATH), and the model sha256 and plugin sha256 the sites train
# with ($MODEL_SHA256, $PLUGIN_SHA256).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 DIR SITE.toml [SITE.toml …]" >&2
    exit 2
fi
here="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mkdir -p "$1" && cd "$1" && pwd)"
shift
venv="${FLOWER_VENV:-$HOME/.cache/rapha-host/flower}"
rapha_host="${RAPHA_HOST:-$(command -v rapha-host)}"
: "${MODEL_SHA256:?set MODEL_SHA256 to the base model's sha256}"
: "${PLUGIN_SHA256:?set PLUGIN_SHA256 to the plugin's sha256}"
# Free ports of our own, so a second federation on the machine does not collide.
base_port="${FLOWER_BASE_PORT:-19091}"
# The SuperLink and SuperNodes start Flower's own helpers (`flower-superexec`) by name.
export PATH="$venv/bin:$PATH"
export FLWR_HOME="$dir/flwr-home"
mkdir -p "$FLWR_HOME" "$dir/keys" "$dir/server-keys" "$dir/logs"
cat >"$FLWR_HOME/config.toml" <<TOML
[superlink]
default = "loopback"

[superlink.loopback]
address = "127.0.0.1:$base_port"
insecure = true
TOML

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# One HTTP port serves the SuperLink's Fleet, Control and Runtime APIs (Flower 1.42).
# The app's one dependency (flwr) is the venv's: nothing is installed at run time.
"$venv/bin/flower-superlink" --insecure --disable-runtime-dependency-installation --host 127.0.0.1 --port "$base_port" >"$dir/logs/superlink.log" 2>&1 &
pids+=($!)
# Wait for the SuperLink's Control API to listen before anything connects to it.
for _ in $(seq 60); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$base_port") 2>/dev/null; then break; fi
    sleep 1
done

port=$((base_port + 1))
for recipe in "$@"; do
    recipe="$(cd "$(dirname "$recipe")" && pwd)/$(basename "$recipe")"
    site="$(basename "$recipe" .toml)"
    [ -f "$dir/keys/$site.key" ] || "$rapha_host" keys new --site "$site" --out "$dir/keys" >/dev/null
    cp "$dir/keys/$site.pub.json" "$dir/server-keys/"
    "$venv/bin/flower-supernode" --insecure --superlink "127.0.0.1:$base_port" --port "$port" \
        --node-config "recipe=\"$recipe\" rapha-host=\"$rapha_host\" inbox=\"$dir/inbox-$site\"" \
        >"$dir/logs/supernode-$site.log" 2>&1 &
    pids+=($!)
    port=$((port + 1))
done

cd "$here/host/flower"
"$venv/bin/flwr" run . loopback --stream --run-config \
    "rounds=${ROUNDS:-2} sites=$# min-sites=${MIN_SITES:-$#} strategy=\"${STRATEGY:-ffa}\" round-timeout=${ROUND_TIMEOUT:-3600} out=\"$dir/federation\" keys=\"$dir/server-keys\" rapha-host=\"$rapha_host\" model-sha256=\"$MODEL_SHA256\" plugin-sha256=\"$PLUGIN_SHA256\"" \
    2>&1 | tee "$dir/logs/run.log"
last="$dir/federation/round-${ROUNDS:-2}/global"
if [ ! -f "$last/aggregate.json" ]; then
    echo "federation-loopback: no global adapter in \`$last\`: see $dir/logs/" >&2
    exit 1
fi
echo "federation-loopback: global adapter of round ${ROUNDS:-2} in $last"
