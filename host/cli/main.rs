//! `rapha-host`: the command-line entry point.
//!
//! Exit codes: 0 success; 1 failure (the error chain is printed as `error: …`, and a
//! failed `plugin check` lists its problems first); 2 a usage error; 130 a run stopped by
//! Ctrl-C or SIGTERM after writing its checkpoint, or a `predict` after its last batch.

mod args;
mod atomic;
mod compare;
mod doctor;
mod eval;
mod federation;
mod plot;
mod jsonl;
mod plugin;
mod predict;
mod progress;
mod recipe;
mod report;
mod run;
mod stages;

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Command, KeysCommand, LogFormat};

fn main() -> ExitCode {
    rapha_kernels::allocator::retain_freed_buffers();
    rapha_sandbox::lockdown::file_size_limit_as_error();
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
    // A run reports its progress in bars on a terminal, and in info lines anywhere else.
    let bars = matches!(cli.command, Command::Run(_) | Command::Predict(_) | Command::Eval(_)) && std::io::stderr().is_terminal() && cli.log_format == LogFormat::Human;
    let default = if bars { "warn" } else { "warn,rapha_host=info" };
    let filter = EnvFilter::try_from_env("RAPHA_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Colour only for a person at a terminal: never into files, pipes or JSON, nor with
    // `NO_COLOR` set (https://no-color.org).
    let colour = cli.log_format == LogFormat::Human
        && std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let subscriber =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colour);
    match cli.log_format {
        LogFormat::Human => subscriber.init(),
        LogFormat::Json => subscriber.json().init(),
    }
    match dispatch(cli, bars) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            let stopped = error.is::<run::Interrupted>()
                || error.downcast_ref::<predict::Stopped>().is_some()
                || error.downcast_ref::<eval::Stopped>().is_some();
            if stopped { ExitCode::from(130) } else { ExitCode::FAILURE }
        }
    }
}

fn dispatch(cli: Cli, bars: bool) -> anyhow::Result<()> {
    // Only the default, made in whatever folder the command runs in, goes unnoticed.
    let announce = cli.work == Path::new(args::DEFAULT_WORK) && !cli.work.exists();
    let result = match cli.command {
        Command::Run(args) => return run::run(&args, bars),
        Command::Predict(args) => predict::run(&cli.work, &args, bars),
        Command::Eval(args) => eval::run(&cli.work, &args, bars),
        Command::Compare(args) => compare::run(&cli.work, &args),
        Command::Doctor(args) => return doctor::run(&args),
        Command::Keys(KeysCommand::New(args)) => federation::keys_new(&args),
        Command::Aggregate(args) => federation::aggregate(&args),
        Command::Plugin(command) => plugin::run(&cli.work, command),
    };
    if announce && cli.work.exists() {
        eprintln!(
            "note: created the work folder `{}` (compiled plugins, logs and outputs; `--work DIR` puts them elsewhere)",
            cli.work.display()
        );
    }
    result
}
