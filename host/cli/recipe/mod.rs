//! Recipes: what one training run does, as a TOML file.
//!
//! A recipe is read in two steps, as ripgrep turns `LowArgs` into `HiArgs`: serde reads it
//! into [`raw::RawRecipe`] (unknown keys refused, the span of every value kept, the meaning
//! and default of every key documented there), then [`validate`] checks values and paths
//! into a [`Recipe`], whose fields the run uses as they are. Every rejection names the
//! file, the line and column, the key and what it expects (see [`RecipeError`]).

mod document;
mod error;
mod raw;
mod schema;
mod settings;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use self::document::Document;
pub use self::error::{Position, RecipeError};
pub use self::settings::TrainPlan;
pub use self::validate::MAX_STEPS;
use self::raw::RawRecipe;
use crate::stages::predictions::Decoding;

/// A validated recipe. Every path is the recipe's own text joined onto the recipe's folder
/// (not canonicalised), so messages show paths the operator recognises.
#[derive(Debug, Clone)]
pub struct Recipe {
    /// The recipe path as given.
    pub file: PathBuf,
    /// The sha256 of the recipe's bytes, lowercase hex: `--resume` refuses a changed recipe.
    pub sha256: String,
    /// `[plugin]`
    pub plugin: PluginSettings,
    /// `[model]`
    pub model: ModelSettings,
    /// `[data]`
    pub data: DataSettings,
    /// `[lora]`
    pub lora: rapha_engine::LoraConfig,
    /// `[train]`
    pub train: TrainSettings,
    /// `[eval]`
    pub eval: EvalSettings,
    /// `[paths]`
    pub paths: PathSettings,
    /// `[privacy]`
    pub privacy: PrivacySettings,
    /// `[audit]`
    pub audit: AuditSettings,
    /// `[federation]`, when the run is a site's round.
    pub federation: Option<FederationSettings>,
    /// Where each table and key's value is written (`train.select_metric` → 14:17), for
    /// [`Recipe::error_at`].
    positions: BTreeMap<String, Position>,
}

/// `[plugin]`: the task plugin and the limits of each call into it.
#[derive(Debug, Clone)]
pub struct PluginSettings {
    /// The component file; it exists.
    pub path: PathBuf,
    /// The pinned sha256 (64 lowercase hex digits), checked by the run, not here.
    pub sha256: Option<String>,
    /// Wall-time limit of one call.
    pub deadline: Duration,
    /// Fuel of one call.
    pub fuel: u64,
    /// Linear memory of one instance, in bytes.
    pub memory_bytes: usize,
    /// Replaces the plugin's system message when set.
    pub system_prompt: Option<String>,
}

/// `[model]`: the base model.
#[derive(Debug, Clone)]
pub struct ModelSettings {
    /// A `.gguf` file or a folder holding `config.json`; it exists.
    pub path: PathBuf,
    /// How the frozen weights are held.
    pub quantization: rapha_engine::Quantization,
}

/// `[data]`: the splits, which exist as files.
#[derive(Debug, Clone)]
pub struct DataSettings {
    /// Training records (JSONL).
    pub train: PathBuf,
    /// Validation records: evaluation during training and early stopping.
    pub val: PathBuf,
    /// Test records: the final base-versus-adapter table.
    pub test: PathBuf,
    /// Rejected records or malformed lines that may be skipped before the run stops.
    pub max_rejected: u64,
    /// Whether records of different splits may hold the same text.
    pub allow_overlap: bool,
}

/// How long training runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Length {
    /// Passes over the training records (positive, finite, fractions allowed).
    Epochs(f64),
    /// Optimizer steps (at least 1).
    MaxSteps(u64),
}

/// What picks the best checkpoint and drives early stopping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectMetric {
    /// The validation loss; lower is better.
    EvalLoss,
    /// A metric the plugin should declare (`[a-z0-9_-]{1,48}`); the run checks that it does,
    /// with [`Recipe::error_at`], and uses its declared direction.
    Plugin(String),
}

