//! The engine's error type: every variant says what was being loaded or computed.

use std::path::PathBuf;

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor operation failed; `context` names the layer or tensor.
    #[error("{context}: {source}")]
    Candle {
        /// What was being computed or loaded.
        context: String,
        /// The underlying candle error.
        #[source]
        source: candle_core::Error,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A kernel refused its input or failed (a frozen layer given a tensor of the wrong
    /// shape, a device transfer).
    #[error(transparent)]
    Kernels(Box<rapha_kernels::Error>),
    /// A LoRA target module name is not one of PEFT's projection names.
    #[error(
        "unknown LoRA target module `{name}`: expected one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"
    )]
    UnknownTarget {
        /// The name given.
        name: String,
    },
    /// A LoRA hyper-parameter is out of range.
    #[error("LoRA config `{field}`: expected {expected}, found `{found}`")]
    LoraConfig {
        /// The field (`rank`, `alpha`, `dropout`).
        field: &'static str,
        /// What is allowed.
        expected: &'static str,
        /// The value given.
        found: String,
    },
    /// An adapter's `A` or `B` does not fit its layer.
    #[error("adapter `{name}` {tensor}: expected shape {expected}, found {found}")]
    AdapterShape {
        /// The adapted layer.
        name: String,
        /// Which tensor(s): `lora_A`, `lora_B`.
        tensor: &'static str,
        /// The shape wanted.
        expected: String,
        /// The shape given.
        found: String,
    },
    /// A micro-batch or the data stream cannot be built from what was given.
    #[error("{0}")]
    Batch(String),
    /// The optimizer was given gradients or a saved state that do not fit its parameters.
    #[error("{0}")]
    Optimizer(String),
    /// An adapter directory is not in PEFT's format, or does not fit the model.
    #[error("adapter {}: {message}", path.display())]
    Adapter {
        /// The adapter directory or file.
        path: PathBuf,
        /// What is wrong, naming the tensor or config field.
        message: String,
    },
    /// A training checkpoint is unreadable, incomplete, or from a different run.
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint directory or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A decoding constraint failed on one row of a generation batch.
    #[error("decoding constraint of prompt {row}: {message}")]
    Constraint {
        /// The prompt's index in the batch.
        row: usize,
        /// The constraint's own words.
        message: String,
    },
    /// A training or generation setting is out of range.
    #[error("setting `{field}`: expected {expected}, found `{found}`")]
    Setting {
        /// The setting.
        field: &'static str,
        /// What is allowed.
        expected: &'static str,
        /// The value given.
        found: String,
    },
    /// The loss or the gradient norm became NaN or infinite; no update was applied and no
    /// checkpoint written, so the last one on disk is the last good state.
    #[error("training diverged at step {step}: {what} is `{value}`; {}", match last_checkpoint {
        Some(path) => format!("the last good checkpoint is kept at {}", path.display()),
        None => "no checkpoint was written before it".to_owned(),
    })]
    NonFinite {
        /// The optimizer step (from 1) that failed.
        step: u64,
        /// `loss` or `gradient norm`.
        what: &'static str,
        /// The offending value.
        value: f64,
        /// The newest checkpoint written before the failure.
        last_checkpoint: Option<PathBuf>,
    },
    /// A model config field (from `config.json` or GGUF metadata) is missing or out of range.
    #[error("{}: `{field}`: expected {expected}, found {found}", origin.display())]
    InvalidConfig {
        /// The file the config came from.
        origin: PathBuf,
        /// The field, e.g. `num_key_value_heads` or `rope_scaling.factor`.
        field: String,
        /// What is allowed.
        expected: String,
        /// The value found (in backticks), or `nothing`.
        found: String,
    },
    /// A JSON file could not be parsed.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// A GGUF file is malformed or not a supported llama model.
    #[error("{}: gguf {field}: {message}", path.display())]
    Gguf {
        /// The file.
        path: PathBuf,
        /// The header field, metadata key or tensor, e.g. ``tensor `blk.0.attn_q.weight` ``.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A checkpoint tensor is missing, has the wrong shape or an unsupported dtype.
    #[error("{}: tensor `{tensor}`: {message}", origin.display())]
    Tensor {
        /// The file or model directory.
        origin: PathBuf,
        /// The tensor's Hugging Face name.
        tensor: String,
        /// What is wrong.
        message: String,
    },
    /// A safetensors file could not be parsed.
    #[error("{}: {source}", path.display())]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: safetensors::SafeTensorError,
    },
    /// The tokenizer could not be built, or failed on an input.
    #[error("tokenizer: {context}: {source}")]
    Tokenizer {
        /// What was being done.
        context: String,
        /// The tokenizers crate's error.
        #[source]
        source: tokenizers::Error,
    },
    /// The chat template failed to compile or to render (`raise_exception` included).
    #[error("{}: chat template: {source:#}", origin.display())]
    ChatTemplate {
        /// The model file or directory the template came from.
        origin: PathBuf,
        /// minijinja's error, with the template line.
        #[source]
        source: minijinja::Error,
    },
    /// A KV cache was built for a model with a different number of layers.
    #[error("kv cache: expected {expected_layers} layers, found {found_layers}")]
    KvCache {
        /// Layers of the model.
        expected_layers: usize,
        /// Layers of the cache.
        found_layers: usize,
    },
    /// A chat was to be rendered but the model has no chat template.
    #[error("{}: the model has no chat template", origin.display())]
    NoChatTemplate {
        /// The model file or directory.
        origin: PathBuf,
    },
}

/// Attach a context string to candle results, as the engine's error.
impl From<rapha_kernels::Error> for Error {
    /// Boxed: the engine's errors stay small enough to return by value cheaply.
    fn from(error: rapha_kernels::Error) -> Self {
        Error::Kernels(Box::new(error))
    }
}

pub(crate) trait CandleContext<T> {
    /// Wrap a candle error with `context` (computed only on error).
    fn context_with(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> CandleContext<T> for candle_core::Result<T> {
    fn context_with(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Candle { context: context(), source })
    }
}
