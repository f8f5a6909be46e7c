//! A checkpoint's tensors in f32 under Hugging Face names, checked against a [`Config`].
//!
//! Both loaders (`gguf.rs`, `safetensors_dir.rs`) produce [`Weights`]; the model takes
//! tensors out of it one by one, so each full-precision copy can be dropped as soon as
//! its layer has quantized it. [`Weights::synthetic`] goes one step further for
//! benchmarks: it holds no tensor at all and makes each one, seeded by its name, when the
//! model takes it, so an 8B model never exists in full precision at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{CpuStorage, DType, Device, Storage, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::{CandleContext, Error, Result};

/// Named f32 tensors of one checkpoint.
#[derive(Debug, Clone)]
pub struct Weights {
    origin: PathBuf,
    source: Source,
}

/// Where the tensors come from.
#[derive(Debug, Clone)]
enum Source {
    /// Read from a checkpoint, all in memory.
    Loaded(BTreeMap<String, Tensor>),
    /// Made on demand (see [`Weights::synthetic`]).
    Synthetic(Synthetic),
}

/// The recipe of a synthetic checkpoint: what is left to make, and from which seed.
#[derive(Debug, Clone)]
struct Synthetic {
    seed: u64,
    device: Device,
    /// Shapes of the tensors not taken yet.
    pending: BTreeMap<String, Vec<usize>>,
}

/// Standard deviation of synthetic matrices: transformers' `initializer_range` default
/// (and the value in every Llama `config.json`), which `_init_weights` uses for linear
/// layers and embeddings alike.
pub const SYNTHETIC_STD: f32 = 0.02;

impl Weights {
    /// Wrap `tensors` read from `origin` (named in errors).
    pub fn new(origin: PathBuf, tensors: BTreeMap<String, Tensor>) -> Self {
        Self {
            origin,
            source: Source::Loaded(tensors),
        }
    }

    /// A stand-in checkpoint for `config` on `device`, for throughput and memory
    /// measurements: each tensor is made when it is taken, as transformers initialises a
    /// fresh model (matrices and embeddings N(0, [`SYNTHETIC_STD`]), norms 1, biases 0),
    /// from a generator keyed by `seed` and the tensor's name. The values are thus the
    /// same whatever the order of taking, the device or the thread count.
    ///
    /// Nothing is held in memory, so [`Weights::get`] and [`Weights::iter`] see no
    /// tensor; [`Weights::validate`] checks the shapes the tensors will have.
    pub fn synthetic(config: &Config, seed: u64, device: &Device) -> Self {
        Self {
            origin: PathBuf::from(format!("synthetic weights (seed {seed})")),
            source: Source::Synthetic(Synthetic {
                seed,
                device: device.clone(),
                pending: expected_shapes(config).collect(),
            }),
        }
    }

