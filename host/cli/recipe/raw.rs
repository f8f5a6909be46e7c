//! The recipe as written: every key optional, every value with its span.
//!
//! This is the reference for recipe authors: each field's doc says what the key means,
//! its default and the values it accepts (the recipe files only carry short comments that
//! point here). Nothing is checked beyond TOML types; [`super::validate`] turns a
//! [`RawRecipe`] into a [`super::Recipe`]. Paths are relative to the recipe's folder.

use serde::Deserialize;
use toml::Spanned;

/// A whole recipe file: one table per concern.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecipe {
    /// `[plugin]`: the task plugin and the limits of each call into it.
    pub plugin: Option<Spanned<RawPlugin>>,
    /// `[model]`: the base model and how it is held in memory.
    pub model: Option<Spanned<RawModel>>,
    /// `[data]`: the three JSONL splits.
    pub data: Option<Spanned<RawData>>,
    /// `[lora]`: the adapter's shape, as PEFT's `LoraConfig`.
    pub lora: Option<Spanned<RawLora>>,
    /// `[train]`: optimisation, evaluation cadence and early stopping.
    pub train: Option<Spanned<RawTrain>>,
    /// `[eval]`: how much is generated and scored, during training and at the end.
    pub eval: Option<Spanned<RawEval>>,
    /// `[paths]`: where the run writes.
    pub paths: Option<Spanned<RawPaths>>,
    /// `[privacy]`: what the run demands before it touches patient text.
    pub privacy: Option<Spanned<RawPrivacy>>,
    /// `[audit]`: the leakage audit that gates the export.
    pub audit: Option<Spanned<RawAudit>>,
    /// `[federation]`: this run is one site's round of a federation.
    pub federation: Option<Spanned<RawFederation>>,
}

/// `[federation]`: the run trains one site's adapter for one round of a federation. The
/// first round starts every site from the same adapter (its `A` drawn from `seed`); a later
/// round starts from the round's global adapter. The export's manifest is signed with the
/// site's key, so the server can check who sent it and what it was trained with.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFederation {
    /// Required. The site's name, as its key (`rapha-host keys new --site NAME`).
    pub site: Option<Spanned<String>>,
    /// Required. The site's secret key file (`NAME.key`), which signs the export.
    pub key: Option<Spanned<String>>,
    /// The round this run answers. Default 1.
    pub round: Option<Spanned<u64>>,
    /// The round's global adapter folder (what the server sent). Required after round 1.
    pub global: Option<Spanned<String>>,
    /// `"ffa"` (FFA-LoRA: `A` frozen, only `B` trained; aggregation is exact) or `"fedit"`
    /// (both trained; averaging is approximate). Default `"ffa"`.
    pub strategy: Option<Spanned<String>>,
    /// The federation's seed: every site draws the first round's `A` from it. Default 0.
    pub seed: Option<Spanned<u64>>,
}

/// `[audit]`: before anything is exported, measure what the adapter gives away — exposure of
/// synthetic secrets (canaries) trained into it, membership inference against held-out
/// records, verbatim extraction of training targets — and refuse the export when a figure
/// is over its threshold. On by default; the thresholds may be changed, never hidden: the
/// report always shows the figures.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    /// Run the audit. Default `true`.
    pub enabled: Option<Spanned<bool>>,
    /// Canaries (synthetic identifier lines) per repetition count. Default 4.
    pub canaries: Option<Spanned<u64>>,
    /// How many times each group of canaries is trained on. Default `[1, 4]`.
    pub canary_repeats: Option<Spanned<Vec<Spanned<u64>>>>,
    /// Random secrets of the same shape each canary is ranked among. Default 100.
    pub candidates: Option<Spanned<u64>>,
    /// Share of the training units (records, or patients with `privacy.dp.unit`) held out of
    /// training for membership inference. Default 0.1.
    pub holdout: Option<Spanned<f64>>,
    /// Trained and held-out records each whose targets extraction is tried on. Default 16.
    pub extraction_records: Option<Spanned<u64>>,
    /// Largest canary exposure (bits) the export allows. Default 8.
    pub max_exposure: Option<Spanned<f64>>,
    /// Largest gain of a membership-inference attack's AUC (the strongest of four) over the
    /// same attack with the base model's scores (the split's chance level), read at the lower
    /// end of its 95 % bootstrap interval so that a small held-out sample's noise does not
    /// fail an honest run. Default 0.05.
    pub max_auc_gain: Option<Spanned<f64>>,
    /// Largest excess of trained over held-out records whose target is extracted verbatim.
    /// Default 0.1.
    pub max_extraction: Option<Spanned<f64>>,
}

