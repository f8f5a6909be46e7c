//! Read a llama-architecture GGUF file: header, config, dequantized weights under
//! Hugging Face names, tokenizer and chat template.
//!
//! Format: <https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>. The header is
//! walked and checked here first ([`validate_header`]) because candle's reader trusts
//! some fields (an alignment of 0 divides by zero; a shape whose element count overflows
//! panics); only a file that passed goes to `candle_core::quantized::gguf_file`.
//!
//! Weights are dequantized to f32 and renamed as transformers'
//! `modeling_gguf_pytorch_utils.py` does, including `LlamaTensorProcessor`'s
//! `_reverse_permute_weights`: llama.cpp's converter stores q/k rows interleaved for its
//! rotary layout, the Hugging Face layout rotates halves (`rotate_half`).

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use candle_core::quantized::GgmlDType;
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::{Device, Tensor};

use crate::config::{Architecture, Config, ConfigError, RopeScaling};
use crate::error::{CandleContext, Error, Result};
use crate::tokenizer::{self, Tokenizer};
use crate::weights::Weights;

/// The GGUF alignment when `general.alignment` is absent.
const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;
/// Nesting bound for metadata arrays, so a crafted file cannot exhaust the stack.
const MAX_ARRAY_DEPTH: usize = 8;
/// The spec bounds keys to 2^16 - 1 bytes.
const MAX_KEY_LEN: u64 = 65_535;

/// An opened, header-checked GGUF file.
pub struct GgufFile {
    path: PathBuf,
    content: Content,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("tensors", &self.content.tensor_infos.len())
            .field("metadata", &self.content.metadata.len())
            .finish()
    }
}

impl GgufFile {
    /// Open `path`, validate its header, then parse it with candle's reader.
    pub fn open(path: &Path) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut reader = BufReader::new(file);
        validate_header(&mut reader, len).map_err(|e| e.into_error(path))?;
        reader.seek(SeekFrom::Start(0)).map_err(io)?;
        let content = Content::read(&mut reader)
            .context_with(|| format!("{}: reading gguf", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            content,
        })
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A metadata value, if present.
    pub fn metadata(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    pub(crate) fn content(&self) -> &Content {
        &self.content
    }

    fn invalid(&self, field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Gguf {
            path: self.path.clone(),
            field: field.into(),
            message: message.into(),
        }
    }

    fn required(&self, key: &str) -> Result<&Value> {
        self.metadata(key)
            .ok_or_else(|| self.invalid(format!("metadata `{key}`"), "missing"))
    }

    fn usize_key(&self, key: &str) -> Result<usize> {
        let value = self.required(key)?;
        value_to_u64(value)
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| {
                self.invalid(
                    format!("metadata `{key}`"),
                    format!("expected an unsigned integer, found `{value:?}`"),
                )
            })
    }

    fn f64_key(&self, key: &str) -> Result<f64> {
        let value = self.required(key)?;
        match value {
            Value::F32(v) => Ok(f64::from(*v)),
            Value::F64(v) => Ok(*v),
            other => Err(self.invalid(
                format!("metadata `{key}`"),
                format!("expected a float, found `{other:?}`"),
            )),
        }
    }

    fn optional_token_id(&self, key: &str) -> Result<Option<u32>> {
        match self.metadata(key) {
            None => Ok(None),
            Some(value) => value_to_u64(value)
                .and_then(|v| u32::try_from(v).ok())
                .map(Some)
                .ok_or_else(|| {
                    self.invalid(
                        format!("metadata `{key}`"),
                        format!("expected a token id, found `{value:?}`"),
                    )
                }),
        }
    }

