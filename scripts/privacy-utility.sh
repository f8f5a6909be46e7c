#!/usr/bin/env bash
# Issue 17's real-model figures in one invocation: the default recipe (SmolLM2-135M-Instruct,
# FHIR-like extraction) trained without DP, with DP-SGD at ε = 8 and at ε = 3; then every
# adapter that passed the leakage audit, and the base model, answer the test records through
# the evaluation stage (`rapha-host eval`) and `rapha-host compare` gives field_f1 with
# bootstrap intervals and paired differences against the adapter trained without DP. Prints,
# per run, its wall time, the privacy lines of its report and the audit's figures (from the
# work folder, so a failed audit shows too).
#
# Usage: scripts/privacy-utility.sh   (OUT=folder to write elsewhere than work/privacy-utility)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rapha-host/target}"
scripts/fetch-model.sh
scripts/build-plugins.sh
bin="$CARGO_TARGET_DIR/debug/rapha-host"
root="$PWD"
out="${OUT:-work/privacy-utility}"
rm -rf "$out"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# The default recipe with absolute paths, its own folders and, for a budget, [privacy.dp].
recipe() {
    local name=$1 epsilon=$2
    sed -e "s|\"\.\./|\"$root/|g" \
        -e "s|^work = .*|work = \"$out/$name/work\"|" \
        -e "s|^export = .*|export = \"$out/$name/export\"|" recipes/default.toml
    if [ "$epsilon" != none ]; then
        printf '\n[privacy.dp]\nepsilon = %s\n' "$epsilon"
    fi
}

candidates=""
for run in "no-dp none" "dp-eps8 8" "dp-eps3 3"; do
    set -- $run
    name=$1
    mkdir -p "$out/$name"
    recipe "$name" "$2" > "$out/$name.toml"
    started=$(date +%s)
    if "$bin" run "$out/$name.toml" > "$out/$name.log" 2>&1; then
        candidates+=$'\n'"[[candidate]]"$'\n'"label = \"$name\""$'\n'"adapter = \"$out/$name/export\""$'\n'"decoding = \"schema\""$'\n'
        status=exported
    else
        status="not exported: $(grep '^error: ' "$out/$name.log" | head -1)"
    fi
    echo "$name: $(( $(date +%s) - started )) s, $status" | tee -a "$out/summary.txt"
done

{
    sed -n '/^model = /,/^system_prompt = /p' recipes/plans/default.toml | sed -e "s|\"\.\./\.\./|\"$root/|g"
    printf '\n[[candidate]]\nlabel = "base"\ndecoding = "schema"\n'
    printf '%s' "$candidates"
    printf '\n[[plugin]]\nlabel = "fhir-extraction"\npath = "%s/plugins/dist/fhir-extraction.wasm"\n' "$root"
    printf '\n[[dataset]]\nlabel = "test"\npath = "%s/data/fhir-extraction/test.jsonl"\n' "$root"
} > "$out/plan.toml"
"$bin" --work "$out/eval" eval "$out/plan.toml"
baseline=base
grep -q 'label = "no-dp"' "$out/plan.toml" && baseline=no-dp
"$bin" --work "$out/eval" compare "$out/eval/eval/plan.json" --baseline "$baseline" | tee "$out/compare.txt"

for name in no-dp dp-eps8 dp-eps3; do
    echo
    echo "== $name"
    grep -h '^dp ' "$out/$name/export/report.txt" 2>/dev/null || true
    cat "$out/$name/work/audit.txt" 2>/dev/null || echo "(no audit figures)"
done | tee -a "$out/summary.txt"