/// `[plugin]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlugin {
    /// Required. The task plugin: a WebAssembly component file (`.wasm`) that formats records
    /// into prompts and scores generated outputs. Must exist.
    pub path: Option<Spanned<String>>,
    /// Optional. The plugin file's sha256 as 64 lowercase hex digits. When set, the run
    /// refuses a plugin whose bytes differ, so a recipe cannot silently pick up a rebuilt
    /// plugin. Default: no pin.
    pub sha256: Option<Spanned<String>>,
    /// Wall-time limit of one plugin call in milliseconds, enforced by an epoch deadline: a
    /// plugin stuck in a loop stops the run instead of hanging it. Default 10000; 1 to 600000.
    pub deadline_ms: Option<Spanned<u64>>,
    /// Fuel (roughly, WebAssembly instructions) granted to one plugin call: a safety net
    /// under the deadline that does not depend on the machine's speed.
    /// Default 5000000000; at least 1.
    pub fuel: Option<Spanned<u64>>,
    /// Linear memory of one plugin instance in MiB: a plugin that allocates without bound
    /// traps instead of exhausting the host. Default 256; 1 to 4096.
    pub memory_mib: Option<Spanned<u64>>,
    /// Optional. Replaces the system message of every prompt the plugin formats (base model,
    /// training and adapter alike), e.g. a shorter instruction to fit short sequences.
    /// Default: the plugin's own system prompt. 1 to 4000 characters.
    pub system_prompt: Option<Spanned<String>>,
}

/// `[model]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    /// Required. The base model: a `.gguf` file, or a Hugging Face model folder (one holding
    /// `config.json`, the tokenizer and safetensors weights). Must exist.
    pub path: Option<Spanned<String>>,
    /// How the frozen base weights are held: `"nf4"` (4-bit NormalFloat with
    /// double-quantised scales, as QLoRA) or `"none"` (f32, plain LoRA). Default `"nf4"`.
    pub quantization: Option<Spanned<String>>,
}

/// `[data]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawData {
    /// Required. Training records, one JSON object per line. Must exist.
    pub train: Option<Spanned<String>>,
    /// Required. Validation records (JSONL): evaluation during training and early stopping.
    /// Must exist.
    pub val: Option<Spanned<String>>,
    /// Required. Test records (JSONL): the final base-versus-adapter table. Must exist.
    pub test: Option<Spanned<String>>,
    /// How many records the plugin rejects, or malformed lines, may be skipped (each skip
    /// is written to the audit log) before the run stops. Default 0: the first one stops it.
    pub max_rejected: Option<Spanned<u64>>,
    /// Whether a validation or test record may hold the same text as a training record (or
    /// as each other), compared after lower-casing and collapsing white space, ids aside.
    /// Default `false`: such an overlap stops the run, since evaluation on trained notes is not
    /// evaluation. With `true` the overlaps are counted in the audit log and the run goes on.
    pub allow_overlap: Option<Spanned<bool>>,
}

/// `[lora]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLora {
    /// Rank `r` of the adapter matrices `A` [r, in] and `B` [out, r]. Default 16; 1 to 256.
    pub rank: Option<Spanned<u64>>,
    /// `lora_alpha`: the update is scaled by `alpha / rank` (`alpha / √rank` with `rslora`).
    /// Default 32; a positive finite number (an integer is accepted).
    pub alpha: Option<Spanned<f64>>,
    /// Probability of zeroing an input of the adapter branch during training.
    /// Default 0.05; at least 0 and below 1.
    pub dropout: Option<Spanned<f64>>,
    /// The projections that get an adapter, by PEFT module name: any of `"q_proj"`,
    /// `"k_proj"`, `"v_proj"`, `"o_proj"`, `"gate_proj"`, `"up_proj"`, `"down_proj"`.
    /// Default all seven (as the QLoRA paper: every linear layer); non-empty, no duplicates.
    pub targets: Option<Spanned<Vec<Spanned<String>>>>,
    /// Rank-stabilised LoRA: scale by `alpha / √rank` instead of `alpha / rank`.
    /// Default `false`.
    pub rslora: Option<Spanned<bool>>,
}