    /// The model's [`Config`] from `llama.*` metadata (the keys transformers'
    /// `GGUF_CONFIG_MAPPING["llama"]` reads); the vocabulary size is the tokenizer's.
    pub fn config(&self) -> Result<Config> {
        let arch = match self.required("general.architecture")? {
            Value::String(s) => s.as_str(),
            other => {
                return Err(self.invalid(
                    "metadata `general.architecture`",
                    format!("expected a string, found `{other:?}`"),
                ));
            }
        };
        if arch != "llama" {
            return Err(self.invalid(
                "metadata `general.architecture`",
                format!("expected `llama`, found `{arch}`"),
            ));
        }
        if self.metadata("llama.rope.scaling.type").is_some()
            || self.content.tensor_infos.contains_key("rope_freqs.weight")
        {
            return Err(self.invalid(
                "metadata `llama.rope.scaling.type`",
                "rope scaling stored in GGUF is not supported; load the Hugging Face model directory instead",
            ));
        }
        let vocab_size = match self.required("tokenizer.ggml.tokens")? {
            Value::Array(tokens) => tokens.len(),
            _ => {
                return Err(self.invalid(
                    "metadata `tokenizer.ggml.tokens`",
                    "expected an array of strings",
                ));
            }
        };
        if let Some(declared) = self.metadata("llama.vocab_size").and_then(value_to_u64)
            && declared != vocab_size as u64
        {
            return Err(self.invalid(
                "metadata `llama.vocab_size`",
                format!("expected the tokenizer's {vocab_size} tokens, found `{declared}`"),
            ));
        }
        let hidden_size = self.usize_key("llama.embedding_length")?;
        let num_attention_heads = self.usize_key("llama.attention.head_count")?;
        let num_key_value_heads = match self.metadata("llama.attention.head_count_kv") {
            Some(_) => self.usize_key("llama.attention.head_count_kv")?,
            None => num_attention_heads,
        };
        let head_dim = match self.metadata("llama.attention.key_length") {
            Some(_) => self.usize_key("llama.attention.key_length")?,
            None if num_attention_heads != 0 && hidden_size.is_multiple_of(num_attention_heads) => {
                hidden_size / num_attention_heads
            }
            None if num_attention_heads != 0 => {
                return Err(self.invalid(
                    "metadata `llama.embedding_length`",
                    format!(
                        "expected a multiple of `llama.attention.head_count` ({num_attention_heads}), found `{hidden_size}`"
                    ),
                ));
            }
            None => 0,
        };
        if let Some(rope_dims) = self
            .metadata("llama.rope.dimension_count")
            .and_then(value_to_u64)
            && rope_dims != head_dim as u64
        {
            return Err(self.invalid(
                "metadata `llama.rope.dimension_count`",
                format!("expected the head width {head_dim} (partial rotary is not supported), found `{rope_dims}`"),
            ));
        }
        let rope_theta = match self.metadata("llama.rope.freq_base") {
            Some(_) => self.f64_key("llama.rope.freq_base")?,
            None => 10_000.0,
        };
        let eos = self.optional_token_id("tokenizer.ggml.eos_token_id")?;
        let config = Config {
            architecture: Architecture::Llama,
            vocab_size,
            hidden_size,
            intermediate_size: self.usize_key("llama.feed_forward_length")?,
            num_hidden_layers: self.usize_key("llama.block_count")?,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            rms_norm_eps: self.f64_key("llama.attention.layer_norm_rms_epsilon")?,
            rope_theta,
            rope_scaling: RopeScaling::Default,
            max_position_embeddings: self.usize_key("llama.context_length")?,
            tie_word_embeddings: !self.content.tensor_infos.contains_key("output.weight"),
            qkv_bias: false,
            o_bias: false,
            sliding_window: None,
            bos_token_id: self.optional_token_id("tokenizer.ggml.bos_token_id")?,
            eos_token_ids: eos.into_iter().collect(),
        };
        config
            .validate()
            .map_err(|e: ConfigError| e.renamed(gguf_key).with_origin(&self.path))
    }

