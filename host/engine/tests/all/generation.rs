use rapha_engine::{Detokenize, FinishReason, GenerateConfig, Quantization, Sampling, generate};

use crate::random_model::{self, VOCAB};

/// Spells token `i` as one letter, so byte offsets in the text are token offsets.
pub struct Letters;

impl Detokenize for Letters {
    fn detokenize(&self, ids: &[u32]) -> rapha_engine::Result<String> {
        Ok(ids.iter().map(|&i| char::from(b'0' + (i % 75) as u8)).collect())
    }
}

fn prompts() -> Vec<Vec<u32>> {
    vec![vec![5, 9, 13, 40, 41, 7, 22], vec![30, 31], vec![60, 4, 18, 19]]
}

/// No EOS in a vocabulary of 64: rows run to the length limit.
fn greedy(max_new_tokens: usize) -> GenerateConfig {
    GenerateConfig::greedy(max_new_tokens, vec![VOCAB as u32 + 1])
}

/// Greedy decoding with the KV cache equals full recomputation at every step, and a batch
/// with left padding equals each prompt alone — with an active LoRA on an NF4 base.
#[test]
fn greedy_with_kv_cache_equals_full_recomputation_and_unbatched_runs() {
    let lora = random_model::lora(4, 0.1);
    let model = random_model::model(Some(&lora), Quantization::Nf4);
    random_model::randomize_b(&model, 2);
    let cached = generate(&model, &Letters, &prompts(), &greedy(12)).unwrap();
    let full = generate(&model, &Letters, &prompts(), &GenerateConfig { kv_cache: false, ..greedy(12) }).unwrap();
    assert_eq!(cached, full);
    for (prompt, batched) in prompts().iter().zip(&cached) {
        let alone = generate(&model, &Letters, std::slice::from_ref(prompt), &greedy(12)).unwrap();
        assert_eq!(&alone[0], batched, "prompt {prompt:?}");
        assert_eq!(batched.token_ids.len(), 12);
        assert_eq!(batched.finish, FinishReason::Length);
    }
    // Not a degenerate model: some row produces more than one distinct token.
    assert!(cached.iter().any(|g| g.token_ids.iter().any(|&t| t != g.token_ids[0])), "{cached:?}");
}

/// A stop string cuts the text before it; an EOS ends the row and stays out of the text.
#[test]
fn stop_strings_and_eos_end_a_row() {
    let model = random_model::model(None, Quantization::None);
    let full = generate(&model, &Letters, &prompts(), &greedy(10)).unwrap();
    let tokens = &full[0].token_ids;
    let text = Letters.detokenize(tokens).unwrap();

    let stop = text[4..6].to_owned();
    let cut = text.find(&stop).unwrap();
    let config = GenerateConfig { stop_strings: vec![stop.clone()], ..greedy(10) };
    let stopped = generate(&model, &Letters, &prompts()[..1], &config).unwrap();
    assert_eq!(stopped[0].finish, FinishReason::Stop);
    assert_eq!(stopped[0].text, text[..cut], "stop string {stop:?} in {text:?}");
    assert_eq!(stopped[0].token_ids[..], tokens[..cut + 2], "generation ends with the token completing the stop string");

    let eos = tokens[3];
    let first = tokens.iter().position(|&t| t == eos).unwrap();
    let ended = generate(&model, &Letters, &prompts()[..1], &GenerateConfig::greedy(10, vec![eos])).unwrap();
    assert_eq!(ended[0].finish, FinishReason::Eos);
    assert_eq!(ended[0].token_ids[..], tokens[..=first]);
    assert_eq!(ended[0].text, text[..first]);
}

/// Sampling is a function of the seed; a vanishing top-p leaves only the greedy token.
#[test]
fn sampling_is_seeded_and_top_p_narrows_to_greedy() {
    let model = random_model::model(None, Quantization::None);
    let sample = |seed: u64, top_p: f64| {
        let config = GenerateConfig { sampling: Sampling::Sample { temperature: 1.5, top_p }, seed, ..greedy(16) };
        generate(&model, &Letters, &prompts(), &config).unwrap()
    };
    assert_eq!(sample(1, 1.0), sample(1, 1.0));
    assert_ne!(sample(1, 1.0), sample(2, 1.0));
    assert_eq!(sample(3, 1e-9), generate(&model, &Letters, &prompts(), &greedy(16)).unwrap());
    let err = generate(
        &model,
        &Letters,
        &prompts(),
        &GenerateConfig { sampling: Sampling::Sample { temperature: 0.0, top_p: 1.0 }, ..greedy(4) },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "setting `temperature`: expected a positive number (use greedy decoding for 0), found `0`"
    );
}
