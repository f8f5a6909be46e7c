#!/usr/bin/env bash
# A federated trial on one machine with three hospitals whose notes differ
# (data/federation/: a cardiology centre with 300 training records, a children's hospital
# with 120 whose notes often leave out the age, a practice writing terse abbreviated notes
# with 180). They train one adapter of SmolLM2-135M-Instruct in $ROUNDS rounds of $STEPS steps
# on Flower's deployment runtime (a SuperLink and three SuperNodes on loopback), each site
# under rapha-host's lockdown: once with FFA-LoRA, once with FedIT. Then each site trains
# alone for as many steps, and each site's own test set (24 records) scores the base, both
# federations' last global adapters and that site's local-only adapter. Prints every round's
# sites, and the table the federation is judged by: per site local-only against federated,
# the minimum and the harmonic mean over sites. Sets up what it needs (model, plugins,
# binary, the Flower venv).
#
#   scripts/federation-demo.sh                 # into work/federation-demo (must not exist yet)
#   ROUNDS=2 STEPS=6 scripts/federation-demo.sh  # shorter
#   NAME=scarce TRAIN_RECORDS=16 STRATEGIES=fedit scripts/federation-demo.sh
#       # into work/scarce: each site with only its first 16 training records, FedIT only
#
# The site recipes are the default recipe's settings with the leakage audit off and small
# evaluations, so that the trial takes about an hour on 2 cores; a real site keeps `[audit]` on.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rapha-host/target}"
demo="work/${NAME:-federation-demo}"
rounds="${ROUNDS:-3}"
steps="${STEPS:-12}"
read -r -a strategies <<<"${STRATEGIES:-ffa fedit}"
sites=(cardiology paediatric terse)
if [ -e "$demo" ]; then
    echo "federation-demo: \`$demo\` exists: move it away first (nothing is overwritten)" >&2
    exit 1
fi
scripts/fetch-model.sh
scripts/build-plugins.sh
scripts/flower.sh
export RAPHA_HOST="${RAPHA_HOST:-$CARGO_TARGET_DIR/debug/rapha-host}"
export MODEL_SHA256="$(sha256sum models/SmolLM2-135M-Instruct.Q4_1.gguf | cut -d' ' -f1)"
export PLUGIN_SHA256="$(sha256sum plugins/dist/fhir-extraction.wasm | cut -d' ' -f1)"
export ROUNDS="$rounds" MIN_SITES=3
system_prompt="$(grep '^system_prompt = ' recipes/default.toml)"

# The site's training file, relative to its recipe: all its records, or its first
# $TRAIN_RECORDS (a smaller hospital) copied into $demo/data.
mkdir -p "$demo/data"
train_file() {
    if [ -n "${TRAIN_RECORDS:-}" ]; then
        [ -f "$demo/data/$1-train.jsonl" ] || head -n "$TRAIN_RECORDS" "data/federation/$1/train.jsonl" >"$demo/data/$1-train.jsonl"
        echo "../data/$1-train.jsonl"
    else
        echo "../../../data/federation/$1/train.jsonl"
    fi
}

# recipe SITE STEPS WORK_FOLDER: a site's recipe, paths relative to a file two folders below
# the repository (work/federation-demo/<x>/SITE.toml).
recipe() {
    cat <<TOML
[plugin]
path = "../../../plugins/dist/fhir-extraction.wasm"
$system_prompt

[model]
path = "../../../models/SmolLM2-135M-Instruct.Q4_1.gguf"
quantization = "nf4"

[data]
train = "$(train_file "$1")"
val = "../../../data/federation/$1/val.jsonl"
test = "../../../data/federation/$1/test.jsonl"

[lora]
rank = 16
alpha = 32.0

[train]
max_steps = $2
batch_size = 2
lr = 1e-3
warmup_steps = 3
max_seq_len = 320
eval_every = $2
select_metric = "field_f1"

[eval]
records = 11
test_records = 12
max_new_tokens = 128
decoding = "schema"

[paths]
work = "$3/work"
export = "$3/export"

[audit]
enabled = false  # the trial only: a real site keeps the leakage audit on
TOML
    if [ -n "${TRAIN_RECORDS:-}" ]; then
        printf '\n[privacy]\nmin_records = %s  # the trial'"'"'s small hospitals only: a real site keeps 100\n' "$TRAIN_RECORDS"
    fi
}

