//! Model hyper-parameters: the Llama family as Hugging Face `config.json` describes it.
//!
//! [`RawConfig`] is `config.json` as serde reads it (the fields of transformers'
//! `LlamaConfig`, `Qwen2Config` and `MistralConfig` that change the computation);
//! [`RawConfig::into_config`] validates it into [`Config`], resolving each architecture's
//! defaults the way transformers does. This mirrors candle's
//! `LlamaConfig::into_config` (`candle-transformers/src/models/llama.rs`). GGUF files
//! build a [`Config`] from their metadata instead (`gguf.rs`).

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The member of the Llama family, which fixes the defaults and the projection biases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// Llama 1/2/3 and SmolLM (`model_type = "llama"`).
    Llama,
    /// Qwen2 and Qwen2.5 (`model_type = "qwen2"`): bias on the q, k and v projections.
    Qwen2,
    /// Mistral (`model_type = "mistral"`): optional sliding-window attention.
    Mistral,
}

impl Architecture {
    /// The `model_type` string of `config.json`.
    pub fn model_type(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Qwen2 => "qwen2",
            Self::Mistral => "mistral",
        }
    }
}

/// How the rotary frequencies are derived from `rope_theta`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RopeScaling {
    /// Plain RoPE (Su et al. 2021): `inv_freq[i] = theta^(-2i/d)`.
    Default,
    /// Llama 3.1's frequency-dependent rescaling (transformers'
    /// `_compute_llama3_parameters`).
    Llama3 {
        /// Divisor applied to the low frequencies.
        factor: f64,
        /// Wavelengths above `original_max_position_embeddings / low_freq_factor` are scaled.
        low_freq_factor: f64,
        /// Wavelengths below `original_max_position_embeddings / high_freq_factor` are kept.
        high_freq_factor: f64,
        /// The context length the model was pre-trained with.
        original_max_position_embeddings: usize,
    },
}

/// Validated hyper-parameters of a decoder-only Llama-family model.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Which family member; decides biases and defaults.
    pub architecture: Architecture,
    /// Rows of the embedding and of the LM head.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the SwiGLU hidden layer.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention when fewer than the query heads).
    pub num_key_value_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Epsilon of every RMSNorm.
    pub rms_norm_eps: f64,
    /// Base of the rotary frequencies.
    pub rope_theta: f64,
    /// Rescaling of the rotary frequencies.
    pub rope_scaling: RopeScaling,
    /// Longest context the model supports.
    pub max_position_embeddings: usize,
    /// Whether the LM head reuses the embedding matrix.
    pub tie_word_embeddings: bool,
    /// Bias on the q, k and v projections (Qwen2; Llama's `attention_bias`).
    pub qkv_bias: bool,
    /// Bias on the output projection (Llama's `attention_bias`).
    pub o_bias: bool,
    /// Keys further back than this many positions are not attended to (Mistral).
    pub sliding_window: Option<usize>,
    /// Beginning-of-sequence token, if the checkpoint names one.
    pub bos_token_id: Option<u32>,
    /// Tokens that end generation.
    pub eos_token_ids: Vec<u32>,
}

impl Config {
    /// Query heads that share one key/value head.
    pub fn kv_groups(&self) -> usize {
        self.num_attention_heads / self.num_key_value_heads
    }