/// `[train]`
#[derive(Debug, Clone)]
pub struct TrainSettings {
    /// Epochs or optimizer steps.
    pub length: Length,
    /// Records per micro-batch (1 to 1024).
    pub batch_size: usize,
    /// Micro-batches per optimizer step (1 to 1024).
    pub grad_accum: usize,
    /// Peak learning rate (positive, finite).
    pub lr: f64,
    /// Steps of linear warmup.
    pub warmup_steps: u64,
    /// Decay after warmup.
    pub schedule: rapha_engine::Decay,
    /// Longest tokenized example (8 to 32768).
    pub max_seq_len: usize,
    /// Seed of initialisation, dropout and data order.
    pub seed: u64,
    /// Compute threads; `None` for one per available core.
    pub threads: Option<usize>,
    /// Optimizer steps between evaluations (at least 1).
    pub eval_every: u64,
    /// Optimizer steps between checkpoints (at least 1).
    pub checkpoint_every: u64,
    /// Evaluations without improvement before stopping; `None` never stops early.
    pub patience: Option<u64>,
    /// What picks the best checkpoint.
    pub select_metric: SelectMetric,
    /// AdamW's decoupled weight decay (non-negative, finite).
    pub weight_decay: f64,
    /// Largest global gradient norm; `None` for no clipping.
    pub max_grad_norm: Option<f64>,
    /// Recompute activations in the backward pass.
    pub gradient_checkpointing: bool,
}

/// `[eval]`
#[derive(Debug, Clone)]
pub struct EvalSettings {
    /// Validation records generated and scored at each evaluation (at least 1).
    pub records: usize,
    /// Test records in the final table; `None` for all of them.
    pub test_records: Option<usize>,
    /// Longest completion in tokens (1 to 4096); `None` for the plugin's hint.
    pub max_new_tokens: Option<u32>,
    /// Free or schema-constrained generation.
    pub decoding: Decoding,
}

/// `[paths]`: neither needs to exist; they are apart (not equal, neither inside the other).
#[derive(Debug, Clone)]
pub struct PathSettings {
    /// Checkpoints, predictions, logs: stays on this machine.
    pub work: PathBuf,
    /// What passes the egress gate.
    pub export: PathBuf,
}

/// `[privacy]`
#[derive(Debug, Clone)]
pub struct PrivacySettings {
    /// Kernel protection the run demands.
    pub sandbox: rapha_sandbox::lockdown::SandboxMode,
    /// Fewest training records the run accepts (at least 1); with DP, also the fewest units.
    pub min_records: u64,
    /// `[privacy.dp]`, when the run trains with differential privacy.
    pub dp: Option<DpSettings>,
}

/// `[privacy.dp]`
#[derive(Debug, Clone, PartialEq)]
pub struct DpSettings {
    /// Each record alone, or the records sharing the value at this JSON pointer.
    pub unit: PrivacyUnit,
    /// The ε the run may spend.
    pub epsilon: Option<f64>,
    /// The noise multiplier, when fixed rather than calibrated.
    pub noise_multiplier: Option<f64>,
    /// δ, when given (else 1 / (10 · units)).
    pub delta: Option<f64>,
    /// The sampling rate, when given (else the batch's share of the units).
    pub sample_rate: Option<f64>,
    /// The clipping norm.
    pub max_grad_norm: f64,
    /// Tests only: a fixed seed for sampling and noise.
    pub insecure_seed: Option<u64>,
}

/// `[audit]`
#[derive(Debug, Clone, PartialEq)]
pub struct AuditSettings {
    /// Whether the audit runs (and gates the export).
    pub enabled: bool,
    /// Canaries per repetition count.
    pub canaries: usize,
    /// The repetition counts.
    pub canary_repeats: Vec<usize>,
    /// Random candidates each canary is ranked among.
    pub candidates: usize,
    /// Share of training units held out for membership inference.
    pub holdout: f64,
    /// Records of each group tried for extraction.
    pub extraction_records: usize,
    /// Thresholds.
    pub max_exposure: f64,
    /// Largest gain of a membership attack's AUC over the base model's.
    pub max_auc_gain: f64,
    /// Largest extraction excess.
    pub max_extraction: f64,
}

/// `[federation]`: one site's round.
#[derive(Debug, Clone)]
pub struct FederationSettings {
    pub site: String,
    /// The site's secret key file; it exists.
    pub key: PathBuf,
    pub round: u64,
    /// The round's global adapter folder; it exists. `None` in the first round.
    pub global: Option<PathBuf>,
    pub strategy: FederatedStrategy,
    pub seed: u64,
    /// The site's own work folder (`paths.work` as written, above the rounds' folders), where
    /// its privacy accountant outlives the rounds: a private round starts from what earlier
    /// rounds spent.
    pub site_work: PathBuf,
}

/// How the sites train, which decides how the server may aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FederatedStrategy {
    /// FFA-LoRA: `A` frozen at the federation's, `B` trained.
    Ffa,
    /// FedIT: `A` and `B` trained.
    FedIt,
}

/// What one person is, for the privacy guarantee.
#[derive(Debug, Clone, PartialEq)]
pub enum PrivacyUnit {
    /// Each training record.
    Record,
    /// The records that share the value at this JSON pointer (a patient).
    Pointer(String),
}

