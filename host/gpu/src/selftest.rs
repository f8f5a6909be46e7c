//! `rapha-gpu selftest`: the CUDA checks, as a table.
//!
//! Each check (`checks.rs`) runs the same seeded computation on the CPU and on the GPU and
//! reports the measured error next to its tolerance. The seed is fresh on every run unless given, since the GPU must agree with
//! the CPU on any input; it is printed so a failure can be replayed.

use std::process::ExitCode;

use clap::Args;

/// Options of `rapha-gpu selftest`.
#[derive(Debug, Args)]
pub struct SelftestArgs {
    /// Seed of the checks' inputs. Default: drawn from the clock, and printed.
    #[arg(long)]
    seed: Option<u64>,
}

/// Run every check and print the table; 1 if any failed or could not run, 2 in a build
/// without CUDA.
pub fn run(args: &SelftestArgs) -> ExitCode {
    imp::run(args)
}

#[cfg(not(feature = "cuda"))]
mod imp {
    use std::process::ExitCode;

    use super::SelftestArgs;

    pub fn run(_args: &SelftestArgs) -> ExitCode {
        eprintln!(
            "error: this rapha-gpu was built without CUDA, so there is no GPU check to run \
             (`scripts/build-cuda.sh` builds it with)"
        );
        ExitCode::from(2)
    }
}

#[cfg(feature = "cuda")]
mod imp {
    use std::process::ExitCode;
    use std::time::{SystemTime, UNIX_EPOCH};

    use candle_core::Device;
    use crate::checks::ALL;

    use super::SelftestArgs;

    pub fn run(args: &SelftestArgs) -> ExitCode {
        let seed = args.seed.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_nanos() as u64)
        });
        let device = match Device::new_cuda(0) {
            Ok(device) => device,
            Err(error) => {
                eprintln!("error: opening CUDA device 0: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!("seed {seed} (replay with `rapha-gpu selftest --seed {seed}`)");
        println!(
            "{:<28} {:>12} {:>12}  result",
            "check", "measured", "tolerance"
        );
        let mut details = Vec::new();
        let mut failed = 0;
        for (name, check) in ALL {
            match check(&device, seed) {
                Ok(report) => {
                    let passed = report.passed();
                    failed += usize::from(!passed);
                    println!(
                        "{name:<28} {:>12.3e} {:>12.1e}  {}",
                        report.measured,
                        report.tolerance,
                        if passed { "pass" } else { "FAIL" }
                    );
                    details.push(format!("{name}: {}", report.detail));
                }
                Err(error) => {
                    failed += 1;
                    println!("{name:<28} {:>12} {:>12}  ERROR", "-", "-");
                    details.push(format!("{name}: error: {error:#}"));
                }
            }
        }
        println!();
        details.iter().for_each(|line| println!("{line}"));
        if failed == 0 {
            println!("\nall {} checks passed", ALL.len());
            ExitCode::SUCCESS
        } else {
            println!("\n{failed} of {} checks failed", ALL.len());
            ExitCode::FAILURE
        }
    }
}
