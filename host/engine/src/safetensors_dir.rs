//! Read a Hugging Face model directory, as `save_pretrained` writes it.
//!
//! - `config.json` → [`Config`] (and `generation_config.json`'s `eos_token_id`, which
//!   is what transformers' `generate` stops on);
//! - `model.safetensors`, or `model.safetensors.index.json` plus its shards → [`Weights`]
//!   in f32 (f32, f16 and bf16 are accepted);
//! - `tokenizer.json`, `tokenizer_config.json` (special tokens, `chat_template`) and
//!   `chat_template.jinja` (where transformers ≥ 4.43 saves the template) → [`Tokenizer`].
//!
//! Shards are read whole, one at a time, rather than memory-mapped: the f32 copy made
//! from each is larger than the shard anyway, and reading avoids the `unsafe` a map of a
//! file that another process may change would need.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use serde::Deserialize;

use crate::config::{Config, TokenIds};
use crate::error::{CandleContext, Error, Result};
use crate::json_file::read_json;
use crate::tokenizer::Tokenizer;
use crate::weights::{Weights, expected_shapes};

/// A Hugging Face model directory.
#[derive(Debug, Clone)]
pub struct HfModelDir {
    dir: PathBuf,
}

#[derive(Deserialize)]
struct ShardIndex {
    weight_map: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct GenerationConfig {
    eos_token_id: Option<TokenIds>,
}

impl HfModelDir {
    /// A directory that holds a `config.json`.
    pub fn open(dir: &Path) -> Result<Self> {
        let config = dir.join("config.json");
        if !config.is_file() {
            return Err(Error::Io {
                path: config,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "a model directory needs `config.json`",
                ),
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `config.json`, with the EOS ids of `generation_config.json` when it has some.
    pub fn config(&self) -> Result<Config> {
        let mut config = Config::from_json_file(&self.dir.join("config.json"))?;
        let generation = self.dir.join("generation_config.json");
        if generation.is_file() {
            let generation: GenerationConfig = read_json(&generation)?;
            if let Some(eos) = generation.eos_token_id {
                config.eos_token_ids = eos.into_vec();
            }
        }
        Ok(config)
    }

    /// The tensors `config` needs, converted to f32 and shape-checked.
    pub fn weights(&self, config: &Config) -> Result<Weights> {
        let single = self.dir.join("model.safetensors");
        let index = self.dir.join("model.safetensors.index.json");
        let mut tensors = BTreeMap::new();
        if single.is_file() {
            let names = expected_shapes(config).map(|(name, _)| name);
            read_shard(&single, names, &mut tensors)?;
        } else if index.is_file() {
            let index_data: ShardIndex = read_json(&index)?;
            let mut by_file: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
            for (name, _) in expected_shapes(config) {
                let shard = index_data
                    .weight_map
                    .get(&name)
                    .ok_or_else(|| Error::Tensor {
                        origin: index.clone(),
                        tensor: name.clone(),
                        message: "missing from `weight_map`".to_owned(),
                    })?;
                by_file.entry(self.dir.join(shard)).or_default().push(name);
            }
            for (file, names) in by_file {
                read_shard(&file, names.into_iter(), &mut tensors)?;
            }
        } else {
            return Err(Error::Io {
                path: single,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "a model directory needs `model.safetensors` or `model.safetensors.index.json`",
                ),
            });
        }
        let weights = Weights::new(self.dir.clone(), tensors);
        weights.validate(config)?;
        Ok(weights)
    }

    /// `tokenizer.json` with the special tokens and chat template of
    /// `tokenizer_config.json` / `chat_template.jinja`; `config` adds its EOS ids.
    pub fn tokenizer(&self, config: &Config) -> Result<Tokenizer> {
        Tokenizer::from_hf_dir(&self.dir, &config.eos_token_ids)
    }
}


/// Read `names` from one safetensors file into `out` as f32.
fn read_shard(
    path: &Path,
    names: impl Iterator<Item = String>,
    out: &mut BTreeMap<String, Tensor>,
) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file =
        safetensors::SafeTensors::deserialize(&bytes).map_err(|source| Error::Safetensors {
            path: path.to_path_buf(),
            source,
        })?;
    for name in names {
        let tensor_error = |message: String| Error::Tensor {
            origin: path.to_path_buf(),
            tensor: name.clone(),
            message,
        };
        let view = file
            .tensor(&name)
            .map_err(|e| tensor_error(e.to_string()))?;
        let dtype = match view.dtype() {
            safetensors::Dtype::F32 => DType::F32,
            safetensors::Dtype::F16 => DType::F16,
            safetensors::Dtype::BF16 => DType::BF16,
            other => {
                return Err(tensor_error(format!(
                    "expected dtype f32, f16 or bf16, found {other:?}"
                )));
            }
        };
        let tensor = Tensor::from_raw_buffer(view.data(), dtype, view.shape(), &Device::Cpu)
            .and_then(|t| t.to_dtype(DType::F32))
            .context_with(|| format!("{}: tensor `{name}`", path.display()))?;
        out.insert(name.clone(), tensor);
    }
    Ok(())
}