    /// The file or directory the tensors came from.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// Tensors held in memory, by name, in name order (none for synthetic weights).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        let tensors = match &self.source {
            Source::Loaded(tensors) => Some(tensors),
            Source::Synthetic(_) => None,
        };
        tensors
            .into_iter()
            .flatten()
            .map(|(name, tensor)| (name.as_str(), tensor))
    }

    /// Number of tensors held in memory (none for synthetic weights).
    pub fn len(&self) -> usize {
        match &self.source {
            Source::Loaded(tensors) => tensors.len(),
            Source::Synthetic(_) => 0,
        }
    }

    /// Whether no tensor is held in memory.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Result<&Tensor> {
        match &self.source {
            Source::Loaded(tensors) => tensors.get(name).ok_or_else(|| self.error(name, "missing")),
            Source::Synthetic(_) => Err(self.error(
                name,
                "synthetic weights hold no tensor: each is made when the model takes it",
            )),
        }
    }

    /// Remove and return the tensor called `name`.
    pub(crate) fn take(&mut self, name: &str) -> Result<Tensor> {
        let taken = match &mut self.source {
            Source::Loaded(tensors) => tensors.remove(name).map(Ok),
            Source::Synthetic(synthetic) => synthetic
                .pending
                .remove(name)
                .map(|shape| synthetic.make(name, shape)),
        };
        taken.unwrap_or_else(|| Err(self.error(name, "missing")))
    }

    fn error(&self, name: &str, message: impl Into<String>) -> Error {
        Error::Tensor {
            origin: self.origin.clone(),
            tensor: name.to_owned(),
            message: message.into(),
        }
    }

    /// The dtype and shape of the tensor called `name`, made or not.
    fn describe(&self, name: &str) -> Result<(DType, &[usize])> {
        let found = match &self.source {
            Source::Loaded(tensors) => tensors.get(name).map(|t| (t.dtype(), t.dims())),
            Source::Synthetic(synthetic) => synthetic
                .pending
                .get(name)
                .map(|shape| (DType::F32, shape.as_slice())),
        };
        found.ok_or_else(|| self.error(name, "missing"))
    }

    /// What a loader checks once: [`Weights::validate_shapes`], and (for loaded tensors) finite
    /// values only: a NaN or an infinity in a frozen weight would train an adapter on garbage.
    pub fn validate(&self, config: &Config) -> Result<()> {
        self.validate_shapes(config)?;
        if let Source::Loaded(tensors) = &self.source {
            for (name, _) in expected_shapes(config) {
                if let Some((index, value)) = first_non_finite(&tensors[&name])? {
                    return Err(self.error(&name, format!("expected finite values, found {value} at flat index {index}")));
                }
            }
        }
        Ok(())
    }

    /// Check that every tensor the architecture needs is present, in f32, with the shape
    /// `config` implies. Extra tensors (a stored copy of a tied LM head, rotary buffers) are
    /// ignored, as transformers ignores them.
    pub fn validate_shapes(&self, config: &Config) -> Result<()> {
        for (name, shape) in expected_shapes(config) {
            let (dtype, dims) = self.describe(&name)?;
            if dtype != DType::F32 {
                return Err(self.error(&name, format!("expected dtype f32, found {dtype:?}")));
            }
            if dims != shape.as_slice() {
                return Err(self.error(&name, format!("expected shape {shape:?}, found {dims:?}")));
            }
        }
        Ok(())
    }
}

/// The first value of an f32 `tensor` that is NaN or infinite, with its flat index.
fn first_non_finite(tensor: &Tensor) -> Result<Option<(usize, f32)>> {
    let position = |values: &[f32]| values.iter().position(|v| !v.is_finite()).map(|i| (i, values[i]));
    let (storage, layout) = tensor.storage_and_layout();
    if let (Storage::Cpu(CpuStorage::F32(data)), Some((start, end))) = (&*storage, layout.contiguous_offsets()) {
        return Ok(position(&data[start..end]));
    }
    drop(storage);
    let values = tensor.flatten_all().and_then(|flat| flat.to_vec1::<f32>()).context_with(|| "reading a weight".to_owned())?;
    Ok(position(&values))
}

