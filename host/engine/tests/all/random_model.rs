use std::collections::BTreeMap;
use std::path::PathBuf;

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rapha_engine::weights::expected_shapes;
use rapha_engine::{
    Architecture, Config, Example, LoraConfig, Model, Quantization, RopeScaling, Target, Weights,
};

/// Vocabulary of the tiny model.
pub const VOCAB: usize = 64;
/// Its EOS id.
pub const EOS: u32 = 2;

/// A two-layer Llama with grouped-query attention, small enough for NF4 blocks of 64.
pub fn config() -> Config {
    Config {
        architecture: Architecture::Llama,
        vocab_size: VOCAB,
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 8,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        rope_scaling: RopeScaling::Default,
        max_position_embeddings: 256,
        tie_word_embeddings: true,
        qkv_bias: false,
        o_bias: false,
        sliding_window: None,
        bos_token_id: Some(1),
        eos_token_ids: vec![EOS],
    }
}

/// Seeded weights: uniform in ±0.3 for matrices, 1 ± 0.1 for norms.
pub fn weights(config: &Config, seed: u64) -> Weights {
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
        tensors.insert(name, Tensor::from_vec(values, shape, &Device::Cpu).expect("weight"));
    }
    Weights::new(PathBuf::from("random-model"), tensors)
}

/// LoRA on every projection.
pub fn lora(rank: usize, dropout: f32) -> LoraConfig {
    LoraConfig { rank, alpha: 2.0 * rank as f64, dropout, targets: Target::ALL.to_vec(), rslora: false }
}

/// The tiny model (weights from seed 7), adapted by `lora` (adapter seed 11).
pub fn model(lora: Option<&LoraConfig>, quantization: Quantization) -> Model {
    let config = config();
    let weights = weights(&config, 7);
    Model::new(config, weights, quantization, lora, 11).expect("tiny model")
}

/// Give every adapter a random `B` (PEFT starts it at zero, which makes the adapter inert).
pub fn randomize_b(model: &Model, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for (_, adapter) in model.adapters() {
        let dims = adapter.b().dims().to_vec();
        let n: usize = dims.iter().product();
        let values: Vec<f32> = (0..n).map(|_| (rng.random::<f32>() * 2.0 - 1.0) * 0.2).collect();
        adapter.b().set(&Tensor::from_vec(values, dims, &Device::Cpu).expect("b")).expect("set b");
    }
}

/// `n` seeded prompt/completion pairs: prompts of 2..8 tokens, completions of 1..5 plus EOS,
/// ids above the special ones.
pub fn examples(n: usize, seed: u64) -> Vec<Example> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ids = |len: usize| -> Vec<u32> { (0..len).map(|_| rng.random_range(4..VOCAB as u32)).collect() };
    (0..n)
        .map(|i| {
            let prompt = ids(2 + i % 7);
            let mut completion = ids(1 + (i * 3) % 5);
            completion.push(EOS);
            Example { prompt, completion }
        })
        .collect()
}
