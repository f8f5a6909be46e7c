#!/usr/bin/env bash
# Build the engine-only GPU binary (`rapha-gpu`, feature `cuda`) on a machine that has
# neither a GPU nor a system CUDA toolkit: the toolkit comes from PyPI wheels.
#
#   scripts/build-cuda.sh           release build; prints the binary's path, size and build time
#   scripts/build-cuda.sh --check   `cargo check` with the same environment (fast iteration)
#   scripts/build-cuda.sh --env     print the environment as `export` lines, for
#                                   `eval "$(scripts/build-cuda.sh --env)"` before cargo by hand
#
# What it does, each step skipped when already done:
# 1. installs the CUDA 13.0 compiler wheels, pinned, into a venv at $RAPHA_TOOLS/cuda
#    (default ~/.cache/rapha-host/tools/cuda). 13.0 exactly: the GPU machines' driver 580 is
#    CUDA 13.0, which JIT-compiles PTX ISA 9.0 (what nvcc 13.0 writes) and nothing newer, and
#    cudarc 0.19.10 refuses toolkits past 13.4. PyPI has no complete CUDA 12 nvcc.
# 2. writes link-time stubs: the wheels have no libcuda.so (it comes with the driver) and only
#    versioned sonames of cuBLAS and friends. Each stub exports every function cudarc's
#    bindings declare under the real soname, so the binary records the same NEEDED entries as
#    with the real libraries, which the GPU machine's driver and torch wheels provide.
# 3. builds with CUDA_COMPUTE_CAP=89 (the L4) plus compute_89 PTX embedded in candle's static
#    kernels, so one binary runs on the L4 (sm_89) and, through the driver's JIT, on H100/H200
#    (sm_90). Our own kernels (host/kernels/src/cuda/*.cu) are compute_89 PTX only.
#
# The default build and CI need none of this. Knobs: RAPHA_TOOLS, CARGO_TARGET_DIR,
# CUDA_COMPUTE_CAP (89 by default; 90 gives sm_90a code that runs only on H100/H200).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${RAPHA_TOOLS:-$HOME/.cache/rapha-host/tools}/cuda"
target_dir="${CARGO_TARGET_DIR:-$HOME/.cache/rapha-host/target}"
cap="${CUDA_COMPUTE_CAP:-89}"
readonly WHEELS=(
    nvidia-cuda-nvcc==13.0.88
    nvidia-cuda-crt==13.0.88
    nvidia-nvvm==13.0.88
    nvidia-cuda-runtime==13.0.96
    nvidia-cuda-cccl==13.0.85
)

die() {
    echo "build-cuda: $*" >&2
    exit 1
}

mode=build
case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    --env) mode=env ;;
    *) die "unknown argument \`$1\`: expected --check, --env or nothing" ;;
esac
[[ "$cap" =~ ^[0-9]+$ && "$cap" -ge 80 ]] \
    || die "CUDA_COMPUTE_CAP \`$cap\`: expected 80 or more (bf16 needs sm_80)"
command -v python3 >/dev/null || die "python3 not found: it installs the toolkit wheels"
command -v gcc >/dev/null || die "gcc not found: nvcc needs it as host compiler, and it builds the stubs"
command -v xz >/dev/null || die "xz not found: it compresses the binary for the GPU machine"

log() {
    # Progress goes to stderr, so `--env` prints nothing but the exports.
    echo "build-cuda: $*" >&2
}

# --- 1. toolkit -------------------------------------------------------------------------
installed_pins() {
    "$tools/bin/python" - "${WHEELS[@]}" <<'EOF' 2>/dev/null
import importlib.metadata as m, sys
for pin in sys.argv[1:]:
    name, version = pin.split("==")
    if m.version(name) != version:
        sys.exit(1)
EOF
}
if ! installed_pins; then
    log "installing the CUDA 13.0 compiler wheels into $tools"
    [[ -x "$tools/bin/python" ]] || python3 -m venv "$tools"
    "$tools/bin/python" -m pip install --quiet --disable-pip-version-check "${WHEELS[@]}" \
        || die "pip could not install ${WHEELS[*]}"
    installed_pins || die "the wheels in $tools are not the pinned versions after installing"
fi
cuda_home="$("$tools/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/nvidia/cu13"
[[ -x "$cuda_home/bin/nvcc" ]] || die "no nvcc at $cuda_home/bin/nvcc: the nvidia-cuda-nvcc wheel is incomplete"
"$cuda_home/bin/nvcc" --version | grep -q 'release 13\.0' \
    || die "$cuda_home/bin/nvcc is not CUDA 13.0: $("$cuda_home/bin/nvcc" --version | tail -1)"