    /// Parse and validate a `config.json`.
    pub fn from_json_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let raw: RawConfig = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        raw.into_config(path)
    }

    /// Check the invariants every model built from a config relies on.
    pub(crate) fn validate(self) -> std::result::Result<Self, ConfigError> {
        for (field, value) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("head_dim", self.head_dim),
            ("max_position_embeddings", self.max_position_embeddings),
        ] {
            if value == 0 {
                return Err(ConfigError::new(field, "a positive integer", "0"));
            }
        }
        if !self
            .num_attention_heads
            .is_multiple_of(self.num_key_value_heads)
        {
            return Err(ConfigError::new(
                "num_key_value_heads",
                format!(
                    "a divisor of `num_attention_heads` ({})",
                    self.num_attention_heads
                ),
                self.num_key_value_heads,
            ));
        }
        if !self.head_dim.is_multiple_of(2) {
            return Err(ConfigError::new(
                "head_dim",
                "an even number (RoPE rotates pairs)",
                self.head_dim,
            ));
        }
        if !(self.rms_norm_eps.is_finite() && self.rms_norm_eps > 0.0) {
            return Err(ConfigError::new(
                "rms_norm_eps",
                "a positive number",
                self.rms_norm_eps,
            ));
        }
        let special = self.bos_token_id.map(|id| ("bos_token_id", id));
        for (field, id) in special.into_iter().chain(self.eos_token_ids.iter().map(|&id| ("eos_token_id", id))) {
            if id as usize >= self.vocab_size {
                let expected = format!("a token id below `vocab_size` ({}), a row of the embedding", self.vocab_size);
                return Err(ConfigError::new(field, expected, id));
            }
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 1.0) {
            return Err(ConfigError::new(
                "rope_theta",
                "a number above 1",
                self.rope_theta,
            ));
        }
        if let RopeScaling::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position_embeddings,
        } = self.rope_scaling
        {
            if !(factor.is_finite() && factor >= 1.0) {
                return Err(ConfigError::new(
                    "rope_scaling.factor",
                    "a number of at least 1",
                    factor,
                ));
            }
            if !(low_freq_factor > 0.0
                && high_freq_factor > low_freq_factor
                && high_freq_factor.is_finite())
            {
                return Err(ConfigError::new(
                    "rope_scaling.high_freq_factor",
                    format!("a number above `low_freq_factor` ({low_freq_factor}) above 0"),
                    high_freq_factor,
                ));
            }
            if original_max_position_embeddings == 0 {
                return Err(ConfigError::new(
                    "rope_scaling.original_max_position_embeddings",
                    "a positive integer",
                    0,
                ));
            }
        }
        if self.sliding_window == Some(0) {
            return Err(ConfigError::new(
                "sliding_window",
                "a positive integer or null",
                0,
            ));
        }
        Ok(self)
    }
}

/// A named Llama shape for a synthetic model ([`Config::synthetic`]): the hyper-parameters
/// of a published checkpoint without its weights, for throughput and memory measurements
/// (`rapha-gpu bench`) where the weights' values do not matter and the files may be out of
/// reach (a GPU machine without network).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntheticShape {
    /// Two layers of width 64: the shape tests and CI run.
    Tiny,
    /// Llama 3.2 1B.
    Llama32_1b,
    /// Llama 3.1 8B.
    Llama31_8b,
}

impl SyntheticShape {
    /// Every shape, in order of size.
    pub const ALL: [Self; 3] = [Self::Tiny, Self::Llama32_1b, Self::Llama31_8b];

    /// The name used on command lines and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tiny => "tiny",
            Self::Llama32_1b => "llama-3.2-1b",
            Self::Llama31_8b => "llama-3.1-8b",
        }
    }

    /// The `config.json` the shape is read from: the published file's fields that
    /// [`RawConfig`] reads, with their published values.
    ///
    /// - `llama-3.2-1b`: <https://huggingface.co/meta-llama/Llama-3.2-1B/blob/main/config.json>
    ///   (hidden 2048, MLP 8192, 16 layers, 32 heads, 8 key/value heads, head width 64,
    ///   vocabulary 128256, tied embeddings, RoPE base 500000 with Llama 3 scaling factor 32).
    /// - `llama-3.1-8b`: <https://huggingface.co/meta-llama/Llama-3.1-8B/blob/main/config.json>
    ///   (hidden 4096, MLP 14336, 32 layers, 32 heads, 8 key/value heads, head width 128,
    ///   vocabulary 128256, untied LM head, RoPE base 500000 with Llama 3 scaling factor 8).
    /// - `tiny`: ours, Llama 3's layout (grouped-query attention, Llama 3 RoPE scaling) at a
    ///   width where NF4 blocks of 64 still tile every projection.
    fn config_json(self) -> &'static str {
        match self {
            Self::Tiny => {
                r#"{"model_type": "llama", "vocab_size": 256, "hidden_size": 64,
                "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                "num_key_value_heads": 2, "head_dim": 16, "rms_norm_eps": 1e-05,
                "rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 32.0,
                "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                "original_max_position_embeddings": 64}, "max_position_embeddings": 2048,
                "tie_word_embeddings": true, "attention_bias": false, "mlp_bias": false,
                "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2}"#
            }
            Self::Llama32_1b => {
                r#"{"model_type": "llama", "vocab_size": 128256, "hidden_size": 2048,
                "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
                "num_key_value_heads": 8, "head_dim": 64, "rms_norm_eps": 1e-05,
                "rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 32.0,
                "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192}, "max_position_embeddings": 131072,
                "tie_word_embeddings": true, "attention_bias": false, "mlp_bias": false,
                "hidden_act": "silu", "bos_token_id": 128000, "eos_token_id": 128001}"#
            }
            Self::Llama31_8b => {
                r#"{"model_type": "llama", "vocab_size": 128256, "hidden_size": 4096,
                "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
                "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
                "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                "max_position_embeddings": 131072, "tie_word_embeddings": false,
                "attention_bias": false, "mlp_bias": false, "hidden_act": "silu",
                "bos_token_id": 128000, "eos_token_id": 128001}"#
            }
        }
    }
}

