//! The base model: read and checked once ([`Base`]), then built, quantized and with its
//! LoRA adapters, into the [`Model`] that trains and generates.

use std::path::Path;

use anyhow::Context;
use rapha_engine::{Config, LoraConfig, Model, ModelSource, PeftAdapter, Pretrained, Quantization, Tokenizer, Weights};

use crate::stages::digest;

/// The model's files, read and checked, not yet built.
pub struct Base {
    /// Its hyper-parameters.
    pub config: Config,
    /// Its tokenizer and chat template.
    pub tokenizer: Tokenizer,
    /// sha256 of the model's files, as the manifest and `run.json` name it.
    pub sha256: String,
    /// The file or folder name, without the site's folder layout.
    pub name: String,
    weights: Weights,
}

impl Base {
    /// Read the model at `path` (a GGUF file or a Hugging Face folder).
    pub fn load(path: &Path) -> anyhow::Result<Base> {
        let Pretrained { config, weights, tokenizer } = Pretrained::load(&ModelSource::from_path(path))
            .with_context(|| format!("cannot load the model `{}`", path.display()))?;
        // Hashed once its headers and sizes have been checked by loading it.
        let sha256 = digest::hash_model(path)?;
        Ok(Base { config, tokenizer, sha256, name: file_name(path), weights })
    }

    /// The id written into pad positions: the tokenizer's pad token, else its first EOS.
    pub fn pad_id(&self) -> u32 {
        self.tokenizer.pad_token_id().or_else(|| self.tokenizer.eos_token_ids().first().copied()).unwrap_or(0)
    }

    /// Build the model with its frozen weights in `quantization` and LoRA adapters as
    /// `lora` says (seeded by `seed`); the tokenizer comes along.
    pub fn build(self, quantization: Quantization, lora: &LoraConfig, seed: u64) -> anyhow::Result<(Model, Tokenizer)> {
        let model = Model::new(self.config, self.weights, quantization, Some(lora), seed).context("cannot build the model")?;
        Ok((model, self.tokenizer))
    }

    /// Build the model with its frozen weights in `quantization` and, if given, the PEFT
    /// adapter in folder `adapter` (refused, naming the module, when it does not fit this
    /// model); the tokenizer comes along.
    pub fn build_with(self, quantization: Quantization, adapter: Option<&Path>) -> anyhow::Result<(Model, Tokenizer)> {
        let mut model = Model::new(self.config, self.weights, quantization, None, 0).context("cannot build the model")?;
        swap_adapter(&mut model, adapter, &self.name)?;
        Ok((model, self.tokenizer))
    }
}

/// Put the PEFT adapter in folder `adapter` on `model` (named `model_name` in errors) in
/// place of any it carries, or take them all off for `None`. A folder that does not fit
/// the model is refused naming the module.
pub fn swap_adapter(model: &mut Model, adapter: Option<&Path>, model_name: &str) -> anyhow::Result<()> {
    let Some(dir) = adapter else {
        model.remove_adapters();
        return Ok(());
    };
    let peft = PeftAdapter::load(dir, model.device()).with_context(|| format!("cannot read the adapter `{}`", dir.display()))?;
    peft.apply(model).with_context(|| format!("the adapter `{}` does not fit the model `{model_name}`", dir.display()))
}

/// The last component of a path, for names that leave without the site's folder layout.
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |name| name.to_string_lossy().into_owned())
}
