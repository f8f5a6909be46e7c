//! `rapha-host`: the command-line entry point.
//!
//! Exit codes: 0 success; 1 failure (the error chain is printed as `error: …`, and a
//! failed `plugin check` lists its problems first); 2 a usage error.

mod args;
mod plugin;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let usage = error.use_stderr();
            // Printing help or a usage error to the terminal: if that fails there is
            // nowhere left to report it.
            let _printed = error.print();
            return if usage { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("RAPHA_LOG").unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Plugin(command) => plugin::run(&cli.work, command),
    }
}