for strategy in "${strategies[@]}"; do
    mkdir -p "$demo/$strategy"
    for site in "${sites[@]}"; do
        {
            recipe "$site" "$steps" "$site"
            printf '\n[federation]\nsite = "%s"\nkey = "keys/%s.key"\nstrategy = "%s"\nseed = 7\n' \
                "$site" "$site" "$strategy"
        } >"$demo/$strategy/$site.toml"
    done
    recipes=()
    for site in "${sites[@]}"; do recipes+=("$demo/$strategy/$site.toml"); done
    STRATEGY="$strategy" scripts/federation-loopback.sh "$demo/$strategy" "${recipes[@]}" >"$demo/$strategy.log" 2>&1 ||
        { echo "federation-demo: the $strategy federation failed: see $demo/$strategy.log" >&2; exit 1; }
    echo "== $strategy: $rounds rounds of $steps steps"
    for round in $(seq "$rounds"); do cat "$demo/$strategy/federation/round-$round/global/aggregate.txt"; done
done

mkdir -p "$demo/local"
for site in "${sites[@]}"; do
    recipe "$site" "$((rounds * steps))" "$site" >"$demo/local/$site.toml"
    "$RAPHA_HOST" run "$demo/local/$site.toml" >"$demo/local/$site.log" 2>&1 ||
        { echo "federation-demo: $site alone failed: see $demo/local/$site.log" >&2; exit 1; }
done

# Each site's own test set scores the base, both federations' adapters and its own local-only
# adapter (eval's plan paths are relative to the plan's folder).
mkdir -p "$demo/eval"
for site in "${sites[@]}"; do
    {
        echo 'model = "../../../models/SmolLM2-135M-Instruct.Q4_1.gguf"'
        echo 'max_new_tokens = 128'
        echo "$system_prompt"
        candidates=("base:" "local:../local/$site/export")
        for strategy in "${strategies[@]}"; do candidates+=("$strategy:../$strategy/federation/round-$rounds/global"); done
        for candidate in "${candidates[@]}"; do
            printf '\n[[candidate]]\nlabel = "%s"\ndecoding = "schema"\n' "${candidate%%:*}"
            if [ -n "${candidate#*:}" ]; then printf 'adapter = "%s"\n' "${candidate#*:}"; fi
        done
        printf '\n[[plugin]]\nlabel = "fhir-extraction"\npath = "../../../plugins/dist/fhir-extraction.wasm"\n'
        printf '\n[[dataset]]\nlabel = "%s"\npath = "../../../data/federation/%s/test.jsonl"\n' "$site" "$site"
    } >"$demo/eval/$site.toml"
    "$RAPHA_HOST" --work "$demo/eval/$site" eval "$demo/eval/$site.toml" >"$demo/eval/$site.log" 2>&1 ||
        { echo "federation-demo: eval of $site failed: see $demo/eval/$site.log" >&2; exit 1; }
    "$RAPHA_HOST" --work "$demo/eval/$site" compare "$demo/eval/$site/eval/$site.json" \
        --baseline local --resamples 2000 >"$demo/eval/$site-compare.txt"
done
echo "== each site's own test set (24 records): field_f1; intervals and paired differences in $demo/eval/*-compare.txt"
python3 - "$demo/eval" "${sites[@]}" <<'PY' | tee "$demo/table.md"
import json, statistics, sys
folder, sites = sys.argv[1], sys.argv[2:]
f1 = {}
for site in sites:
    for result in json.load(open(f"{folder}/{site}/eval/{site}.json"))["results"]:
        f1.setdefault(result["candidate"], {})[site] = result["metrics"]["field_f1"]
labels = {"base": "base model", "local": "each site alone", "ffa": "federated, FFA-LoRA", "fedit": "federated, FedIT"}
print(f"| {'':22} | " + " | ".join(f"{s:>10}" for s in sites) + " |    min | harmonic mean |")
print(f"|{'-' * 24}|" + "|".join("-" * 12 for _ in sites) + "|--------|---------------|")
for candidate, label in ((c, l) for c, l in labels.items() if c in f1):
    values = [f1[candidate][s] for s in sites]
    cells = " | ".join(f"{v:>10.3f}" for v in values)
    print(f"| {label:22} | {cells} | {min(values):6.3f} | {statistics.harmonic_mean(values):13.3f} |")
PY
