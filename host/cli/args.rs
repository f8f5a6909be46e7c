//! Command-line arguments (clap derive). Each flag's documentation lives on its field.

use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand};

use crate::stages::predictions::Decoding;

/// The work folder when `--work` is not given: made in the current folder.
pub const DEFAULT_WORK: &str = "./work";

/// Fine-tune a language model on clinical text that never leaves the building.
#[derive(Debug, Parser)]
#[command(name = "rapha-host", version, about, propagate_version = true)]
pub struct Cli {
    /// The work folder of the `plugin` commands and `predict`: compiled-component cache
    /// (`cache/components/`), plugin logs (`logs/`) and outputs (`predictions/`, `scores/`).
    /// `run` uses the recipe's `paths.work` instead.
    #[arg(long, global = true, value_name = "DIR", default_value = DEFAULT_WORK)]
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
    /// Answer a file of records with a model, with or without an adapter: the plugin formats
    /// each prompt; the answers go to `<work>/predictions/NAME.jsonl`, never to an export
    /// folder. A stopped `predict` run again with the same arguments continues where it stopped.
    Predict(PredictArgs),
    /// Evaluate a plan: every candidate (the base, adapters) answers every dataset, every
    /// plugin scores; answers are cached by what made them; item-aligned results go to
    /// `<work>/eval/<plan>.json`.
    Eval(EvalArgs),
    /// Compare `eval`'s results: each metric per candidate with a 95 % bootstrap interval,
    /// paired differences from a baseline with p-values (exact McNemar for 0/1 metrics),
    /// Holm-adjusted; a table, and JSON and text in `<work>/compare/`.
    Compare(CompareArgs),
    /// Report which kernel protections this machine offers a run.
    Doctor(DoctorArgs),
    /// A federation site's ed25519 key pair: `keys new --site NAME` writes `NAME.key` (secret,
    /// owner-only; the recipe's `federation.key`) and `NAME.pub.json` (for the server).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Aggregate the sites' replies of one federated round into the global adapter: each
    /// reply (a site's export folder) is verified first — its signature against the known
    /// public keys, its files against their signed hashes, the base model and plugin — and
    /// a refused reply is left out, naming why, while the round goes on with the others.
    Aggregate(AggregateArgs),
    /// Inspect, check and score task plugins (WASI components); start new ones, in Rust,
    /// Python, JavaScript or C, with the contract, bindings and componentize for C.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

/// `rapha-host keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new key pair for a site.
    New(KeysNewArgs),
}

/// `rapha-host keys new`
#[derive(Debug, Args)]
pub struct KeysNewArgs {
    /// The site's name: 1 to 48 of lowercase letters, digits and `-`.
    #[arg(long, value_name = "NAME")]
    pub site: String,
    /// The folder the two files go into (created if absent; existing files are refused).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
}

/// One `REPLY` of `rapha-host aggregate`.
#[derive(Debug, Clone)]
pub struct ReplyArg {
    /// The site the reply's node was sampled as, if given.
    pub site: Option<String>,
    pub dir: PathBuf,
}

/// `SITE=DIR` when the text before the first `=` is a site name, else all of it is `DIR`
/// (write `./a=b` for a folder whose name looks like `SITE=…`).
fn parse_reply(text: &str) -> Result<ReplyArg, String> {
    match text.split_once('=') {
        Some((site, dir)) if rapha_federation::signing::is_site_name(site) => {
            if dir.is_empty() {
                return Err(format!("`{text}`: expected `SITE=DIR`, the folder is missing"));
            }
            Ok(ReplyArg { site: Some(site.to_owned()), dir: PathBuf::from(dir) })
        }
        _ => Ok(ReplyArg { site: None, dir: PathBuf::from(text) }),
    }
}

