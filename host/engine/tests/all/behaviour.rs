//! The engine's behaviour pinned bit for bit, to guard refactorings that must not change it:
//! the logits of a seeded tiny model, the losses and adapter tensors after three training
//! steps with dropout, and twenty greedy tokens, for an NF4 and an f32 base.
//!
//! Floating-point results depend on the CPU's kernels (AMX tiles, AVX-512 or AVX2 products)
//! and on the thread count, so the recorded digests in `tests/data/behaviour.json` are keyed
//! by both. On a machine with a recorded key the digests must match; on another, the test
//! checks that two computations agree bit for bit and says how to record the key
//! (`RAPHA_RECORD_BEHAVIOUR=1`).

use std::collections::BTreeMap;

use candle_core::{DType, Tensor};
use rapha_engine::batch::Batch;
use rapha_engine::{Decay, GenerateConfig, Mode, Model, Quantization, TrainConfig, Trainer, generate};
use sha2::{Digest, Sha256};

use crate::generation::Letters;
use crate::random_model::{self, VOCAB, examples};
use crate::util;

/// Digests of one base precision: `logits`, `training`, `greedy`.
type Digests = BTreeMap<String, String>;

#[test]
fn logits_training_and_greedy_tokens_are_bit_identical_to_the_recorded_ones() {
    let computed: BTreeMap<String, Digests> =
        [("nf4", Quantization::Nf4), ("f32", Quantization::None)].map(|(name, q)| (name.to_owned(), digests(q))).into();
    let path = util::data("behaviour.json");
    let mut recorded: BTreeMap<String, BTreeMap<String, Digests>> =
        serde_json::from_slice(&std::fs::read(&path).expect("behaviour.json")).expect("behaviour.json parses");
    let key = machine_key();
    if std::env::var("RAPHA_RECORD_BEHAVIOUR").is_ok_and(|v| v == "1") {
        recorded.insert(key, computed);
        std::fs::write(&path, serde_json::to_string_pretty(&recorded).expect("json") + "\n").expect("write");
        return;
    }
    match recorded.get(&key) {
        Some(expected) => assert_eq!(&computed, expected, "behaviour changed on `{key}`"),
        None => {
            let again: BTreeMap<String, Digests> =
                [("nf4", Quantization::Nf4), ("f32", Quantization::None)].map(|(name, q)| (name.to_owned(), digests(q))).into();
            assert_eq!(computed, again, "two computations differ on `{key}`");
            eprintln!(
                "notice: no recorded behaviour for `{key}`: checked determinism only; \
                 `RAPHA_RECORD_BEHAVIOUR=1 cargo test -p rapha-engine --test all behaviour` records it"
            );
        }
    }
}

/// The three digests for a base in `quantization`.
fn digests(quantization: Quantization) -> Digests {
    let lora = random_model::lora(4, 0.1);
    let model = random_model::model(Some(&lora), quantization);
    random_model::randomize_b(&model, 3);
    let logits = logits(&model);

    let data = examples(24, 4);
    let config = TrainConfig {
        max_steps: 3,
        learning_rate: 5e-3,
        warmup_steps: 1,
        decay: Decay::Cosine,
        micro_batch_size: 8,
        grad_accum_steps: 2,
        max_seq_len: 16,
        seed: 9,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&model, &lora, data, Vec::new(), config).expect("trainer");
    let mut training = Sha256::new();
    for _ in 0..3 {
        training.update(trainer.step().expect("step").loss.expect("a loss").to_bits().to_le_bytes());
    }
    training.update(trainer.adapter().expect("adapter").weights_bytes().expect("bytes"));

    let prompts = vec![vec![5, 9, 13, 40, 41, 7, 22], vec![30, 31], vec![60, 4, 18, 19]];
    let config = GenerateConfig::greedy(20, vec![VOCAB as u32 + 1]);
    let mut greedy = Sha256::new();
    for generation in generate(&model, &Letters, &prompts, &config).expect("generation") {
        assert_eq!(generation.token_ids.len(), 20);
        for id in generation.token_ids {
            greedy.update(id.to_le_bytes());
        }
    }
    [("logits", logits), ("training", hex::encode(training.finalize())), ("greedy", hex::encode(greedy.finalize()))]
        .map(|(name, digest)| (name.to_owned(), digest))
        .into()
}

/// The digest of the logits of 8 rows of 12 tokens: 96 rows, past the few-rows kernel.
fn logits(model: &Model) -> String {
    let rows = examples(8, 6);
    let rows: Vec<_> = rows.iter().collect();
    let batch = Batch::new(&rows, 12, 0, model.device()).expect("batch");
    let hidden = model.forward(&batch.input_ids, &batch.positions, Some(&batch.key_mask), None, &Mode::Eval).expect("forward");
    let logits = model.lm_head(&hidden).expect("head");
    hex::encode(Sha256::digest(bytes(&logits)))
}

fn bytes(tensor: &Tensor) -> Vec<u8> {
    let values = tensor.to_dtype(DType::F32).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f32>()).expect("values");
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The CPU flags that choose kernels, and the thread count.
fn machine_key() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags: Vec<&str> = cpuinfo
        .lines()
        .find(|line| line.starts_with("flags"))
        .map(|line| line.split_whitespace().collect())
        .unwrap_or_default();
    let chosen: Vec<&str> = ["amx_bf16", "avx512_bf16", "avx512f", "avx2", "fma"]
        .into_iter()
        .filter(|flag| flags.contains(flag))
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{} threads={threads}", chosen.join("+"))
}
