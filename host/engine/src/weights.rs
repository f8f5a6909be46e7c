//! A checkpoint's tensors in f32 under Hugging Face names, checked against a [`Config`].
//!
//! Both loaders (`gguf.rs`, `safetensors_dir.rs`) produce [`Weights`]; the model takes
//! tensors out of it one by one, so each full-precision copy can be dropped as soon as
//! its layer has quantized it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};

use crate::config::Config;
use crate::error::{Error, Result};

/// Named f32 tensors of one checkpoint.
#[derive(Debug, Clone)]
pub struct Weights {
    origin: PathBuf,
    tensors: BTreeMap<String, Tensor>,
}

impl Weights {
    /// Wrap `tensors` read from `origin` (named in errors).
    pub fn new(origin: PathBuf, tensors: BTreeMap<String, Tensor>) -> Self {
        Self { origin, tensors }
    }

    /// The file or directory the tensors came from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// Tensors by name, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.tensors
            .iter()
            .map(|(name, tensor)| (name.as_str(), tensor))
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Result<&Tensor> {
        self.tensors
            .get(name)
            .ok_or_else(|| self.error(name, "missing"))
    }

    /// Remove and return the tensor called `name`.
    pub(crate) fn take(&mut self, name: &str) -> Result<Tensor> {
        self.tensors
            .remove(name)
            .ok_or_else(|| self.error(name, "missing"))
    }

    fn error(&self, name: &str, message: impl Into<String>) -> Error {
        Error::Tensor {
            origin: self.origin.clone(),
            tensor: name.to_owned(),
            message: message.into(),
        }
    }

    /// Check that every tensor the architecture needs is present, in f32, with the
    /// shape `config` implies. Extra tensors (a stored copy of a tied LM head, rotary
    /// buffers) are ignored, as transformers ignores them.
    pub fn validate(&self, config: &Config) -> Result<()> {
        for (name, shape) in expected_shapes(config) {
            let tensor = self.get(&name)?;
            if tensor.dtype() != DType::F32 {
                return Err(self.error(
                    &name,
                    format!("expected dtype f32, found {:?}", tensor.dtype()),
                ));
            }
            if tensor.dims() != shape.as_slice() {
                return Err(self.error(
                    &name,
                    format!("expected shape {shape:?}, found {:?}", tensor.dims()),
                ));
            }
        }
        Ok(())
    }
}

/// Every tensor a Llama-family model with `config` reads, with its shape, lazily: a
/// config that claims billions of layers (a damaged file) fails at the first missing
/// tensor instead of listing them all first.
pub fn expected_shapes(config: &Config) -> impl Iterator<Item = (String, Vec<usize>)> + '_ {
    let (h, i, v) = (
        config.hidden_size,
        config.intermediate_size,
        config.vocab_size,
    );
    let q = config.num_attention_heads * config.head_dim;
    let kv = config.num_key_value_heads * config.head_dim;
    let mut top = vec![
        ("model.embed_tokens.weight".to_owned(), vec![v, h]),
        ("model.norm.weight".to_owned(), vec![h]),
    ];
    if !config.tie_word_embeddings {
        top.push(("lm_head.weight".to_owned(), vec![v, h]));
    }
    let layers = (0..config.num_hidden_layers).flat_map(move |layer| {
        let p = format!("model.layers.{layer}");
        let mut shapes = vec![
            (format!("{p}.input_layernorm.weight"), vec![h]),
            (format!("{p}.post_attention_layernorm.weight"), vec![h]),
            (format!("{p}.self_attn.q_proj.weight"), vec![q, h]),
            (format!("{p}.self_attn.k_proj.weight"), vec![kv, h]),
            (format!("{p}.self_attn.v_proj.weight"), vec![kv, h]),
            (format!("{p}.self_attn.o_proj.weight"), vec![h, q]),
            (format!("{p}.mlp.gate_proj.weight"), vec![i, h]),
            (format!("{p}.mlp.up_proj.weight"), vec![i, h]),
            (format!("{p}.mlp.down_proj.weight"), vec![h, i]),
        ];
        if config.qkv_bias {
            shapes.extend([
                (format!("{p}.self_attn.q_proj.bias"), vec![q]),
                (format!("{p}.self_attn.k_proj.bias"), vec![kv]),
                (format!("{p}.self_attn.v_proj.bias"), vec![kv]),
            ]);
        }
        if config.o_bias {
            shapes.push((format!("{p}.self_attn.o_proj.bias"), vec![h]));
        }
        shapes
    });
    top.into_iter().chain(layers)
}