impl std::fmt::Display for SyntheticShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for SyntheticShape {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|shape| shape.name() == name)
            .ok_or_else(|| Error::Setting {
                field: "shape",
                expected: "one of `tiny`, `llama-3.2-1b`, `llama-3.1-8b`",
                found: name.to_owned(),
            })
    }
}

impl Config {
    /// The hyper-parameters of `shape`, resolved from its `config.json` exactly as a
    /// checkpoint's would be (see [`SyntheticShape::config_json`] for the sources).
    pub fn synthetic(shape: SyntheticShape) -> Self {
        let raw: RawConfig =
            serde_json::from_str(shape.config_json()).expect("the built-in shapes are valid JSON");
        raw.resolve()
            .expect("the built-in shapes are valid configs (checked by the unit tests)")
    }
}

/// A rejected field, before the layer that knows the file adds it.
#[derive(Debug)]
pub(crate) struct ConfigError {
    field: String,
    expected: String,
    found: String,
}

impl ConfigError {
    pub(crate) fn new(
        field: impl Into<String>,
        expected: impl Into<String>,
        found: impl std::fmt::Display,
    ) -> Self {
        Self {
            field: field.into(),
            expected: expected.into(),
            found: format!("`{found}`"),
        }
    }

    pub(crate) fn missing(field: impl Into<String>, expected: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            expected: expected.into(),
            found: "nothing".to_owned(),
        }
    }

    /// The same error about the field `rename` gives for this one's (a GGUF's key for a
    /// `config.json` field), or about this one's when it gives none.
    pub(crate) fn renamed(mut self, rename: impl Fn(&str) -> Option<&'static str>) -> Self {
        if let Some(key) = rename(&self.field) {
            self.field = key.to_owned();
        }
        self
    }

    /// Attach the file (or GGUF) the config came from.
    pub(crate) fn with_origin(self, origin: &Path) -> Error {
        Error::InvalidConfig {
            origin: origin.to_path_buf(),
            field: self.field,
            expected: self.expected,
            found: self.found,
        }
    }
}

/// `config.json` as written by transformers, before validation.
///
/// Unknown fields are ignored: configs carry many that do not change the computation
/// (`torch_dtype`, `transformers_version`, `use_cache`, ...).
#[derive(Debug, Clone, Deserialize)]
pub struct RawConfig {
    /// `"llama"`, `"qwen2"` or `"mistral"`.
    pub model_type: String,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Residual width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads; transformers defaults to the query heads.
    pub num_key_value_heads: Option<usize>,
    /// Head width; transformers defaults to `hidden_size / num_attention_heads`.
    pub head_dim: Option<usize>,
    /// RMSNorm epsilon (transformers' default 1e-6).
    pub rms_norm_eps: Option<f64>,
    /// transformers < 5: RoPE base at the top level.
    pub rope_theta: Option<f64>,
    /// transformers < 5: RoPE scaling parameters.
    pub rope_scaling: Option<RawRopeParameters>,
    /// transformers ≥ 5: RoPE base and scaling in one object.
    pub rope_parameters: Option<RawRopeParameters>,
    /// Longest context.
    pub max_position_embeddings: Option<usize>,
    /// Tied LM head (transformers' default false for all three).
    pub tie_word_embeddings: Option<bool>,
    /// Llama: bias on q, k, v and o.
    pub attention_bias: Option<bool>,
    /// Llama: bias on the MLP projections (not supported).
    pub mlp_bias: Option<bool>,
    /// Must be `"silu"` (SwiGLU).
    pub hidden_act: Option<String>,
    /// Mistral's (and Qwen2's, when enabled) attention window.
    pub sliding_window: Option<usize>,
    /// Qwen2: whether `sliding_window` applies (not supported when true).
    pub use_sliding_window: Option<bool>,
    /// BOS token.
    pub bos_token_id: Option<u32>,
    /// One EOS token or several.
    pub eos_token_id: Option<TokenIds>,
}

