use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rapha_engine::{Example, LoraConfig, Model, Quantization, Target, testing};

/// Vocabulary of the tiny model.
pub const VOCAB: usize = 256;
/// Its EOS id.
pub const EOS: u32 = 2;

/// LoRA on every projection.
pub fn lora(rank: usize, dropout: f32) -> LoraConfig {
    LoraConfig { rank, alpha: 2.0 * rank as f64, dropout, targets: Target::ALL.to_vec(), rslora: false }
}

/// The tiny model (weights from seed 7), adapted by `lora` (adapter seed 11).
pub fn model(lora: Option<&LoraConfig>, quantization: Quantization) -> Model {
    let config = testing::tiny_config();
    assert_eq!((config.vocab_size, config.eos_token_ids.as_slice()), (VOCAB, [EOS].as_slice()));
    let weights = testing::random_weights(&config, 7);
    Model::new(config, weights, quantization, lora, 11).expect("tiny model")
}

/// Give every adapter a random `B` (PEFT starts it at zero, which makes the adapter inert).
pub fn randomize_b(model: &Model, seed: u64) {
    testing::randomize_b(model, seed, 0.2);
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