/// `rapha-host aggregate`
#[derive(Debug, Args)]
pub struct AggregateArgs {
    /// The sites' replies: each a folder as a federated `run` exported it, or `SITE=DIR`
    /// where the server knows which site the node that sent `DIR` was sampled as (the reply
    /// must then be signed by `SITE`).
    #[arg(value_name = "REPLY", required = true, value_parser = parse_reply)]
    pub replies: Vec<ReplyArg>,
    /// Where the global adapter goes (`adapter_model.safetensors`, `adapter_config.json`)
    /// with `aggregate.json`, what was used and refused; a new or empty folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// How to merge: `ffa` (exact; the sites trained B over a shared A), `fedit` (A and B
    /// averaged apart; inexact, its error reported) or `stack` (exact; ranks side by side).
    #[arg(long, value_enum, default_value_t = AggregateStrategy::Ffa)]
    pub strategy: AggregateStrategy,
    /// The folder of the federation's public keys (`*.pub.json`).
    #[arg(long, value_name = "DIR")]
    pub keys: PathBuf,
    /// The round the replies must answer.
    #[arg(long, value_name = "N")]
    pub round: u64,
    /// sha256 of the base model every site must have trained on.
    #[arg(long, value_name = "SHA256")]
    pub model_sha256: String,
    /// sha256 of the task plugin every site must have used.
    #[arg(long, value_name = "SHA256")]
    pub plugin_sha256: String,
    /// The sites sampled for this round; a reply from another is refused. Default: any
    /// site with a known key.
    #[arg(long, value_name = "SITE", value_delimiter = ',')]
    pub sites: Vec<String>,
    /// Fewest accepted replies the round needs.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub min_sites: usize,
}

/// `--strategy` of `aggregate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AggregateStrategy {
    Ffa,
    Fedit,
    Stack,
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
    /// Show the prompt a record becomes: the plugin's messages and target completion, and
    /// with `--model` the tokens a run trains on (chat template applied), decoded and counted.
    Prompt(PromptArgs),
    /// Print the plugin contract (the WIT package `rapha:task`) that this binary hosts, or
    /// write its files to a folder, for authors building plugins outside this repository.
    Wit(WitArgs),
    /// Write a new plugin project in the chosen language: a small working task (label a note)
    /// with native tests, sample data and `test.sh` (test, build, check, score), to replace
    /// with your own.
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
    /// The task id, which names the project folder: 1 to 48 characters, lowercase letters and
    /// digits in words joined by single `-`, a letter first. The host accepts any id of
    /// `[a-z0-9-]` (1 to 48); `new` asks more because the id also becomes a package name and,
    /// with `_` for `-`, an identifier in the template's language.
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

/// `rapha-host plugin prompt`
#[derive(Debug, Args)]
pub struct PromptArgs {
    /// The plugin component (`.wasm`).
    #[arg(value_name = "WASM")]
    pub wasm: PathBuf,

    /// Dataset records, one JSON object per line.
    #[arg(long, value_name = "JSONL")]
    pub data: PathBuf,

    /// The record's line in the file, from 1.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub line: u64,

    /// A model (GGUF file or Hugging Face folder) whose chat template and tokenizer apply.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,

    /// A system message in place of the plugin's, as a recipe's `plugin.system_prompt`.
    #[arg(long, value_name = "TEXT")]
    pub system_prompt: Option<String>,
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

    /// A federated recipe's round (what a federation's client passes): sets
    /// `federation.round`, and the work and export folders become `<paths.work>/round-N`
    /// and `<paths.export>/round-N`, one pair per round.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub round: Option<u64>,

    /// The round's global adapter folder (with `--round`, after the first round): sets
    /// `federation.global`.
    #[arg(long, value_name = "DIR", requires = "round")]
    pub global: Option<PathBuf>,
}