    /// Every tensor, dequantized to f32 under its Hugging Face name, with q/k rows
    /// un-permuted and every shape checked against `config`.
    pub fn weights(&self, config: &Config) -> Result<Weights> {
        let file = File::open(&self.path).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        let mut reader = BufReader::new(file);
        let mut tensors = BTreeMap::new();
        for name in self.content.tensor_infos.keys() {
            let hf_name = hf_name(name).ok_or_else(|| {
                self.invalid(format!("tensor `{name}`"), "not a llama tensor name")
            })?;
            let quantized = self
                .content
                .tensor(&mut reader, name, &Device::Cpu)
                .context_with(|| format!("{}: gguf tensor `{name}`", self.path.display()))?;
            let tensor = quantized.dequantize(&Device::Cpu).context_with(|| {
                format!("{}: dequantizing gguf tensor `{name}`", self.path.display())
            })?;
            let tensor = match hf_name.rsplit('.').nth(1) {
                Some("q_proj") => {
                    self.unpermute(name, tensor, config.num_attention_heads, config)?
                }
                Some("k_proj") => {
                    self.unpermute(name, tensor, config.num_key_value_heads, config)?
                }
                _ => tensor,
            };
            tensors.insert(hf_name, tensor);
        }
        let weights = Weights::new(self.path.clone(), tensors);
        weights.validate(config)?;
        Ok(weights)
    }

    /// Undo llama.cpp's q/k row permutation: rows `[head, pair, half]` back to
    /// `[head, half, pair]` (transformers' `_reverse_permute_weights`).
    fn unpermute(
        &self,
        name: &str,
        tensor: Tensor,
        heads: usize,
        config: &Config,
    ) -> Result<Tensor> {
        let expected = [heads * config.head_dim, config.hidden_size];
        if tensor.dims() != expected {
            return Err(self.invalid(
                format!("tensor `{name}`"),
                format!("expected shape {expected:?}, found {:?}", tensor.dims()),
            ));
        }
        let (rows, cols) = (expected[0], expected[1]);
        tensor
            .reshape((heads, config.head_dim / 2, 2, cols))
            .and_then(|t| t.transpose(1, 2))
            .and_then(|t| t.contiguous())
            .and_then(|t| t.reshape((rows, cols)))
            .context_with(|| format!("{}: un-permuting gguf tensor `{name}`", self.path.display()))
    }

    /// The tokenizer and chat template from `tokenizer.*` metadata.
    pub fn tokenizer(&self) -> Result<Tokenizer> {
        use candle_core::quantized::tokenizer::TokenizerFromGguf;
        let origin = self.path().to_path_buf();
        let mut inner = tokenizers::Tokenizer::from_gguf(self.content()).context_with(|| {
            format!(
                "{}: building the tokenizer from gguf metadata",
                origin.display()
            )
        })?;
        let string = |key: &str| match self.metadata(key) {
            Some(candle_core::quantized::gguf_file::Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let pre = string("tokenizer.ggml.pre").unwrap_or_else(|| "gpt2".to_owned());
        let add_prefix_space = matches!(
            self.metadata("tokenizer.ggml.add_space_prefix"),
            Some(candle_core::quantized::gguf_file::Value::Bool(true))
        );
        inner.with_pre_tokenizer(Some(
            tokenizer::byte_level_pre_tokenizer(&pre, add_prefix_space).map_err(|source| {
                Error::Tokenizer {
                    context: format!("{}: pre-tokenizer `{pre}`", origin.display()),
                    source,
                }
            })?,
        ));

        let token = |key: &str| -> Option<String> {
            let id = u32::try_from(self.metadata(key).and_then(value_to_u64)?).ok()?;
            inner.id_to_token(id)
        };
        let special = tokenizer::SpecialTokens {
            bos: token("tokenizer.ggml.bos_token_id"),
            eos: token("tokenizer.ggml.eos_token_id"),
            unk: token("tokenizer.ggml.unknown_token_id"),
            pad: token("tokenizer.ggml.padding_token_id"),
        };
        let template = string("tokenizer.chat_template");
        Tokenizer::new(origin, inner, special, &[], template)
    }
}

/// Hugging Face name of a llama GGUF tensor (transformers' `GGUF_TO_TRANSFORMERS_MAPPING`).
fn hf_name(gguf: &str) -> Option<String> {
    let top = match gguf {
        "token_embd.weight" => Some("model.embed_tokens.weight"),
        "output_norm.weight" => Some("model.norm.weight"),
        "output.weight" => Some("lm_head.weight"),
        _ => None,
    };
    if let Some(name) = top {
        return Some(name.to_owned());
    }
    let rest = gguf.strip_prefix("blk.")?;
    let (layer, rest) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let (module, param) = rest.rsplit_once('.')?;
    if param != "weight" && param != "bias" {
        return None;
    }
    let hf_module = match module {
        "attn_q" => "self_attn.q_proj",
        "attn_k" => "self_attn.k_proj",
        "attn_v" => "self_attn.v_proj",
        "attn_output" => "self_attn.o_proj",
        "ffn_gate" => "mlp.gate_proj",
        "ffn_up" => "mlp.up_proj",
        "ffn_down" => "mlp.down_proj",
        "attn_norm" => "input_layernorm",
        "ffn_norm" => "post_attention_layernorm",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{hf_module}.{param}"))
}

/// The metadata key a GGUF stores a `config.json` field under, so that an error names the
/// key the file holds.
fn gguf_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "vocab_size" => "tokenizer.ggml.tokens",
        "hidden_size" => "llama.embedding_length",
        "intermediate_size" => "llama.feed_forward_length",
        "num_hidden_layers" => "llama.block_count",
        "num_attention_heads" => "llama.attention.head_count",
        "num_key_value_heads" => "llama.attention.head_count_kv",
        "head_dim" => "llama.attention.key_length",
        "rms_norm_eps" => "llama.attention.layer_norm_rms_epsilon",
        "rope_theta" => "llama.rope.freq_base",
        "max_position_embeddings" => "llama.context_length",
        "bos_token_id" => "tokenizer.ggml.bos_token_id",
        "eos_token_id" => "tokenizer.ggml.eos_token_id",
        _ => return None,
    })
}

