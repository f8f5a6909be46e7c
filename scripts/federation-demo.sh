#!/usr/bin/env bash
# A federated trial on one machine: two hospitals ("north" with 200 of the FHIR training
# records, "south" with the other 300) train one adapter of SmolLM2-135M-Instruct in two
# rounds on Flower (a SuperLink and two SuperNodes on loopback, FFA-LoRA), each site under
# rapha-host's lockdown; the server aggregates the signed replies. Sets up what it needs
# (model, plugins, binary, the Flower venv), then prints each round's sites and metrics, and
# compares the federation's adapter with each site training alone for as many steps.
#
#   scripts/federation-demo.sh            # into work/federation-demo (must not exist yet)
#
# The site recipes are the default recipe with 12 steps and the leakage audit off, so the
# trial takes minutes; a real site keeps `[audit]` on.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rapha-host/target}"
demo="work/federation-demo"
if [ -e "$demo" ]; then
    echo "federation-demo: \`$demo\` exists: move it away first (nothing is overwritten)" >&2
    exit 1
fi
scripts/fetch-model.sh
scripts/build-plugins.sh
scripts/flower.sh
mkdir -p "$demo/data"
train=data/fhir-extraction/train.jsonl
head -n 200 "$train" >"$demo/data/north-train.jsonl"
tail -n +201 "$train" >"$demo/data/south-train.jsonl"
for site in north south; do
    sed -e 's|"\.\./|"../../|g' \
        -e "s|\"../../data/fhir-extraction/train.jsonl\"|\"data/$site-train.jsonl\"|" \
        -e "s|\"../../work/default\"|\"$site/work\"|" -e "s|\"../../export/default\"|\"$site/export\"|" \
        -e 's|^max_steps = 24 .*|max_steps = 12              # a short round|' \
        -e 's|^eval_every = 12 .*|eval_every = 6|' \
        recipes/default.toml >"$demo/$site.toml"
    cat >>"$demo/$site.toml" <<TOML

[audit]
enabled = false  # the trial only: a real site keeps the leakage audit on

[federation]
site = "$site"
key = "keys/$site.key"
seed = 7        # the federation's: every site draws the same frozen A from it
TOML
done
export RAPHA_HOST="$CARGO_TARGET_DIR/debug/rapha-host"
export MODEL_SHA256="$(sha256sum models/SmolLM2-135M-Instruct.Q4_1.gguf | cut -d' ' -f1)"
export PLUGIN_SHA256="$(sha256sum plugins/dist/fhir-extraction.wasm | cut -d' ' -f1)"
scripts/federation-loopback.sh "$demo" "$demo/north.toml" "$demo/south.toml"
for round in 1 2; do
    echo "== round $round"
    python3 - "$demo/federation/round-$round/global/aggregate.json" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
print(f"aggregated by {summary['strategy']}: relative error {summary['relative_error']:.1e}; refused {len(summary['refused'])}")
for site in summary["sites"]:
    print(f"  {site['site']:6} ({site['examples']} records): field_f1 at the start {site['start']['field_f1']} → trained {site['trained']['field_f1']}")
for column in ("start", "trained"):
    f1 = summary["over_sites"][column]["field_f1"]
    print(f"  over the sites, {column}: min {f1['min']:.3f}, harmonic mean {f1['harmonic_mean']:.3f}")
PY
done

# Local-only at equal steps: each site alone for the two rounds' 24 steps. Then `eval` puts
# the base, the federation's last global adapter and the two local-only adapters side by side
# on the test records both sites use, and `compare` gives intervals and paired differences.
for site in north south; do
    sed -e '/^\[federation\]/,$d' \
        -e 's|^max_steps = 12 .*|max_steps = 24              # both rounds'"'"' steps, alone|' \
        -e "s|\"$site/work\"|\"$site-local/work\"|" -e "s|\"$site/export\"|\"$site-local/export\"|" \
        "$demo/$site.toml" >"$demo/$site-local.toml"
    "$RAPHA_HOST" run "$demo/$site-local.toml" >/dev/null
done
head -n 16 data/fhir-extraction/test.jsonl >"$demo/data/test16.jsonl"
{
    echo 'model = "../../models/SmolLM2-135M-Instruct.Q4_1.gguf"'
    echo 'max_new_tokens = 128'
    grep '^system_prompt = ' recipes/default.toml
    for candidate in "base:" "federated:federation/round-2/global" "north-local:north-local/export" "south-local:south-local/export"; do
        printf '\n[[candidate]]\nlabel = "%s"\ndecoding = "schema"\n' "${candidate%%:*}"
        if [ -n "${candidate#*:}" ]; then printf 'adapter = "%s"\n' "${candidate#*:}"; fi
    done
    printf '\n[[plugin]]\nlabel = "fhir-extraction"\npath = "../../plugins/dist/fhir-extraction.wasm"\n'
    printf '\n[[dataset]]\nlabel = "test16"\npath = "data/test16.jsonl"\n'
} >"$demo/plan.toml"
"$RAPHA_HOST" --work "$demo/eval" eval "$demo/plan.toml" >/dev/null
echo "== the federation's last global adapter against each site alone, same steps (16 test records)"
"$RAPHA_HOST" --work "$demo/eval" compare "$demo/eval/eval/plan.json" --baseline federated --resamples 2000
