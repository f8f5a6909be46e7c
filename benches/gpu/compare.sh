#!/usr/bin/env bash
# Issue 6's measurement, in one invocation: `rapha-gpu bench` (the engine's QLoRA training
# step, NF4 and full-precision base) and the same shape, batch, sequence length and LoRA in
# PyTorch + PEFT (bf16 LoRA; bitsandbytes NF4 when `import bitsandbytes` works), then a table
# of tokens/s, peak memory and MFU with the ratios of ours over the best PyTorch run.
#
#   benches/gpu/compare.sh [--shape S] [--seq N] [--batch N] [--steps N] [--rank N]
#                          [--device cuda|cpu] [--gradient-checkpointing]
#
# Defaults: llama-3.2-1b, seq 1024, batch 4, 5 timed steps, rank 16, cuda.
# `--shape tiny --device cpu` runs anywhere (the CPU check of this script).
#
# Environment:
#   RAPHA_GPU     the rapha-gpu binary. Default: on the CPU a dev build made with cargo, else
#                 target/gpu/rapha-gpu (or its .xz), which scripts/build-cuda.sh writes.
#   PYTHON        the Python with torch, transformers and peft. Default: python3 on a GPU
#                 machine (its torch venv), .venv/bin/python here when it exists.
#   QUANTIZATIONS the engine's bases to run (default "nf4 none").
#   RESULTS_DIR   where each run's JSON and log go (default: a temporary folder, printed).
# Each run that fails (out of memory, say) is reported as failed; the others still run.
set -euo pipefail
cd "$(dirname "$0")/../.."

shape=llama-3.2-1b seq=1024 batch=4 steps=5 rank=16 device=cuda checkpointing=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --shape) shape="$2"; shift 2 ;;
        --seq) seq="$2"; shift 2 ;;
        --batch) batch="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --rank) rank="$2"; shift 2 ;;
        --device) device="$2"; shift 2 ;;
        --gradient-checkpointing) checkpointing=(--gradient-checkpointing); shift ;;
        *) echo "compare.sh: unknown argument \`$1\` (see the header of $0)" >&2; exit 2 ;;
    esac
done
[[ "$device" == cuda || "$device" == cpu ]] \
    || { echo "compare.sh: --device \`$device\`: expected \`cuda\` or \`cpu\`" >&2; exit 2; }
common=(--shape "$shape" --seq "$seq" --batch "$batch" --steps "$steps" --rank "$rank" --device "$device" "${checkpointing[@]}")
results="${RESULTS_DIR:-$(mktemp -d)}"
mkdir -p "$results"

if [[ -n "${PYTHON:-}" ]]; then
    python="$PYTHON"
elif [[ -x .venv/bin/python ]]; then
    python=.venv/bin/python
else
    python=python3
fi

source benches/gpu/env.sh
find_rapha_gpu "$device" || exit 1
if [[ "$device" == cuda ]]; then
    cuda_env "$python" || exit 1
fi

run() { # <name> <command...>: the JSON goes to $results/<name>.json, the rest to <name>.log
    local name="$1"
    shift
    echo "compare.sh: $name: $*" >&2
    if "$@" >"$results/$name.json" 2>"$results/$name.log"; then
        tail -n 3 "$results/$name.log" >&2
    else
        echo "compare.sh: $name failed (exit $?); the end of its log:" >&2
        tail -n 20 "$results/$name.log" >&2
        rm -f "$results/$name.json"
    fi
}

for quantization in ${QUANTIZATIONS:-nf4 none}; do
    run "ours-$quantization" "$rapha_gpu" bench "${common[@]}" --quantization "$quantization"
done
if ! "$python" -c 'import torch, transformers, peft' 2>/dev/null; then
    echo "compare.sh: PyTorch runs skipped: $python lacks torch, transformers or peft" >&2
elif [[ "$device" == cpu ]]; then
    # bf16 products are emulated on most CPUs: f32 is PyTorch's real CPU configuration, and
    # bitsandbytes' NF4 training needs CUDA.
    PYTHONUNBUFFERED=1 run torch-fp32 "$python" benches/gpu/torch_lora.py "${common[@]}" --quantization fp32
else
    PYTHONUNBUFFERED=1 run torch-bf16 "$python" benches/gpu/torch_lora.py "${common[@]}" --quantization bf16
    if "$python" -c 'import bitsandbytes' 2>/dev/null; then
        PYTHONUNBUFFERED=1 run torch-nf4 "$python" benches/gpu/torch_lora.py "${common[@]}" --quantization nf4
    else
        echo "compare.sh: torch-nf4 skipped: \`import bitsandbytes\` fails in $python (README, \"GPU measurement\", says how to carry its wheel)" >&2
    fi
fi

echo "results: $results" >&2
"$python" - "$results" <<'PY'
import json, sys
from pathlib import Path

results = Path(sys.argv[1])
runs = {}
for path in sorted(results.glob("*.json")):
    text = path.read_text().strip()
    if text:
        runs[path.stem] = json.loads(text.splitlines()[-1])
ours = [n for n in runs if n.startswith("ours-")]
torch = [n for n in ("torch-nf4", "torch-bf16", "torch-fp32") if n in runs]
if not runs:
    sys.exit("compare.sh: no run succeeded")
first = next(iter(runs.values()))
print(f"\n{first['shape']}, batch {first['batch']} x seq {first['seq']}, LoRA r={first['rank']} on 7 projections, "
      f"{first['steps']} timed steps, gradient checkpointing {'on' if first['gradient_checkpointing'] else 'off'}, "
      f"on {first['device']}")
flops = {n: r["flops_per_step"] for n, r in runs.items()}
if len(set(flops.values())) > 1:
    print(f"WARNING: the runs count different FLOPs per step: {flops}")
print(f"FLOPs per step: {first['flops_per_step']:.4g} ({first['flops_per_step'] / (first['batch'] * first['seq']):.4g} per token)")

def gib(value):
    return "-" if value is None else f"{value / 2**30:.2f}"

def ratio(a, b):
    return "-" if a is None or not b else f"{a / b:.2f}"

header = f"{'run':<12}{'tok/s':>12}{'step s':>9}{'peak GiB':>10}{'reserved':>10}{'MFU':>8}{'GEMM TF/s':>11}  engine"
print(header)
print("-" * len(header))
for name, r in runs.items():
    print(f"{name:<12}{r['train_tokens_per_second']:>12.1f}{r['step_seconds']:>9.3f}"
          f"{gib(r['peak_memory_bytes']):>10}{gib(r.get('peak_memory_reserved_bytes')):>10}"
          f"{r['mfu']:>8.3f}{r['gemm']['flops_per_second'] / 1e12:>11.3g}  {r['engine']}")
if torch and ours:
    best = torch[0]
    base = runs[best]
    print(f"\nratios over {best} (the best PyTorch configuration run: bitsandbytes NF4 when it ran, else bf16 LoRA)")
    print(f"{'run':<12}{'tok/s':>10}{'peak':>10}{'reserved':>10}{'MFU':>10}   (tok/s ≥ 1 and peak ≤ 1 meet issue 6's targets)")
    for name in ours:
        r = runs[name]
        print(f"{name:<12}{ratio(r['train_tokens_per_second'], base['train_tokens_per_second']):>10}"
              f"{ratio(r['peak_memory_bytes'], base['peak_memory_bytes']):>10}"
              f"{ratio(r.get('peak_memory_reserved_bytes'), base.get('peak_memory_reserved_bytes')):>10}"
              f"{ratio(r['mfu'], base['mfu']):>10}")
PY