impl Synthetic {
    /// Make the tensor `name` of `shape` on the device (see [`Weights::synthetic`]).
    ///
    /// Normal values are drawn in fixed chunks, each from its own stream of the name's
    /// generator, so they do not depend on how many threads draw them; Box–Muller turns
    /// each pair of uniforms into two N(0, 1) values.
    fn make(&self, name: &str, shape: Vec<usize>) -> Result<Tensor> {
        const CHUNK: usize = 1 << 16;
        let context = || format!("synthetic tensor `{name}` {shape:?}");
        let count: usize = shape.iter().product();
        let tensor = if name.ends_with("norm.weight") {
            Tensor::ones(shape.as_slice(), DType::F32, &self.device).context_with(context)?
        } else if name.ends_with(".bias") {
            Tensor::zeros(shape.as_slice(), DType::F32, &self.device).context_with(context)?
        } else {
            let mut hasher = Sha256::new();
            for part in [
                b"synthetic-weights".as_slice(),
                &self.seed.to_le_bytes(),
                name.as_bytes(),
            ] {
                hasher.update((part.len() as u64).to_le_bytes());
                hasher.update(part);
            }
            let base = ChaCha8Rng::from_seed(hasher.finalize().into());
            let mut values = vec![0f32; count];
            values
                .par_chunks_mut(CHUNK)
                .enumerate()
                .for_each(|(chunk, out)| {
                    let mut rng = base.clone();
                    rng.set_stream(chunk as u64);
                    for pair in out.chunks_mut(2) {
                        // 1 − u lies in (0, 1], so the logarithm is finite.
                        let radius = (-2.0 * (1.0 - rng.random::<f32>()).ln()).sqrt();
                        let angle = std::f32::consts::TAU * rng.random::<f32>();
                        let (sin, cos) = angle.sin_cos();
                        pair[0] = SYNTHETIC_STD * radius * cos;
                        if let Some(second) = pair.get_mut(1) {
                            *second = SYNTHETIC_STD * radius * sin;
                        }
                    }
                });
            Tensor::from_vec(values, shape.as_slice(), &Device::Cpu)
                .and_then(|t| t.to_device(&self.device))
                .context_with(context)?
        };
        Ok(tensor)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SyntheticShape;
    use crate::lora::{LoraConfig, Mode, Target};
    use crate::model::Model;
    use rapha_kernels::Quantization;

    fn values(weights: &mut Weights, name: &str) -> Vec<f32> {
        let tensor = weights.take(name).expect("synthetic tensor");
        tensor
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .expect("values")
    }

    #[test]
    fn synthetic_tensors_depend_on_seed_and_name_only() {
        let config = Config::synthetic(SyntheticShape::Tiny);
        let q = "model.layers.1.self_attn.q_proj.weight";
        let up = "model.layers.0.mlp.up_proj.weight";
        let mut first = Weights::synthetic(&config, 5, &Device::Cpu);
        let mut second = Weights::synthetic(&config, 5, &Device::Cpu);
        // Taken in the opposite order: the values must not depend on it.
        let (q1, up1) = (values(&mut first, q), values(&mut first, up));
        let (up2, q2) = (values(&mut second, up), values(&mut second, q));
        assert_eq!(q1, q2);
        assert_eq!(up1, up2);
        assert_ne!(q1[..64], up1[..64]);
        let mut other = Weights::synthetic(&config, 6, &Device::Cpu);
        assert_ne!(values(&mut other, q), q1);
        let err = first.take(q).expect_err("taken twice");
        assert_eq!(
            err.to_string(),
            format!("synthetic weights (seed 5): tensor `{q}`: missing")
        );
    }

    #[test]
    fn synthetic_tensors_have_the_expected_shapes_and_init() {
        let config = Config::synthetic(SyntheticShape::Tiny);
        let mut weights = Weights::synthetic(&config, 1, &Device::Cpu);
        weights.validate(&config).expect("shapes follow the config");
        assert!(weights.is_empty() && weights.iter().next().is_none());
        for (name, shape) in expected_shapes(&config) {
            let tensor = weights.take(&name).expect("present");
            assert_eq!(
                (tensor.dtype(), tensor.dims()),
                (DType::F32, shape.as_slice()),
                "{name}"
            );
            if name.ends_with("norm.weight") {
                let ones = tensor.to_vec1::<f32>().expect("values");
                assert!(ones.iter().all(|&v| v == 1.0), "{name}: {ones:?}");
            }
        }
        assert!(weights.validate(&config).is_err(), "everything was taken");
    }

    /// The embedding (256 × 64 values) against N(0, 0.02): mean within 4 standard errors,
    /// standard deviation within 5%, and the share within one σ near the normal law's
    /// 68.27% (a uniform law with the same σ would give 57.7%).
    #[test]
    fn synthetic_matrices_are_normal_with_the_initializer_range() {
        let config = Config::synthetic(SyntheticShape::Tiny);
        let mut weights = Weights::synthetic(&config, 9, &Device::Cpu);
        let x = values(&mut weights, "model.embed_tokens.weight");
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let std = (x
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        let sigma = f64::from(SYNTHETIC_STD);
        assert!(mean.abs() < 4.0 * sigma / n.sqrt(), "mean {mean}");
        assert!((std / sigma - 1.0).abs() < 0.05, "std {std}");
        let within = x.iter().filter(|&&v| f64::from(v).abs() < sigma).count() as f64 / n;
        assert!((within - 0.6827).abs() < 0.015, "share within 1σ: {within}");
    }

    #[test]
    fn loaded_weights_with_a_nan_or_an_infinity_are_refused_naming_the_tensor() {
        let config = Config::synthetic(SyntheticShape::Tiny);
        let up = "model.layers.1.mlp.up_proj.weight";
        for bad in [f32::NAN, f32::NEG_INFINITY] {
            let mut synthetic = Weights::synthetic(&config, 3, &Device::Cpu);
            let mut tensors = BTreeMap::new();
            for (name, _) in expected_shapes(&config) {
                let tensor = synthetic.take(&name).expect("present");
                tensors.insert(name, tensor);
            }
            let weights = Weights::new(PathBuf::from("model.gguf"), tensors.clone());
            weights.validate(&config).expect("finite values");
            let shape = tensors[up].dims().to_vec();
            let mut values = tensors[up].flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("values");
            values[77] = bad;
            tensors.insert(up.to_owned(), Tensor::from_vec(values, shape, &Device::Cpu).expect("tensor"));
            let err = Weights::new(PathBuf::from("model.gguf"), tensors).validate(&config).expect_err("non-finite");
            assert_eq!(
                err.to_string(),
                format!("model.gguf: tensor `{up}`: expected finite values, found {bad} at flat index 77")
            );
        }
    }

    #[test]
    fn synthetic_weights_reject_another_config() {
        let config = Config::synthetic(SyntheticShape::Tiny);
        let weights = Weights::synthetic(&config, 1, &Device::Cpu);
        let wider = Config {
            intermediate_size: 256,
            ..config
        };
        let err = weights.validate(&wider).expect_err("other shape");
        assert_eq!(
            err.to_string(),
            "synthetic weights (seed 1): tensor `model.layers.0.mlp.gate_proj.weight`: \
             expected shape [256, 64], found [128, 64]"
        );
        assert!(weights.get("model.norm.weight").is_err());
    }

    #[test]
    fn a_model_builds_and_runs_from_synthetic_weights() {
        let config = Config::synthetic(SyntheticShape::Tiny);
        let weights = Weights::synthetic(&config, 3, &Device::Cpu);
        let lora = LoraConfig {
            rank: 4,
            alpha: 8.0,
            dropout: 0.0,
            targets: Target::ALL.to_vec(),
            rslora: false,
        };
        let model =
            Model::new(config, weights, Quantization::Nf4, Some(&lora), 3).expect("model builds");
        assert_eq!(model.adapters().count(), 2 * 7);
        let ids = Tensor::new(&[[5u32, 17, 200, 3, 99, 1]], &Device::Cpu).expect("ids");
        let positions = Tensor::new(&[[0u32, 1, 2, 3, 4, 5]], &Device::Cpu).expect("positions");
        let hidden = model
            .forward(&ids, &positions, None, None, &Mode::Eval)
            .expect("forward");
        let logits = model.lm_head(&hidden).expect("logits");
        assert_eq!(logits.dims(), &[1, 6, 256]);
        let logits = logits
            .flatten_all()
            .and_then(|l| l.to_vec1::<f32>())
            .expect("values");
        assert!(logits.iter().all(|v| v.is_finite()));
        // The final norm has unit weight, so each position's logits are those of a
        // unit-RMS vector through N(0, 0.02) rows: a spread of about 0.02 · √64 = 0.16.
        let rms = (logits.iter().map(|v| v * v).sum::<f32>() / logits.len() as f32).sqrt();
        assert!((0.08..0.32).contains(&rms), "logit rms {rms}");
    }
}