/// `rapha-host predict`
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Records, one JSON object per line with a unique `id`, as the plugin reads them.
    #[arg(value_name = "JSONL")]
    pub records: PathBuf,

    /// The base model: a GGUF file or a Hugging Face folder.
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,

    /// A LoRA adapter folder in PEFT's format (`adapter_config.json` and
    /// `adapter_model.safetensors`), e.g. a run's export folder; without it the base model
    /// answers.
    #[arg(long, value_name = "DIR")]
    pub adapter: Option<PathBuf>,

    /// The task plugin (`.wasm`): it formats each record's prompt and gives the stop strings.
    #[arg(long, value_name = "WASM")]
    pub plugin: PathBuf,

    /// The answers' file name in `<work>/predictions/`, without `.jsonl`
    /// [default: the records file's stem and the adapter folder's name, or `base`].
    #[arg(long, value_parser = file_stem)]
    pub name: Option<String>,

    /// How the frozen base weights are held, as a recipe's `model.quantization`.
    #[arg(long, value_enum, default_value_t = QuantizationArg::Nf4)]
    pub quantization: QuantizationArg,

    /// Cap on generated tokens per answer [default: the plugin's hint].
    #[arg(long, value_name = "N")]
    pub max_new_tokens: Option<u32>,

    /// Prompts generated together.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256).map(usize::from))]
    pub batch: usize,

    /// A system message in place of the plugin's, as a recipe's `plugin.system_prompt`.
    #[arg(long, value_name = "TEXT")]
    pub system_prompt: Option<String>,

    /// `free`: the model's own choice of tokens; `schema`: only tokens that keep the answer
    /// compact JSON fitting the plugin's output schema.
    #[arg(long, value_enum, default_value_t = Decoding::Free)]
    pub decoding: Decoding,

    /// Kernel protections: `strict` refuses to start without Landlock ABI 4 and seccomp;
    /// `best-effort` applies what the kernel offers and says what is missing.
    #[arg(long, value_enum, default_value_t = SandboxArg::Strict)]
    pub sandbox: SandboxArg,
}

/// `rapha-host eval`
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The plan (TOML): `model`, `[[candidate]]` (label, optional `adapter`, `decoding`),
    /// `[[plugin]]` and `[[dataset]]` (label, path); see `recipes/eval.toml`.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,

    /// Kernel protections, as `predict --sandbox`.
    #[arg(long, value_enum, default_value_t = SandboxArg::Strict)]
    pub sandbox: SandboxArg,
}

/// `rapha-host compare`
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// `eval`'s results files (`<work>/eval/<plan>.json`), all of one plan.
    #[arg(value_name = "RESULTS", required = true)]
    pub results: Vec<PathBuf>,

    /// The candidate the others are compared with [default: the plan's first].
    #[arg(long, value_name = "LABEL")]
    pub baseline: Option<String>,

    /// Bootstrap resamples.
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(100..=100_000).map(|n| n as usize))]
    pub resamples: usize,

    /// Seed of the resampling.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub seed: u64,

    /// The outputs' name in `<work>/compare/` [default: the first results file's stem].
    #[arg(long, value_parser = file_stem)]
    pub name: Option<String>,
}

impl CompareArgs {
    /// `--name`, or the first results file's stem.
    pub fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.results.first().and_then(|p| p.file_stem()).map_or_else(|| "compare".to_owned(), |s| s.to_string_lossy().into_owned())
        })
    }
}

/// `--quantization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum QuantizationArg {
    /// 4-bit NormalFloat with double-quantized scales (QLoRA).
    Nf4,
    /// f32.
    None,
}

impl From<QuantizationArg> for rapha_engine::Quantization {
    fn from(value: QuantizationArg) -> Self {
        match value {
            QuantizationArg::Nf4 => rapha_engine::Quantization::Nf4,
            QuantizationArg::None => rapha_engine::Quantization::None,
        }
    }
}

/// `--sandbox`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SandboxArg {
    /// Landlock ABI 4 and seccomp, or no start.
    Strict,
    /// What the kernel offers.
    BestEffort,
}

impl From<SandboxArg> for rapha_sandbox::lockdown::SandboxMode {
    fn from(value: SandboxArg) -> Self {
        match value {
            SandboxArg::Strict => rapha_sandbox::lockdown::SandboxMode::Strict,
            SandboxArg::BestEffort => rapha_sandbox::lockdown::SandboxMode::BestEffort,
        }
    }
}

/// A file name without a folder: letters, digits, `.`, `_` and `-`, not starting with `.`.
fn file_stem(value: &str) -> Result<String, String> {
    let plain = value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if value.is_empty() || value.starts_with('.') || !plain {
        return Err("expected a file name of letters, digits, `.`, `_` and `-`, not starting with `.`".to_owned());
    }
    Ok(value.to_owned())
}

/// `rapha-host doctor`
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Exit with 1 unless this machine can run `sandbox = "strict"`.
    #[arg(long)]
    pub strict: bool,
}