/// An unsigned integer metadata value of any width.
pub(crate) fn value_to_u64(value: &Value) -> Option<u64> {
    match *value {
        Value::U8(v) => Some(u64::from(v)),
        Value::U16(v) => Some(u64::from(v)),
        Value::U32(v) => Some(u64::from(v)),
        Value::U64(v) => Some(v),
        Value::I8(v) => u64::try_from(v).ok(),
        Value::I16(v) => u64::try_from(v).ok(),
        Value::I32(v) => u64::try_from(v).ok(),
        Value::I64(v) => u64::try_from(v).ok(),
        _ => None,
    }
}

/// A header problem, before the path is attached.
#[derive(Debug)]
struct HeaderError {
    field: String,
    message: String,
}

impl HeaderError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    fn into_error(self, path: &Path) -> Error {
        Error::Gguf {
            path: path.to_path_buf(),
            field: self.field,
            message: self.message,
        }
    }
}

/// A reader that knows how many bytes remain, so no length read from the file is
/// trusted before it is compared with what is left.
struct Cursor<'a, R> {
    inner: &'a mut R,
    pos: u64,
    len: u64,
}

impl<R: Read + Seek> Cursor<'_, R> {
    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn need(&self, bytes: u64, field: &dyn Fn() -> String) -> std::result::Result<(), HeaderError> {
        if bytes > self.remaining() {
            return Err(HeaderError::new(
                field(),
                format!(
                    "needs {bytes} bytes at offset {}, only {} remain (truncated file?)",
                    self.pos,
                    self.remaining()
                ),
            ));
        }
        Ok(())
    }

    fn bytes<const N: usize>(
        &mut self,
        field: &dyn Fn() -> String,
    ) -> std::result::Result<[u8; N], HeaderError> {
        self.need(N as u64, field)?;
        let mut buf = [0u8; N];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| HeaderError::new(field(), format!("read failed: {e}")))?;
        self.pos += N as u64;
        Ok(buf)
    }

    fn u32(&mut self, field: &dyn Fn() -> String) -> std::result::Result<u32, HeaderError> {
        self.bytes::<4>(field).map(u32::from_le_bytes)
    }

    fn u64(&mut self, field: &dyn Fn() -> String) -> std::result::Result<u64, HeaderError> {
        self.bytes::<8>(field).map(u64::from_le_bytes)
    }

    fn skip(
        &mut self,
        bytes: u64,
        field: &dyn Fn() -> String,
    ) -> std::result::Result<(), HeaderError> {
        self.need(bytes, field)?;
        let offset =
            i64::try_from(bytes).map_err(|_| HeaderError::new(field(), "length out of range"))?;
        self.inner
            .seek(SeekFrom::Current(offset))
            .map_err(|e| HeaderError::new(field(), format!("seek failed: {e}")))?;
        self.pos += bytes;
        Ok(())
    }

    fn string(
        &mut self,
        max: u64,
        field: &dyn Fn() -> String,
    ) -> std::result::Result<String, HeaderError> {
        let len = self.u64(field)?;
        if len > max {
            return Err(HeaderError::new(
                field(),
                format!("string length {len} exceeds {max}"),
            ));
        }
        self.need(len, field)?;
        let mut buf = vec![
            0u8;
            usize::try_from(len)
                .map_err(|_| HeaderError::new(field(), "length out of range"))?
        ];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| HeaderError::new(field(), format!("read failed: {e}")))?;
        self.pos += len;
        String::from_utf8(buf).map_err(|_| HeaderError::new(field(), "not valid UTF-8"))
    }

    /// Skip one metadata value of GGUF type `ty`; returns it when it is an unsigned
    /// integer (for `general.alignment`).
    fn value(
        &mut self,
        ty: u32,
        depth: usize,
        field: &dyn Fn() -> String,
    ) -> std::result::Result<Option<u64>, HeaderError> {
        if let Some(size) = scalar_size(ty) {
            let raw = match size {
                1 => u64::from(self.bytes::<1>(field)?[0]),
                2 => u64::from(u16::from_le_bytes(self.bytes::<2>(field)?)),
                4 => u64::from(self.u32(field)?),
                _ => self.u64(field)?,
            };
            let unsigned = matches!(ty, 0 | 2 | 4 | 10);
            return Ok(unsigned.then_some(raw));
        }
        match ty {
            8 => {
                let len = self.u64(field)?;
                self.skip(len, field)?;
            }
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(HeaderError::new(
                        field(),
                        format!("arrays nested deeper than {MAX_ARRAY_DEPTH}"),
                    ));
                }
                let elem = self.u32(field)?;
                let count = self.u64(field)?;
                let min_size = match scalar_size(elem) {
                    Some(size) => size,
                    None if elem == 8 => 8,
                    None if elem == 9 => 12,
                    None => {
                        return Err(HeaderError::new(
                            field(),
                            format!("unknown array element type {elem}"),
                        ));
                    }
                };
                self.need(count.saturating_mul(min_size), field)?;
                match scalar_size(elem) {
                    Some(size) => self.skip(count * size, field)?,
                    None => {
                        for _ in 0..count {
                            self.value(elem, depth + 1, field)?;
                        }
                    }
                }
            }
            other => {
                return Err(HeaderError::new(
                    field(),
                    format!("unknown value type {other}"),
                ));
            }
        }
        Ok(None)
    }
}

