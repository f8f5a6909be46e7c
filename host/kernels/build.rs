//! Compiles the kernels' own CUDA code (`src/cuda/*.cu`) to PTX when the `cuda` feature
//! is on; `src/cuda/` embeds the PTX with `include_str!` and the driver JIT-compiles it for
//! the GPU at hand. Without the feature this does nothing.
//!
//! The PTX targets the virtual architecture `compute_$CUDA_COMPUTE_CAP` (89 by default: the
//! L4), which the driver also compiles for newer GPUs (H100/H200, sm_90). Each PTX file is
//! then assembled once for sm_89 and sm_90 with `ptxas`, only to check it: its register and
//! spill report lands beside the PTX in `OUT_DIR`, and a spill or local-memory warning becomes
//! a cargo warning. The binary keeps the PTX. nvcc comes from `$NVCC`, `$CUDA_HOME/bin` or `PATH` (see `scripts/build-cuda.sh`).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const KERNEL_DIR: &str = "src/cuda";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    for var in ["NVCC", "CUDA_HOME", "CUDA_COMPUTE_CAP", "PATH"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rerun-if-changed={KERNEL_DIR}");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let nvcc = nvcc();
    let cap = env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "89".to_owned());
    if !cap.bytes().all(|b| b.is_ascii_digit()) || cap.parse::<u32>().map_or(true, |c| c < 80) {
        fail(&format!(
            "CUDA_COMPUTE_CAP `{cap}`: expected a number of 80 or more (bf16 needs sm_80)"
        ));
    }
    let mut sources: Vec<PathBuf> = std::fs::read_dir(KERNEL_DIR)
        .unwrap_or_else(|e| fail(&format!("{KERNEL_DIR}: {e}")))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "cu"))
        .collect();
    sources.sort();
    for source in &sources {
        println!("cargo::rerun-if-changed={}", source.display());
        let stem = source.file_stem().expect("a .cu file has a name");
        let ptx = out_dir.join(stem).with_extension("ptx");
        run(Command::new(&nvcc)
            .args(["--ptx", "-std=c++17", "-O3", "--Werror", "all-warnings"])
            .arg(format!("-arch=compute_{cap}"))
            .arg("-o")
            .arg(&ptx)
            .arg(source)
            // scripts/build-cuda.sh appends PTX for candle's static kernels through this
            // variable; a second architecture would make `--ptx` refuse to run.
            .env_remove("NVCC_APPEND_FLAGS"));
        let ptxas = nvcc.with_file_name("ptxas");
        if ptxas.is_file() {
            for arch in ["sm_89", "sm_90"] {
                let output = run(Command::new(&ptxas)
                    .args([
                        "-v",
                        "--warn-on-spills",
                        "--warn-on-local-memory-usage",
                        "-arch",
                        arch,
                    ])
                    .arg(&ptx)
                    .arg("-o")
                    .arg(out_dir.join(format!("{}.{arch}.cubin", stem.to_string_lossy()))));
                let report = String::from_utf8_lossy(&output);
                let report_file =
                    out_dir.join(format!("{}.{arch}.ptxas.txt", stem.to_string_lossy()));
                std::fs::write(&report_file, report.as_bytes())
                    .unwrap_or_else(|e| fail(&format!("{}: {e}", report_file.display())));
                for line in report.lines().filter(|line| line.contains("warning")) {
                    println!("cargo::warning=ptxas {arch}: {line}");
                }
            }
        }
    }
}

/// The nvcc to use: `$NVCC`, else `$CUDA_HOME/bin/nvcc`, else the first on `PATH`.
fn nvcc() -> PathBuf {
    if let Some(nvcc) = env::var_os("NVCC") {
        return PathBuf::from(nvcc);
    }
    if let Some(home) = env::var_os("CUDA_HOME") {
        let nvcc = Path::new(&home).join("bin/nvcc");
        if nvcc.is_file() {
            return nvcc;
        }
    }
    env::var_os("PATH")
        .and_then(|path| {
            env::split_paths(&path)
                .map(|dir| dir.join("nvcc"))
                .find(|nvcc| nvcc.is_file())
        })
        .unwrap_or_else(|| {
            fail("feature `cuda`: nvcc not found in $NVCC, $CUDA_HOME/bin or PATH: build with scripts/build-cuda.sh, which installs CUDA 13.0 from PyPI")
        })
}

/// Run `command`, failing the build with its output if it fails; returns its stderr.
fn run(command: &mut Command) -> Vec<u8> {
    let output = command
        .output()
        .unwrap_or_else(|e| fail(&format!("{command:?}: {e}")));
    if !output.status.success() {
        fail(&format!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    output.stderr
}

fn fail(message: &str) -> ! {
    eprintln!("rapha-engine build: {message}");
    std::process::exit(1);
}