/// The largest recipe read: a recipe is a page of settings, and a larger file is a mistake
/// or an attack that would otherwise be parsed whole (a 100 MB recipe took 5.6 GB).
const MAX_RECIPE_BYTES: u64 = 1 << 20;

impl Recipe {
    /// Read, parse and validate the recipe at `path`: a regular file of at most
    /// [`MAX_RECIPE_BYTES`].
    pub fn load(path: &Path) -> Result<Recipe, RecipeError> {
        let bytes = rapha_sandbox::input::read_capped(path, MAX_RECIPE_BYTES).map_err(|source| RecipeError::Read {
            file: path.to_owned(),
            source,
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|error| {
            let valid = std::str::from_utf8(&bytes[..error.valid_up_to()])
                .expect("the prefix up to the error is UTF-8");
            RecipeError::NotText {
                file: path.to_owned(),
                position: Some(Position::of_offset(valid, valid.len())),
            }
        })?;
        Self::parse(text, path)
    }

    /// Parse and validate recipe `text`; `file` names it in messages, and relative paths
    /// are resolved against its folder.
    pub fn parse(text: &str, file: &Path) -> Result<Recipe, RecipeError> {
        let document = Document::parse(text).map_err(|error| RecipeError::Syntax {
            file: file.to_owned(),
            position: error
                .span()
                .map(|span| Position::of_offset(text, span.start)),
            message: one_line(error.message()),
        })?;
        if let Some(unknown) = document.first_unknown() {
            let table = unknown.path.rsplit_once('.').map(|(table, _)| table);
            return Err(RecipeError::UnknownKey {
                file: file.to_owned(),
                position: Some(document.position(unknown.span.start)),
                known: table.map_or_else(|| schema::TABLES.iter().copied().filter(|t| !t.contains('.')).collect(), schema::keys_of),
                key: unknown.path,
            });
        }
        let raw = RawRecipe::deserialize(toml::de::Deserializer::from(document.root()))
            .map_err(|error| type_error(&document, file, &error))?;
        let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        validate::validate(raw, &document, file, sha256)
    }

    /// This federated recipe for `round`, starting from `global`: the federation's round
    /// and global adapter set, and work and export folders of the round's own
    /// (`<folder>/round-N`). Refused for a recipe without `[federation]`, and for a round
    /// after the first without a global adapter folder.
    pub fn for_round(mut self, round: u64, global: Option<PathBuf>) -> anyhow::Result<Recipe> {
        let Some(federation) = &mut self.federation else {
            anyhow::bail!("--round: `{}` has no `[federation]` table: only a site's recipe runs a round", self.file.display());
        };
        match global {
            Some(folder) if !folder.is_dir() => anyhow::bail!("--global: `{}` is not a folder (the round's global adapter)", folder.display()),
            None if round > 1 => anyhow::bail!("--global: round {round} starts from the round's global adapter folder; none was given"),
            global => federation.global = global,
        }
        federation.round = round;
        let folder = format!("round-{round}");
        self.paths.work = self.paths.work.join(&folder);
        self.paths.export = self.paths.export.join(&folder);
        Ok(self)
    }

    /// An error located at `key`'s value (or at the file when the key is absent), for
    /// checks that need more than the recipe (e.g. `select_metric` against the plugin's
    /// declared metrics). `found` is shown as given, so put values in backticks.
    pub fn error_at(&self, key: &str, expected: &str, found: &str) -> RecipeError {
        RecipeError::Invalid {
            file: self.file.clone(),
            position: self.positions.get(key).copied(),
            key: key.to_owned(),
            expected: expected.to_owned(),
            found: found.to_owned(),
        }
    }
}

/// What serde refused once unknown keys are out of the way: a value of the wrong TOML type,
/// reported with what its key expects. Anything else keeps the toml crate's words.
fn type_error(document: &Document<'_>, file: &Path, error: &toml::de::Error) -> RecipeError {
    let position = error.span().map(|span| document.position(span.start));
    let located = error.span().and_then(|span| document.locate(&span));
    let expected = located
        .as_ref()
        .and_then(|located| match schema::key(&located.path) {
            Some(key) => Some(key.expected),
            None if schema::TABLES.contains(&located.path.as_str()) => Some("a table"),
            None => None,
        });
    match (located, expected) {
        (Some(located), Some(expected)) => RecipeError::Invalid {
            file: file.to_owned(),
            position,
            key: located.path,
            expected: expected.to_owned(),
            found: located.found,
        },
        _ => RecipeError::Syntax {
            file: file.to_owned(),
            position,
            message: one_line(error.message()),
        },
    }
}

/// The toml crate's messages may span lines; ours are one line each.
fn one_line(message: &str) -> String {
    message
        .split('\n')
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests;