/// RoPE parameters as either `rope_scaling` (transformers < 5) or `rope_parameters`.
#[derive(Debug, Clone, Deserialize)]
pub struct RawRopeParameters {
    /// transformers ≥ 5 keeps the base here.
    pub rope_theta: Option<f64>,
    /// `"default"` or `"llama3"`.
    pub rope_type: Option<String>,
    /// Older spelling of `rope_type`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Llama 3 scaling factor.
    pub factor: Option<f64>,
    /// Llama 3 low-frequency factor.
    pub low_freq_factor: Option<f64>,
    /// Llama 3 high-frequency factor.
    pub high_freq_factor: Option<f64>,
    /// Llama 3 pre-training context.
    pub original_max_position_embeddings: Option<usize>,
}

/// A token id or a list of them (`eos_token_id` takes both forms).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TokenIds {
    /// One id.
    One(u32),
    /// Several ids.
    Many(Vec<u32>),
}

impl TokenIds {
    /// The ids as a list.
    pub fn into_vec(self) -> Vec<u32> {
        match self {
            Self::One(id) => vec![id],
            Self::Many(ids) => ids,
        }
    }
}

impl RawConfig {
    /// Validate and resolve defaults as transformers does for each architecture;
    /// `origin` (the file it was read from) is named in errors.
    pub fn into_config(self, origin: &Path) -> Result<Config> {
        self.resolve().map_err(|e| e.with_origin(origin))
    }

    fn resolve(self) -> std::result::Result<Config, ConfigError> {
        let architecture = match self.model_type.as_str() {
            "llama" => Architecture::Llama,
            "qwen2" => Architecture::Qwen2,
            "mistral" => Architecture::Mistral,
            other => {
                return Err(ConfigError::new(
                    "model_type",
                    "one of `llama`, `qwen2`, `mistral`",
                    other,
                ));
            }
        };
        if let Some(act) = &self.hidden_act
            && act != "silu"
        {
            return Err(ConfigError::new("hidden_act", "`silu`", act));
        }
        if self.mlp_bias == Some(true) {
            return Err(ConfigError::new(
                "mlp_bias",
                "false (MLP biases are not supported)",
                "true",
            ));
        }
        if architecture == Architecture::Qwen2 && self.use_sliding_window == Some(true) {
            return Err(ConfigError::new(
                "use_sliding_window",
                "false (Qwen2's per-layer sliding window is not supported)",
                "true",
            ));
        }
        if self.num_attention_heads == 0 {
            return Err(ConfigError::new(
                "num_attention_heads",
                "a positive integer",
                0,
            ));
        }
        let head_dim = match self.head_dim {
            Some(d) => d,
            None if self.hidden_size.is_multiple_of(self.num_attention_heads) => {
                self.hidden_size / self.num_attention_heads
            }
            None => {
                return Err(ConfigError::new(
                    "hidden_size",
                    format!(
                        "a multiple of `num_attention_heads` ({}) when `head_dim` is absent",
                        self.num_attention_heads
                    ),
                    self.hidden_size,
                ));
            }
        };
        let (rope_theta, rope_scaling) =
            resolve_rope(self.rope_theta, self.rope_scaling, self.rope_parameters)?;
        let attention_bias = self.attention_bias.unwrap_or(false);
        let (qkv_bias, o_bias) = match architecture {
            Architecture::Llama => (attention_bias, attention_bias),
            Architecture::Qwen2 => (true, false),
            Architecture::Mistral => (false, false),
        };
        let max_position_embeddings = self.max_position_embeddings.unwrap_or(match architecture {
            Architecture::Llama => 2048,
            Architecture::Qwen2 => 32768,
            Architecture::Mistral => 4096 * 32,
        });
        let sliding_window = match architecture {
            Architecture::Mistral => self.sliding_window,
            Architecture::Llama | Architecture::Qwen2 => None,
        };
        Config {
            architecture,
            vocab_size: self.vocab_size,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_hidden_layers: self.num_hidden_layers,
            num_attention_heads: self.num_attention_heads,
            num_key_value_heads: self.num_key_value_heads.unwrap_or(self.num_attention_heads),
            head_dim,
            rms_norm_eps: self.rms_norm_eps.unwrap_or(1e-6),
            rope_theta,
            rope_scaling,
            max_position_embeddings,
            tie_word_embeddings: self.tie_word_embeddings.unwrap_or(false),
            qkv_bias,
            o_bias,
            sliding_window,
            bos_token_id: self.bos_token_id,
            eos_token_ids: self
                .eos_token_id
                .map(TokenIds::into_vec)
                .unwrap_or_default(),
        }
        .validate()
    }
}

