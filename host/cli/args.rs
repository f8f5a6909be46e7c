//! Command-line arguments (clap derive). Each flag's documentation lives on its field.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Fine-tune a language model on clinical text that never leaves the building.
#[derive(Debug, Parser)]
#[command(name = "rapha-host", version, about, propagate_version = true)]
pub struct Cli {
    /// The work folder of the `plugin` commands: compiled-component cache
    /// (`cache/components/`), plugin logs (`logs/`) and outputs. `run` uses the recipe's
    /// `paths.work` instead.
    #[arg(long, global = true, value_name = "DIR", default_value = "./work")]
    pub work: PathBuf,

    /// Log format on stderr: `human` lines, or one JSON object per event.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train an adapter as a recipe says, evaluate it against the base model, and export
    /// what may leave through the egress gate.
    Run(RunArgs),
    /// Report which kernel protections this machine offers a run.
    Doctor(DoctorArgs),
    /// Inspect, check and score task plugins (WASI components); start new ones, in Rust,
    /// Python, JavaScript or C, with the contract, bindings and componentize for C.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

/// `rapha-host plugin …`
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Show what a plugin declares: id, version, WIT version, metrics, output schema, hints.
    Info(InfoArgs),
    /// Check a plugin against a dataset: every export, determinism, schema, perfect targets.
    ///
    /// For every record: `format-example` gives the target completion; the target must
    /// satisfy the declared output schema, pass `validate`, and score perfectly — `reward`
    /// equal to 1 — against its own record; `score` and `aggregate` must succeed. A fresh
    /// instance then repeats every call in reverse order and must return the same values
    /// as the warm one. Exits with 1 on any failure, naming the JSONL line.
    Check(CheckArgs),
    /// Score predictions against a dataset: a table on the terminal, JSON to a file.
    Score(ScoreArgs),
    /// Print the plugin contract (the WIT package `rapha:task`) that this binary hosts, or
    /// write its files to a folder, for authors building plugins outside this repository.
    Wit(WitArgs),
    /// Write a new plugin project: every function of the contract in the chosen language,
    /// `info` declared and the others failing with "not implemented" until filled in.
    New(NewArgs),
    /// Write the contract's C bindings (wit-bindgen's C generator), for C plugins.
    Bindings(BindingsArgs),
    /// Turn a core module built for `wasm32-wasi` into a component the host loads, with the
    /// WASI preview-1 reactor adapter of the wasmtime this binary runs.
    Componentize(ComponentizeArgs),
}

/// `rapha-host plugin new`
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's language.
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// The task id, which names the project folder: `[a-z][a-z0-9]*` words joined by `-`.
    pub name: String,
    /// The folder the project folder `NAME/` is created in.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
}

/// A language `plugin new` writes skeletons in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
    C,
}

impl std::fmt::Display for Lang {
    /// The name on the command line (clap's, from the variant), which is also the template
    /// folder's.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = clap::ValueEnum::to_possible_value(self).expect("no language is skipped");
        f.write_str(value.get_name())
    }
}

/// `rapha-host plugin bindings`
#[derive(Debug, Args)]
pub struct BindingsArgs {
    /// The bindings' language.
    #[arg(long, value_enum)]
    pub lang: BindingsLang,
    /// The folder to write them to (created if absent; existing files are refused).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// A language `plugin bindings` generates for; the others generate their own.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BindingsLang {
    C,
}

/// `rapha-host plugin componentize`
#[derive(Debug, Args)]
pub struct ComponentizeArgs {
    /// The core module (`.wasm`, `wasm32-wasi` preview 1, no `main`), linked with the type
    /// section (`*_component_type.o`) that `plugin bindings` writes.
    pub module: PathBuf,
    /// Where to write the component.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `rapha-host plugin wit`
#[derive(Debug, Args)]
pub struct WitArgs {
    /// Write the package's `.wit` files into this folder (created if absent; existing files
    /// with the same names are refused) instead of printing them.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `rapha-host plugin info`
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The plugin component (`.wasm`).
    #[arg(value_name = "WASM")]
    pub wasm: PathBuf,
}

/// `rapha-host plugin check`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The plugin component (`.wasm`).
    #[arg(value_name = "WASM")]
    pub wasm: PathBuf,

    /// Dataset records, one JSON object per line.
    #[arg(long, value_name = "JSONL")]
    pub data: PathBuf,
}

/// `rapha-host plugin score`
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The plugin component (`.wasm`).
    #[arg(value_name = "WASM")]
    pub wasm: PathBuf,

    /// Dataset records, one JSON object per line, each with an `id`.
    #[arg(long, value_name = "JSONL")]
    pub data: PathBuf,

    /// Predictions, one `{"id": …, "prediction": "…"}` per line, matched to records by id.
    #[arg(long, value_name = "JSONL")]
    pub predictions: PathBuf,

    /// Where to write the scores as JSON [default: `<work>/scores/<plugin id>.json`].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `rapha-host run`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The recipe (TOML); see `recipes/` for one per task.
    #[arg(value_name = "RECIPE")]
    pub recipe: PathBuf,

    /// Continue the stopped run in the recipe's work folder from its latest checkpoint.
    /// Refused if the recipe, model, plugin or data changed since (by sha256).
    #[arg(long)]
    pub resume: bool,
}

/// `rapha-host doctor`
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Exit with 1 unless this machine can run `sandbox = "strict"`.
    #[arg(long)]
    pub strict: bool,
}
