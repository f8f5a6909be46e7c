#!/usr/bin/env bash
# On a GPU machine (README, "GPU measurement"): the engine's GPU self-tests, then the
# comparison with PyTorch (benches/gpu/compare.sh), in one invocation.
#
#   scripts/gpu-run.sh [selftest|bench|all] [compare.sh arguments...]
#
# Needs the `cuda` build of rapha-gpu (scripts/build-cuda.sh, carried as target/gpu-xz) and a
# CUDA 13 PyTorch with transformers and peft (the GPU machines' python3). Wheels found in
# .whl/ (bitsandbytes, for the NF4 PyTorch run) are installed into /tmp/site first.
# Logs and results go to $OUT when it is set (the GPU tool's folder that comes back): the
# self-test table, compare.sh's output, and every run's JSON and log in one archive (the
# tool returns at most 8 files).
set -uo pipefail
cd "$(dirname "$0")/.."

what=all
case "${1:-}" in
    selftest | bench | all) what="$1"; shift ;;
esac
device=cuda
for ((i = 1; i <= $#; i++)); do
    [[ "${!i}" == --device ]] && { j=$((i + 1)); device="${!j:-}"; }
done
out="${OUT:-$(mktemp -d)}"
python="${PYTHON:-python3}"

if compgen -G ".whl/*.whl" >/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || { echo "gpu-run: installing .whl/*.whl failed" >&2; exit 1; }
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
source benches/gpu/env.sh
find_rapha_gpu "$device" || exit 1
export RAPHA_GPU="$rapha_gpu" PYTHON="$python"
if [[ "$device" == cuda ]]; then
    cuda_env "$python" || exit 1
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,temperature.gpu --format=csv \
        2>&1 | tee "$out/nvidia-smi.txt"
fi

selftest=skipped
if [[ "$what" != bench ]]; then
    "$rapha_gpu" selftest 2>&1 | tee "$out/selftest.txt"
    case "${PIPESTATUS[0]}" in
        0) selftest=passed ;;
        2) selftest="not run (a build without CUDA)" ;;
        *) selftest=FAILED ;;
    esac
fi
compare=skipped
if [[ "$what" != selftest ]]; then
    results="$(mktemp -d)/results"
    RESULTS_DIR="$results" benches/gpu/compare.sh "$@" 2>&1 | tee "$out/compare.txt"
    if [[ "${PIPESTATUS[0]}" -eq 0 ]]; then compare=done; else compare=FAILED; fi
    tar -czf "$out/results.tar.gz" -C "$(dirname "$results")" results
fi
echo "gpu-run: selftest $selftest; comparison $compare; files in $out"
[[ "$selftest" != FAILED && "$compare" != FAILED ]]