/// Merge the two spellings of the RoPE parameters: transformers ≥ 5 writes
/// `rope_parameters` (base included), older versions `rope_theta` plus `rope_scaling`.
fn resolve_rope(
    rope_theta: Option<f64>,
    rope_scaling: Option<RawRopeParameters>,
    rope_parameters: Option<RawRopeParameters>,
) -> std::result::Result<(f64, RopeScaling), ConfigError> {
    let params = rope_parameters.or(rope_scaling);
    let theta = params
        .as_ref()
        .and_then(|p| p.rope_theta)
        .or(rope_theta)
        .unwrap_or(10_000.0);
    let Some(params) = params else {
        return Ok((theta, RopeScaling::Default));
    };
    let kind = params
        .rope_type
        .clone()
        .or_else(|| params.kind.clone())
        .unwrap_or_else(|| "default".to_owned());
    let scaling = match kind.as_str() {
        "default" => RopeScaling::Default,
        "llama3" => {
            let field = |name: &str, value: Option<f64>| {
                value
                    .ok_or_else(|| ConfigError::missing(format!("rope_scaling.{name}"), "a number"))
            };
            RopeScaling::Llama3 {
                factor: field("factor", params.factor)?,
                low_freq_factor: field("low_freq_factor", params.low_freq_factor)?,
                high_freq_factor: field("high_freq_factor", params.high_freq_factor)?,
                original_max_position_embeddings: params
                    .original_max_position_embeddings
                    .ok_or_else(|| {
                        ConfigError::missing(
                            "rope_scaling.original_max_position_embeddings",
                            "a positive integer",
                        )
                    })?,
            }
        }
        other => {
            return Err(ConfigError::new(
                "rope_scaling.rope_type",
                "`default` or `llama3`",
                other,
            ));
        }
    };
    Ok((theta, scaling))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> RawConfig {
        serde_json::from_str(json).expect("test config parses")
    }

    const SMOL: &str = r#"{"model_type":"llama","vocab_size":49152,"hidden_size":576,
        "intermediate_size":1536,"num_hidden_layers":30,"num_attention_heads":9,
        "num_key_value_heads":3,"rms_norm_eps":1e-5,"rope_theta":100000.0,
        "tie_word_embeddings":true,"max_position_embeddings":8192,"eos_token_id":2}"#;

    #[test]
    fn llama_config_resolves_head_dim_and_defaults() {
        let config = raw(SMOL).into_config(Path::new("c.json")).expect("valid");
        assert_eq!(config.head_dim, 64);
        assert_eq!(config.kv_groups(), 3);
        assert_eq!(config.rope_scaling, RopeScaling::Default);
        assert_eq!(config.eos_token_ids, vec![2]);
        assert!(!config.qkv_bias && config.tie_word_embeddings);
    }

    #[test]
    fn transformers5_rope_parameters_carry_theta_and_llama3_scaling() {
        let json = SMOL.replace(
            r#""rope_theta":100000.0"#,
            r#""rope_parameters":{"rope_theta":500000.0,"rope_type":"llama3","factor":8.0,
               "low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}"#,
        );
        let config = raw(&json).into_config(Path::new("c.json")).expect("valid");
        assert_eq!(config.rope_theta, 500000.0);
        assert!(matches!(
            config.rope_scaling,
            RopeScaling::Llama3 { factor: 8.0, .. }
        ));
    }

    #[test]
    fn qwen2_has_qkv_bias_without_o_bias() {
        let config = raw(&SMOL.replace(r#""llama""#, r#""qwen2""#))
            .into_config(Path::new("c.json"))
            .expect("valid");
        assert!(config.qkv_bias && !config.o_bias);
    }

    #[test]
    fn rejects_kv_heads_that_do_not_divide_heads() {
        let err = raw(&SMOL.replace(r#""num_key_value_heads":3"#, r#""num_key_value_heads":4"#))
            .into_config(Path::new("config.json"))
            .expect_err("invalid");
        assert_eq!(
            err.to_string(),
            "config.json: `num_key_value_heads`: expected a divisor of `num_attention_heads` (9), found `4`"
        );
    }

    /// The shapes' published figures, and the parameter totals Hugging Face lists for the
    /// checkpoints' safetensors: Llama 3.2 1B 1 235 814 400 (tied embeddings counted once),
    /// Llama 3.1 8B 8 030 261 248.
    #[test]
    fn synthetic_shapes_match_the_published_configs() {
        let params = |c: &Config| {
            let (h, i, v) = (c.hidden_size, c.intermediate_size, c.vocab_size);
            let q = c.num_attention_heads * c.head_dim;
            let kv = c.num_key_value_heads * c.head_dim;
            let layer = h * q + 2 * h * kv + q * h + 3 * h * i + 2 * h;
            let head = if c.tie_word_embeddings { 0 } else { v * h };
            v * h + c.num_hidden_layers * layer + h + head
        };
        let one = Config::synthetic(SyntheticShape::Llama32_1b);
        assert_eq!(
            (
                one.hidden_size,
                one.intermediate_size,
                one.num_hidden_layers
            ),
            (2048, 8192, 16)
        );
        assert_eq!(
            (
                one.num_attention_heads,
                one.num_key_value_heads,
                one.head_dim
            ),
            (32, 8, 64)
        );
        assert_eq!((one.vocab_size, one.tie_word_embeddings), (128256, true));
        assert_eq!(one.rope_theta, 500000.0);
        assert_eq!(
            one.rope_scaling,
            RopeScaling::Llama3 {
                factor: 32.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_position_embeddings: 8192
            }
        );
        assert_eq!(params(&one), 1_235_814_400);

        let eight = Config::synthetic(SyntheticShape::Llama31_8b);
        assert_eq!(
            (
                eight.hidden_size,
                eight.intermediate_size,
                eight.num_hidden_layers
            ),
            (4096, 14336, 32)
        );
        assert_eq!(
            (
                eight.num_attention_heads,
                eight.num_key_value_heads,
                eight.head_dim
            ),
            (32, 8, 128)
        );
        assert_eq!(
            (eight.vocab_size, eight.tie_word_embeddings),
            (128256, false)
        );
        assert!(matches!(
            eight.rope_scaling,
            RopeScaling::Llama3 { factor: 8.0, .. }
        ));
        assert_eq!(params(&eight), 8_030_261_248);

        let tiny = Config::synthetic(SyntheticShape::Tiny);
        assert_eq!((tiny.hidden_size, tiny.num_hidden_layers), (64, 2));
    }

    #[test]
    fn synthetic_shapes_parse_by_name() {
        for shape in SyntheticShape::ALL {
            assert_eq!(
                shape.name().parse::<SyntheticShape>().expect("known"),
                shape
            );
        }
        let err = "llama-7b"
            .parse::<SyntheticShape>()
            .expect_err("unknown shape");
        assert_eq!(
            err.to_string(),
            "setting `shape`: expected one of `tiny`, `llama-3.2-1b`, `llama-3.1-8b`, found `llama-7b`"
        );
    }

    #[test]
    fn rejects_unknown_rope_type_by_name() {
        let json = SMOL.replace(
            r#""rope_theta":100000.0"#,
            r#""rope_scaling":{"type":"yarn","factor":4.0}"#,
        );
        let err = raw(&json)
            .into_config(Path::new("c.json"))
            .expect_err("unsupported");
        assert_eq!(
            err.to_string(),
            "c.json: `rope_scaling.rope_type`: expected `default` or `llama3`, found `yarn`"
        );
    }
}
