//! `rapha-gpu`: the QLoRA engine alone, small enough to copy to a GPU machine that has no
//! network and no Rust toolchain (no wasmtime, no task host, no tokenizer files).
//!
//! - `rapha-gpu selftest`: the engine's CUDA checks (CPU against GPU), as a table.
//! - `rapha-gpu bench`: training throughput, peak memory and MFU of a synthetic Llama.
//!
//! Exit codes: 0 success; 1 a failed check or an error (printed as `error: …`); 2 a usage
//! error, or `selftest` in a build without CUDA.

mod bench;
mod flops;
mod gemm;
mod memory;
#[cfg(feature = "cuda")]
mod checks;
mod selftest;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The engine's GPU self-tests and benchmark.
#[derive(Debug, Parser)]
#[command(name = "rapha-gpu", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the engine's CUDA checks (CPU against GPU) and print a table; exit 1 on a failure.
    Selftest(selftest::SelftestArgs),
    /// Time QLoRA training steps of a synthetic model and print one JSON object.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let usage = error.use_stderr();
            // Printing help or a usage error to the terminal: if that fails there is
            // nowhere left to report it.
            let _printed = error.print();
            return if usage {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Selftest(args) => selftest::run(&args),
        Command::Bench(args) => match bench::run(&args) {
            Ok(report) => {
                println!("{report}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}