/// `[train]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrain {
    /// Passes over the training records; fractions allowed. At most one of `epochs` and
    /// `max_steps`. Default 1.0 when neither is set; a positive finite number.
    pub epochs: Option<Spanned<f64>>,
    /// Optimizer steps to run, instead of `epochs`. 1 to 10,000,000 (as `epochs` must come to).
    pub max_steps: Option<Spanned<u64>>,
    /// Records per micro-batch (per forward and backward pass). Default 4; 1 to 1024.
    pub batch_size: Option<Spanned<u64>>,
    /// Micro-batches whose gradients add up to one optimizer step, so the effective batch
    /// is `batch_size × grad_accum`. Default 1; 1 to 1024.
    pub grad_accum: Option<Spanned<u64>>,
    /// Peak learning rate of AdamW. Default 2e-4; a positive number up to 1.
    pub lr: Option<Spanned<f64>>,
    /// Optimizer steps of linear warmup from 0 to `lr`. Default 0; fewer than the run's steps.
    pub warmup_steps: Option<Spanned<u64>>,
    /// Decay after warmup down to 0 at the last step: `"cosine"` or `"linear"`.
    /// Default `"cosine"`.
    pub schedule: Option<Spanned<String>>,
    /// Longest tokenized example (prompt and completion); longer ones are truncated.
    /// Default 512; 8 to 32768, and at most the model's context length.
    pub max_seq_len: Option<Spanned<u64>>,
    /// Seed of adapter initialisation, dropout and data order: the same recipe and data
    /// give the same adapter. Default 42.
    pub seed: Option<Spanned<u64>>,
    /// Compute threads. Default 0: one per available core; otherwise 1 to 1024.
    pub threads: Option<Spanned<u64>>,
    /// Optimizer steps between evaluations (validation loss and the plugin's metrics on
    /// generated outputs). Default 50; at least 1.
    pub eval_every: Option<Spanned<u64>>,
    /// Optimizer steps between checkpoints in the work folder (what `--resume` continues
    /// from). Default: the value of `eval_every`; at least 1.
    pub checkpoint_every: Option<Spanned<u64>>,
    /// Evaluations without improvement of `select_metric` before training stops early.
    /// Default 0: never stop early.
    pub patience: Option<Spanned<u64>>,
    /// What picks the best checkpoint and drives early stopping: `"eval_loss"` (lower is
    /// better) or the name of a metric the plugin declares (`[a-z0-9_-]`, 1 to 48
    /// characters; its declared direction applies). Default `"eval_loss"`.
    pub select_metric: Option<Spanned<String>>,
    /// AdamW's decoupled weight decay. Default 0; a non-negative finite number.
    pub weight_decay: Option<Spanned<f64>>,
    /// Gradients are rescaled so their global L2 norm is at most this. Default 1.0;
    /// 0 turns clipping off; a non-negative finite number.
    pub max_grad_norm: Option<Spanned<f64>>,
    /// Recompute activations in the backward pass instead of keeping them: less memory,
    /// more time. Default `false`.
    pub gradient_checkpointing: Option<Spanned<bool>>,
}

/// `[eval]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEval {
    /// Validation records generated and scored by the plugin at each evaluation (the
    /// validation loss always covers them all). Default 32; at least 1.
    pub records: Option<Spanned<u64>>,
    /// Test records in the final base-versus-adapter table. Default 0: every test record.
    pub test_records: Option<Spanned<u64>>,
    /// Longest generated completion in tokens. Default 0: the plugin's own hint;
    /// otherwise 1 to 4096.
    pub max_new_tokens: Option<Spanned<u64>>,
    /// How answers are generated: `"free"` (default), or `"schema"`: every token masked so
    /// the answer stays compact JSON fitting the plugin's output schema, and closes before
    /// `max_new_tokens` (llguidance).
    pub decoding: Option<Spanned<String>>,
}

/// `[paths]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPaths {
    /// Required. The work folder: checkpoints, generated predictions, logs, the audit log,
    /// anything derived from patient text. It stays on this machine. Created if absent.
    pub work: Option<Spanned<String>>,
    /// Required. The export folder: only what passes the egress gate (the adapter, its
    /// config, metrics, the manifest, the report). Created if absent. Must be apart from
    /// `work`: not the same folder, not inside it and not containing it.
    pub export: Option<Spanned<String>>,
}

/// `[privacy]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrivacy {
    /// How much kernel protection the run demands: `"strict"` (Landlock ABI 4 or later and
    /// seccomp, or the run refuses to start) or `"best-effort"` (what the kernel offers,
    /// with what is missing stated in the report and manifest). Default `"strict"`.
    pub sandbox: Option<Spanned<String>>,
    /// The run refuses to train on fewer training records than this: a tiny cohort makes
    /// the adapter and its metrics say too much about each patient. Default 100; at least 1.
    pub min_records: Option<Spanned<u64>>,
    /// `[privacy.dp]`: train with differential privacy (DP-SGD). Absent: no DP.
    pub dp: Option<Spanned<RawDp>>,
}

/// `[privacy.dp]`: DP-SGD on the LoRA parameters, with an RDP accountant. Give `epsilon`
/// (the noise is calibrated so the planned steps spend exactly that), `noise_multiplier`
/// (ε is then what the steps spend), or both (the run refuses a plan that would spend more
/// than `epsilon`, and stops before any step that would).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDp {
    /// What one person is: `"record"` (default: each training record) or a JSON pointer to
    /// each record's patient identifier (`"/patient_id"`), so that one patient's many notes
    /// are protected together, as one unit. `privacy.min_records` then also applies to the
    /// number of distinct units.
    pub unit: Option<Spanned<String>>,
    /// The ε the run may spend at `delta`.
    pub epsilon: Option<Spanned<f64>>,
    /// The noise's standard deviation over the clipping norm.
    pub noise_multiplier: Option<Spanned<f64>>,
    /// δ of the (ε, δ) guarantee. Default 1 / (10 · units); refused at or above 1 / units,
    /// where a mechanism that publishes one unit whole would satisfy the guarantee.
    pub delta: Option<Spanned<f64>>,
    /// Each unit's chance of joining a step (Poisson sampling). Default: the expected step
    /// holds `train.batch_size · train.grad_accum` units.
    pub sample_rate: Option<Spanned<f64>>,
    /// Each unit's gradient is clipped to this L2 norm. Default 1.
    pub max_grad_norm: Option<Spanned<f64>>,
    /// Tests only: seed sampling and noise from this instead of the operating system, which
    /// makes the noise predictable to anyone who knows the seed and voids the guarantee.
    pub insecure_seed: Option<Spanned<u64>>,
}
