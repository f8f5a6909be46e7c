#!/usr/bin/env bash
# A federation on one machine, on Flower's deployment runtime, set up as a real one is: a
# SuperLink and one SuperNode per site on loopback, TLS on every connection (a CA and server
# certificate made here for 127.0.0.1), SuperNode authentication on (each SuperNode's key
# registered with the SuperLink before it connects; no other node can join), the Flower App
# of host/flower, and `rapha-host` doing the work.
#
#   scripts/federation-loopback.sh DIR SITE.toml [SITE.toml …]
#
# DIR holds everything: `keys/` (each site's signing key pair, made here with `rapha-host keys
# new` unless present), `server-keys/` (their public halves), `tls/` (the loopback CA and the
# SuperLink's certificate), `node-keys/` (each SuperNode's authentication key),
# `nodes.json` (each registered node's id and the site it was registered for: the server
# binds every reply to that site), each site's inbox, and the server's
# `federation/round-N/{replies,global}`. Each SITE.toml is a federated recipe whose
# `federation.site` names its key `keys/SITE.key`. Rounds: $ROUNDS (default 2); a round goes
# on without a site that fails while $MIN_SITES (default: all) replies remain. Strategy:
# $STRATEGY (default ffa; the site recipes must name the same).
#
# Needs: the Flower venv (scripts/flower.sh; $FLOWER_VENV, default ~/.cache/rapha-host/flower),
# openssl and ssh-keygen, rapha-host ($RAPHA_HOST or on PATH), and the model sha256 and plugin
# sha256 the sites train with ($MODEL_SHA256, $PLUGIN_SHA256).
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
mkdir -p "$FLWR_HOME" "$dir/keys" "$dir/server-keys" "$dir/logs" "$dir/tls" "$dir/node-keys"

# The loopback CA and the SuperLink's certificate, made once. A real deployment has its
# certificates from the hospitals' own PKI.
tls="$dir/tls"
if [ ! -f "$tls/server.crt" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj "/CN=rapha-host loopback CA" -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$tls/san.ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
        -days 30 -extfile "$tls/san.ext" -out "$tls/server.crt" 2>/dev/null
fi
cat >"$FLWR_HOME/config.toml" <<TOML
[superlink]
default = "loopback"

[superlink.loopback]
address = "127.0.0.1:$base_port"
root-certificates = "$tls/ca.crt"
TOML

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# One HTTP port serves the SuperLink's Fleet, Control and Runtime APIs (Flower 1.42).
# The app's one dependency (flwr) is the venv's: nothing is installed at run time.
"$venv/bin/flower-superlink" --ssl-ca-certfile "$tls/ca.crt" --ssl-certfile "$tls/server.crt" \
    --ssl-keyfile "$tls/server.key" --enable-supernode-auth --disable-runtime-dependency-installation \
    --host 127.0.0.1 --port "$base_port" >"$dir/logs/superlink.log" 2>&1 &
pids+=($!)
# Wait for the SuperLink's Control API to listen before anything connects to it.
for _ in $(seq 60); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$base_port") 2>/dev/null; then break; fi
    sleep 1
done

# Each site: its signing key (rapha-host), its node key (Flower), the node registered for
# the site (the SuperLink keeps registrations in memory: a started-again federation
# registers again), then its SuperNode.
port=$((base_port + 1))
nodes="{"
for recipe in "$@"; do
    recipe="$(cd "$(dirname "$recipe")" && pwd)/$(basename "$recipe")"
    site="$(basename "$recipe" .toml)"
    [ -f "$dir/keys/$site.key" ] || "$rapha_host" keys new --site "$site" --out "$dir/keys" >/dev/null
    cp "$dir/keys/$site.pub.json" "$dir/server-keys/"
    [ -f "$dir/node-keys/$site" ] || ssh-keygen -q -t ecdsa -b 384 -N "" -C "$site" -f "$dir/node-keys/$site"
    node_id="$(flwr supernode register "$dir/node-keys/$site.pub" loopback --name "$site" --format json |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["node-id"])')"
    nodes+="$([ "$nodes" = "{" ] || echo ", ")\"$node_id\": \"$site\""
    "$venv/bin/flower-supernode" --root-certificates "$tls/ca.crt" --superlink "127.0.0.1:$base_port" \
        --auth-supernode-private-key "$dir/node-keys/$site" --port "$port" \
        --node-config "recipe=\"$recipe\" rapha-host=\"$rapha_host\" inbox=\"$dir/inbox-$site\"" \
        >"$dir/logs/supernode-$site.log" 2>&1 &
    pids+=($!)
    port=$((port + 1))
done
echo "$nodes}" >"$dir/nodes.json"

cd "$here/host/flower"
"$venv/bin/flwr" run . loopback --stream --run-config \
    "rounds=${ROUNDS:-2} sites=$# min-sites=${MIN_SITES:-$#} strategy=\"${STRATEGY:-ffa}\" round-timeout=${ROUND_TIMEOUT:-3600} out=\"$dir/federation\" keys=\"$dir/server-keys\" nodes=\"$dir/nodes.json\" rapha-host=\"$rapha_host\" model-sha256=\"$MODEL_SHA256\" plugin-sha256=\"$PLUGIN_SHA256\"" \
    2>&1 | tee "$dir/logs/run.log"
last="$dir/federation/round-${ROUNDS:-2}/global"
if [ ! -f "$last/aggregate.json" ]; then
    echo "federation-loopback: no global adapter in \`$last\`: see $dir/logs/" >&2
    exit 1
fi
echo "federation-loopback: global adapter of round ${ROUNDS:-2} in $last"