/// Byte size of a scalar GGUF value type, `None` for strings, arrays and unknown types.
fn scalar_size(ty: u32) -> Option<u64> {
    match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

/// candle's `GgmlDType` for a GGUF type id (candle's own mapping is crate-private).
fn ggml_dtype(id: u32) -> Option<GgmlDType> {
    Some(match id {
        0 => GgmlDType::F32,
        1 => GgmlDType::F16,
        2 => GgmlDType::Q4_0,
        3 => GgmlDType::Q4_1,
        6 => GgmlDType::Q5_0,
        7 => GgmlDType::Q5_1,
        8 => GgmlDType::Q8_0,
        9 => GgmlDType::Q8_1,
        10 => GgmlDType::Q2K,
        11 => GgmlDType::Q3K,
        12 => GgmlDType::Q4K,
        13 => GgmlDType::Q5K,
        14 => GgmlDType::Q6K,
        15 => GgmlDType::Q8K,
        30 => GgmlDType::BF16,
        _ => return None,
    })
}

/// Walk the whole header of a GGUF v2/v3 file of `len` bytes and check every count,
/// length, type, alignment and tensor data range against the file before anything
/// else trusts them.
fn validate_header<R: Read + Seek>(
    reader: &mut R,
    len: u64,
) -> std::result::Result<(), HeaderError> {
    let mut cur = Cursor {
        inner: reader,
        pos: 0,
        len,
    };
    let magic = cur.bytes::<4>(&|| "header `magic`".to_owned())?;
    if &magic != b"GGUF" {
        return Err(HeaderError::new(
            "header `magic`",
            format!("expected `GGUF`, found {magic:02x?}"),
        ));
    }
    let version = cur.u32(&|| "header `version`".to_owned())?;
    if version != 2 && version != 3 {
        return Err(HeaderError::new(
            "header `version`",
            format!("expected 2 or 3, found `{version}`"),
        ));
    }
    let tensor_count = cur.u64(&|| "header `tensor_count`".to_owned())?;
    let kv_count = cur.u64(&|| "header `metadata_kv_count`".to_owned())?;
    // Smallest possible entries: a key (8-byte length + 1 byte) + type + 1-byte value;
    // a tensor name (8 + 1) + n_dims + one dim + type + offset.
    let (min_kv, min_tensor) = (8 + 1 + 4 + 1, 8 + 1 + 4 + 8 + 4 + 8);
    if kv_count.saturating_mul(min_kv) > cur.remaining() {
        return Err(HeaderError::new(
            "header `metadata_kv_count`",
            format!(
                "{kv_count} entries cannot fit in the {} bytes left",
                cur.remaining()
            ),
        ));
    }
    if tensor_count.saturating_mul(min_tensor) > cur.remaining() {
        return Err(HeaderError::new(
            "header `tensor_count`",
            format!(
                "{tensor_count} tensors cannot fit in the {} bytes left",
                cur.remaining()
            ),
        ));
    }

    let mut alignment = DEFAULT_ALIGNMENT;
    let mut keys = HashSet::new();
    for index in 0..kv_count {
        let key = cur.string(MAX_KEY_LEN, &|| format!("metadata key #{index}"))?;
        let field = || format!("metadata `{key}`");
        let ty = cur.u32(&field)?;
        let integer = cur.value(ty, 0, &field)?;
        if key == "general.alignment" {
            // The spec makes it a u32; candle's reader ignores other widths, so accepting
            // them here would check the data ranges against a different alignment.
            alignment = match integer {
                Some(a) if ty == 4 && a != 0 && a.is_power_of_two() => a,
                Some(a) if ty == 4 => {
                    return Err(HeaderError::new(
                        field(),
                        format!("expected a nonzero power of two, found `{a}`"),
                    ));
                }
                _ => {
                    return Err(HeaderError::new(
                        field(),
                        format!("expected a u32 (type 4), found type {ty}"),
                    ));
                }
            };
        }
        if !keys.insert(key.clone()) {
            return Err(HeaderError::new(field(), "duplicate key"));
        }
    }

    let mut tensors = Vec::new();
    let mut names = HashSet::new();
    for index in 0..tensor_count {
        let name = cur.string(cur.remaining(), &|| format!("tensor info #{index}"))?;
        let field = || format!("tensor `{name}`");
        let n_dims = cur.u32(&field)?;
        if n_dims == 0 || n_dims > MAX_DIMS {
            return Err(HeaderError::new(
                field(),
                format!("expected 1 to {MAX_DIMS} dimensions, found `{n_dims}`"),
            ));
        }
        let mut dims = Vec::new();
        for _ in 0..n_dims {
            dims.push(cur.u64(&field)?);
        }
        let type_id = cur.u32(&field)?;
        let dtype = ggml_dtype(type_id)
            .ok_or_else(|| HeaderError::new(field(), format!("unknown ggml type `{type_id}`")))?;
        let offset = cur.u64(&field)?;
        let elements = dims
            .iter()
            .try_fold(
                1u64,
                |acc, &d| if d == 0 { None } else { acc.checked_mul(d) },
            )
            .filter(|&n| n <= len.saturating_mul(8))
            .ok_or_else(|| {
                HeaderError::new(
                    field(),
                    format!("dimensions {dims:?} are zero or larger than the file can hold"),
                )
            })?;
        let block = dtype.block_size() as u64;
        if !dims[0].is_multiple_of(block) {
            return Err(HeaderError::new(
                field(),
                format!(
                    "row length {} is not a multiple of the {dtype:?} block size {block}",
                    dims[0]
                ),
            ));
        }
        let bytes = elements / block * dtype.type_size() as u64;
        if offset % alignment != 0 {
            return Err(HeaderError::new(
                field(),
                format!("data offset {offset} is not a multiple of the alignment {alignment}"),
            ));
        }
        if !names.insert(name.clone()) {
            return Err(HeaderError::new(field(), "duplicate tensor name"));
        }
        tensors.push((name, offset, bytes));
    }

    let data_start = cur.pos.div_ceil(alignment) * alignment;
    let mut data_end = data_start;
    for (name, offset, bytes) in tensors {
        let end = data_start
            .checked_add(offset)
            .and_then(|s| s.checked_add(bytes));
        match end {
            Some(end) if end <= len => data_end = data_end.max(end),
            _ => {
                return Err(HeaderError::new(
                    format!("tensor `{name}`"),
                    format!(
                        "data [{offset}, +{bytes}) after byte {data_start} extends past the end of the {len}-byte file"
                    ),
                ));
            }
        }
    }
    // Past the last tensor a file holds at most its alignment padding: anything longer (a
    // sparse file of 100 GB behind a small header) would be hashed and mapped for nothing.
    if len - data_end >= alignment {
        return Err(HeaderError::new(
            "file size",
            format!("{len} bytes, of which {} follow the last tensor's data (ending at byte {data_end})", len - data_end),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_llama_tensor_names_to_hugging_face() {
        assert_eq!(
            hf_name("blk.12.attn_q.weight").as_deref(),
            Some("model.layers.12.self_attn.q_proj.weight")
        );
        assert_eq!(
            hf_name("blk.0.ffn_norm.weight").as_deref(),
            Some("model.layers.0.post_attention_layernorm.weight")
        );
        assert_eq!(hf_name("output.weight").as_deref(), Some("lm_head.weight"));
        assert_eq!(hf_name("blk.x.attn_q.weight"), None);
        assert_eq!(hf_name("rope_freqs.weight"), None);
    }

    #[test]
    fn unpermute_inverts_llama_cpp_permute() {
        // llama.cpp: w.reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2).reshape(rows, cols)
        let (heads, head_dim, cols) = (2usize, 4usize, 3usize);
        let rows = heads * head_dim;
        let hf: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
        let hf = Tensor::from_vec(hf, (rows, cols), &Device::Cpu).expect("tensor");
        let permuted = hf
            .reshape((heads, 2, head_dim / 2, cols))
            .and_then(|t| t.transpose(1, 2))
            .and_then(|t| t.contiguous())
            .and_then(|t| t.reshape((rows, cols)))
            .expect("permute");
        let config = Config {
            architecture: Architecture::Llama,
            vocab_size: 1,
            hidden_size: cols,
            intermediate_size: 1,
            num_hidden_layers: 1,
            num_attention_heads: heads,
            num_key_value_heads: heads,
            head_dim,
            rms_norm_eps: 1e-5,
            rope_theta: 10_000.0,
            rope_scaling: RopeScaling::Default,
            max_position_embeddings: 8,
            tie_word_embeddings: true,
            qkv_bias: false,
            o_bias: false,
            sliding_window: None,
            bos_token_id: None,
            eos_token_ids: vec![],
        };
        let file = GgufFile {
            path: PathBuf::from("t.gguf"),
            content: Content {
                magic: candle_core::quantized::gguf_file::VersionedMagic::GgufV3,
                metadata: Default::default(),
                tensor_infos: Default::default(),
                tensor_data_offset: 0,
            },
        };
        let back = file
            .unpermute("blk.0.attn_q.weight", permuted, heads, &config)
            .expect("unpermute");
        assert_eq!(
            back.to_vec2::<f32>().expect("vec"),
            hf.to_vec2::<f32>().expect("vec")
        );
    }
}
