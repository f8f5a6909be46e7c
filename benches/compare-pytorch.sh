#!/usr/bin/env bash
# Issue 3's comparison, in one invocation: the engine's benchmark (NF4 with and without
# gradient checkpointing, NF4 without AMX tiles where the CPU has them, and an f32 base) and
# the same configuration in PyTorch + PEFT (fp32 and bf16 autocast) on the same CPU threads,
# then a table of the figures and their ratios (each rapha-engine run over PyTorch fp32).
# The headline pair, NF4 and PyTorch fp32, runs twice, interleaved, and shows the mean of
# each: on a shared machine one minute's speed can differ from the next by 15 %.
# PyTorch bf16 runs only on CPUs with AVX-512 BF16 (or with TORCH_BF16=1).
# Installs torch/transformers/peft/gguf into the ignored .venv when missing.
# BASELINE_BENCH=path/to/engine-bench (the `engine` bench binary of another revision, e.g.
# copied from target/debug/deps/engine-*) adds its NF4 run to each round, interleaved with
# this revision's, for a before-and-after of a change.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rapha-host/target}"
threads="${THREADS:-$(nproc)}"
scripts/fetch-model.sh
if ! .venv/bin/python -c "import torch, transformers, peft, gguf" 2>/dev/null; then
    python3 -m venv .venv
    # PyTorch's CPU-only index is the small download; PyPI's wheel (with CUDA libraries)
    # runs the same CPU code where only PyPI is reachable.
    .venv/bin/pip install --quiet --index-url https://download.pytorch.org/whl/cpu torch ||
        .venv/bin/pip install --quiet torch
    .venv/bin/pip install --quiet transformers peft gguf
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
export RAYON_NUM_THREADS="$threads"
for round in 1 2; do
    cargo bench --locked --profile dev --bench engine -- --quantization nf4 > "$out/nf4.$round.json"
    if [ -n "${BASELINE_BENCH:-}" ]; then
        "$BASELINE_BENCH" --bench --quantization nf4 > "$out/baseline-nf4.$round.json"
    fi
    .venv/bin/python benches/compare_pytorch.py --dtype fp32 --threads "$threads" > "$out/torch-fp32.$round.json"
done
cargo bench --locked --profile dev --bench engine -- --quantization nf4 --gradient-checkpointing > "$out/nf4-ckpt.json"
# The same NF4 run with AMX turned off: the f32 kernels on bf16-rounded operands.
if grep -q amx_bf16 /proc/cpuinfo; then
    RAPHA_NO_AMX=1 cargo bench --locked --profile dev --bench engine -- --quantization nf4 > "$out/nf4-no-amx.json"
fi
cargo bench --locked --profile dev --bench engine -- --quantization none > "$out/f32.json"
# bf16 autocast is only fast with native bf16 instructions; elsewhere it takes many minutes.
if grep -q avx512_bf16 /proc/cpuinfo || [ "${TORCH_BF16:-0}" = 1 ]; then
    .venv/bin/python benches/compare_pytorch.py --dtype bf16 --threads "$threads" > "$out/torch-bf16.json"
fi
python3 - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
names = ["nf4", "baseline-nf4", "nf4-ckpt", "nf4-no-amx", "f32", "torch-fp32", "torch-bf16"]
keys = [("train_tokens_per_second", "train tok/s"), ("forward_tokens_per_second", "forward tok/s"),
        ("generate_new_tokens_per_second", "generate tok/s"), ("peak_rss_bytes", "peak RSS GiB")]
def mean_of(name):
    # `name.json`, or `name.1.json`, `name.2.json`: the mean of the rounds.
    found = [json.loads(f.read_text().strip().splitlines()[-1]) for f in sorted(out.glob(f"{name}.*json"))]
    return {key: sum(r[key] for r in found) / len(found) for key, _ in keys} if found else None
runs = {name: run for name in names if (run := mean_of(name))}
def show(key, value):
    return f"{value / 2**30:.2f}" if key == "peak_rss_bytes" else f"{value:.1f}"
ours = [n for n in ["nf4", "baseline-nf4", "nf4-ckpt", "nf4-no-amx", "f32"] if n in runs]
print(f"{'':16}" + "".join(f"{n:>14}" for n in runs) + "".join(f"{n + '/torch-fp32':>26}" for n in ours))
for key, label in keys:
    row = "".join(f"{show(key, r[key]):>14}" for r in runs.values())
    ratios = "".join(f"{runs[n][key] / runs['torch-fp32'][key]:26.2f}" for n in ours)
    print(f"{label:16}{row}{ratios}")
for name in names:
    rounds = sorted(out.glob(f"{name}.[0-9].json"))
    if len(rounds) > 1:
        each = [json.loads(f.read_text().strip().splitlines()[-1])["train_tokens_per_second"] for f in rounds]
        print(f"{name} train tok/s by round: " + ", ".join(f"{v:.1f}" for v in each))
PY
