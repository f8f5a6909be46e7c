# Sourced by benches/gpu/compare.sh and scripts/gpu-run.sh (from the repository root).

# `find_rapha_gpu <device>` sets `rapha_gpu` to the binary to run: $RAPHA_GPU when set; for
# `cpu`, a dev build made here with cargo when cargo is at hand (a `cuda` build cannot start
# without a driver); else target/gpu/rapha-gpu, which scripts/build-cuda.sh writes, or its
# `xz` copy target/gpu-xz/rapha-gpu.xz (what a GPU session carries: 15 MB).
find_rapha_gpu() {
    if [[ -n "${RAPHA_GPU:-}" ]]; then
        rapha_gpu="$RAPHA_GPU"
    elif [[ "$1" == cpu ]] && command -v cargo >/dev/null; then
        local target="${CARGO_TARGET_DIR:-$HOME/.cache/rapha-host/target}"
        CARGO_TARGET_DIR="$target" cargo build --locked -q -p rapha-gpu || return 1
        rapha_gpu="$target/debug/rapha-gpu"
    elif [[ -x target/gpu/rapha-gpu ]]; then
        rapha_gpu="$PWD/target/gpu/rapha-gpu"
    elif [[ -f target/gpu-xz/rapha-gpu.xz ]]; then
        rapha_gpu="$(mktemp -d)/rapha-gpu"
        # Python's lzma where the machine has no xz.
        { if command -v xz >/dev/null; then xz -dc target/gpu-xz/rapha-gpu.xz; else
            "${PYTHON:-python3}" -c 'import lzma, sys; sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())' \
                target/gpu-xz/rapha-gpu.xz; fi; } >"$rapha_gpu" && chmod +x "$rapha_gpu" || return 1
    else
        echo "no rapha-gpu binary: set RAPHA_GPU, or build it with scripts/build-cuda.sh and carry target/gpu-xz" >&2
        return 1
    fi
}

# `cuda_env <python>` puts the CUDA 13 libraries a `cuda` build of rapha-gpu links
# (libcublas.so.13, libcublasLt.so.13, libcurand.so.10, libcudart.so.13) on LD_LIBRARY_PATH,
# from the `nvidia` wheels of that Python's CUDA 13 PyTorch; the driver brings libcuda.so.1
# (under /usr/local/nvidia/lib64 on the GPU machines when not on the loader's default path).
cuda_env() {
    local libs
    libs="$("$1" -c '
import os, nvidia
print(next(p for p in (os.path.join(r, "cu13", "lib") for r in nvidia.__path__) if os.path.isdir(p)))
' 2>/dev/null)" || {
        echo "$1 has no nvidia/cu13/lib (the CUDA 13 wheels of a cu130 PyTorch)" >&2
        return 1
    }
    case ":${LD_LIBRARY_PATH:-}:" in
        *":$libs:"*) ;;
        *) export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
    esac
    if [[ -d /usr/local/nvidia/lib64 && ":$LD_LIBRARY_PATH:" != *":/usr/local/nvidia/lib64:"* ]]; then
        export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:/usr/local/nvidia/lib64"
    fi
}
