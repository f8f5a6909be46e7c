//! Seeded tiny models for tests and checks: the `tiny` synthetic shape, random weights and
//! random LoRA `B`, one way each, so that a seed names the same model in every test.

use std::collections::BTreeMap;
use std::path::PathBuf;

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{Config, SyntheticShape};
use crate::model::Model;
use crate::weights::{Weights, expected_shapes};

/// The `tiny` synthetic shape: a two-layer Llama 3 with grouped-query attention, narrow
/// enough to run in milliseconds, wide enough for NF4 blocks of 64.
pub fn tiny_config() -> Config {
    Config::synthetic(SyntheticShape::Tiny)
}

/// Weights for `config` in host memory, drawn from `seed`: matrices uniform in ±0.3 (large
/// enough that a tiny model's outputs depend on its input), norms 1 ± 0.1.
pub fn random_weights(config: &Config, seed: u64) -> Weights {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tensors = BTreeMap::new();
    for (name, shape) in expected_shapes(config) {
        let n: usize = shape.iter().product();
        let norm = name.ends_with("norm.weight");
        let values: Vec<f32> = (0..n)
            .map(|_| {
                let u = rng.random::<f32>() * 2.0 - 1.0;
                if norm { 1.0 + 0.1 * u } else { 0.3 * u }
            })
            .collect();
        let tensor = Tensor::from_vec(values, shape, &Device::Cpu).expect("a shape from `expected_shapes`");
        tensors.insert(name, tensor);
    }
    Weights::new(PathBuf::from(format!("random weights (seed {seed})")), tensors)
}

/// Give every adapter of `model` a random `B`, uniform in ±`scale` (PEFT starts it at zero,
/// which makes an adapter inert).
pub fn randomize_b(model: &Model, seed: u64, scale: f32) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for (_, adapter) in model.adapters() {
        let dims = adapter.b().dims().to_vec();
        let n: usize = dims.iter().product();
        let values: Vec<f32> = (0..n).map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale).collect();
        let b = Tensor::from_vec(values, dims, adapter.b().device()).expect("the adapter's own shape");
        adapter.b().set(&b).expect("same shape and dtype");
    }
}