# --- 2. link-time stubs -------------------------------------------------------------------
cd "$repo"
cargo fetch --locked -q || die "cargo fetch --locked failed: is Cargo.lock up to date?"
cudarc_src="$(cargo metadata --locked --format-version 1 --features rapha-engine/cuda | python3 -c '
import json, os, sys
packages = json.load(sys.stdin)["packages"]
print(next(os.path.dirname(p["manifest_path"]) for p in packages if p["name"] == "cudarc"))
')" || die "cudarc is not among the dependencies of rapha-engine/cuda"
stubs="$cuda_home/lib/stubs"
stamp="$stubs/cudarc-source"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$cudarc_src" ]]; then
    log "writing link stubs from $cudarc_src"
    mkdir -p "$stubs"
    make_stub() { # <cudarc module> <symbol prefix> <soname> <file>
        local source="$cudarc_src/src/$1/sys/mod.rs"
        [[ -f "$source" ]] || die "cudarc has no bindings at $source"
        grep -ohP "^\s+(pub )?fn \K$2[A-Za-z0-9_]*(?=\()" "$source" | sort -u \
            | sed 's/.*/int &(void) { return 999; }/' >"$stubs/$4.c"
        [[ -s "$stubs/$4.c" ]] || die "found no \`$2*\` functions in $source"
        gcc -shared -fPIC -Wl,-soname,"$3" -o "$stubs/$4" "$stubs/$4.c"
    }
    make_stub driver cu libcuda.so.1 libcuda.so
    make_stub cublas cublas libcublas.so.13 libcublas.so
    make_stub cublaslt cublasLt libcublasLt.so.13 libcublasLt.so
    make_stub curand curand libcurand.so.10 libcurand.so
    make_stub nvrtc nvrtc libnvrtc.so.13 libnvrtc.so
    echo "$cudarc_src" >"$stamp"
fi
# candle-kernels links its static kernels against the runtime by its unversioned name.
ln -sf libcudart.so.13 "$cuda_home/lib/libcudart.so"

# --- 3. build -------------------------------------------------------------------------------
export PATH="$cuda_home/bin:$PATH"   # nvcc for candle-kernels, cudarc and our build.rs
export CUDA_HOME="$cuda_home"        # cudarc searches $CUDA_HOME/lib and lib/stubs
export CUDARC_CUDA_VERSION=13000     # what cudarc would read off `nvcc --version`, made explicit
export CUDA_COMPUTE_CAP="$cap"       # no nvidia-smi here to ask
if [[ "$cap" -lt 90 ]]; then
    # candle-kernels' static GGUF/MoE kernels are sm_$cap machine code only; add PTX so they
    # JIT on newer GPUs too. candle-kernels does not watch this variable: after changing it,
    # `cargo clean --release -p candle-kernels`.
    export NVCC_APPEND_FLAGS="-gencode=arch=compute_$cap,code=compute_$cap"
else
    unset NVCC_APPEND_FLAGS
fi
export CARGO_TARGET_DIR="$target_dir"

if [[ "$mode" == env ]]; then
    for name in PATH CUDA_HOME CUDARC_CUDA_VERSION CUDA_COMPUTE_CAP NVCC_APPEND_FLAGS CARGO_TARGET_DIR; do
        [[ -n "${!name+set}" ]] && printf 'export %s=%q\n' "$name" "${!name}"
    done
    exit 0
fi

# The engine-only binary once it exists, the engine library until then.
if [[ -f host/gpu/Cargo.toml ]]; then
    package=rapha-gpu
else
    package=rapha-engine
fi
if [[ "$mode" == check ]]; then
    log "cargo check -p $package --features cuda"
    exec cargo check --locked -p "$package" --features cuda
fi

busy="$(pgrep -c -x 'cargo|rustc' || true)"
[[ "$busy" -eq 0 ]] || log "note: $busy cargo/rustc processes are running; this build will wait or share the cores"
log "cargo build --release -p $package --features cuda (a clean build takes about 15 minutes on 2 cores)"
started=$SECONDS
nice -n 10 cargo build --release --locked -p "$package" --features cuda
elapsed=$((SECONDS - started))
if [[ "$package" == rapha-gpu ]]; then
    binary="$target_dir/release/rapha-gpu"
    [[ -x "$binary" ]] || die "the build succeeded but $binary is missing"
    # A stripped copy inside the repository (ignored), and that copy xz-compressed (a quarter
    # of the size) in a folder of its own: what a GPU session's `carry` takes, since the two
    # together would pass the 64 MiB a call carries.
    mkdir -p target/gpu target/gpu-xz
    strip -o target/gpu/rapha-gpu "$binary"
    xz -T0 -6 -c target/gpu/rapha-gpu >target/gpu-xz/rapha-gpu.xz
    echo "binary:   $binary ($(stat -c %s "$binary") bytes)"
    echo "stripped: $repo/target/gpu/rapha-gpu ($(stat -c %s target/gpu/rapha-gpu) bytes)"
    echo "xz:       $repo/target/gpu-xz/rapha-gpu.xz ($(stat -c %s target/gpu-xz/rapha-gpu.xz) bytes): carry target/gpu-xz"
    echo "needs:    $(readelf -d "$binary" | grep -oP 'NEEDED.*\[\K[^]]+' | tr '\n' ' ')"
else
    echo "built the rapha-engine library with cuda (no binary until host/gpu exists)"
fi
echo "build time: $((elapsed / 60)) min $((elapsed % 60)) s"
