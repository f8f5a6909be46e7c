//! What DP-SGD costs in training throughput, as a ratio measured in one run: SmolLM2-135M-
//! Instruct in NF4, LoRA r = 16 on all seven projections, 256-token rows. Without DP a step
//! is one micro-batch of 4 rows; with DP each step Poisson-samples units at q = 4 / units
//! (4 rows expected, each unit one row), and each unit takes its own forward and backward
//! pass before clipping and noise (`host/engine/src/dp.rs`). The two alternate, A B A B, and
//! tokens per second are summed over each side's timed steps. Prints one JSON object.
//!
//! Usage: `cargo bench --profile dev --bench privacy -- [--steps N] [--rounds N]`

use std::path::Path;
use std::time::Instant;

use rapha_engine::dp::{DpConfig, Randomness};
use rapha_engine::{Example, LoraConfig, Model, ModelSource, Pretrained, Quantization, Target, TrainConfig, Trainer};
use rapha_privacy::Accountant;

const BATCH: usize = 4;
const SEQ: usize = 256;
const PROMPT: usize = 16;
const UNITS: usize = 400;

fn main() -> anyhow::Result<()> {
    rapha_kernels::allocator::retain_freed_buffers();
    let args: Vec<String> = std::env::args().collect();
    let option = |name: &str, default: u64| -> anyhow::Result<u64> {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map_or(Ok(default), |v| Ok(v.parse()?))
    };
    let (steps, rounds) = (option("--steps", 3)?, option("--rounds", 2)?);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    anyhow::ensure!(path.is_file(), "{} is missing: run scripts/fetch-model.sh", path.display());
    let pretrained = Pretrained::load(&ModelSource::Gguf(path))?;
    let vocab = pretrained.config.vocab_size as u32;
    let lora = LoraConfig { rank: 16, alpha: 32.0, dropout: 0.05, targets: Target::ALL.to_vec(), rslora: false };
    let model = Model::new(pretrained.config, pretrained.weights, Quantization::Nf4, Some(&lora), 0)?;
    let ids = |row: usize, len: usize, salt: usize| -> Vec<u32> {
        (0..len).map(|j| ((row * 7919 + j * 104_729 + salt) as u32) % (vocab - 1000) + 500).collect()
    };
    let examples: Vec<Example> =
        (0..UNITS).map(|r| Example { prompt: ids(r, PROMPT, 1), completion: ids(r, SEQ - PROMPT, 2) }).collect();
    let config = |dp: Option<DpConfig>| TrainConfig {
        max_steps: 1000,
        learning_rate: 1e-4,
        micro_batch_size: BATCH,
        max_seq_len: SEQ,
        dp,
        ..TrainConfig::default()
    };
    let private = DpConfig {
        sample_rate: BATCH as f64 / UNITS as f64,
        noise_multiplier: 1.0,
        max_grad_norm: 1.0,
        units: (0..UNITS).collect(),
        prior: Accountant::new(),
        delta: 1e-5,
        budget: None,
        randomness: Randomness::InsecureSeed(0),
    };
    let mut plain = Trainer::new(&model, &lora, examples.clone(), Vec::new(), config(None))?;
    let mut dp = Trainer::new(&model, &lora, examples, Vec::new(), config(Some(private)))?;
    plain.step()?;
    dp.step()?;
    let mut totals = [(0usize, 0.0f64); 2];
    for _ in 0..rounds {
        for (side, trainer) in [&mut plain, &mut dp].into_iter().enumerate() {
            let started = Instant::now();
            for _ in 0..steps {
                totals[side].0 += trainer.step()?.tokens;
            }
            totals[side].1 += started.elapsed().as_secs_f64();
        }
    }
    let [plain_tps, dp_tps] = totals.map(|(tokens, seconds)| tokens as f64 / seconds);
    let report = serde_json::json!({
        "quantization": "nf4",
        "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "train_tokens_per_second": plain_tps,
        "dp_train_tokens_per_second": dp_tps,
        "dp_over_plain": dp_tps / plain_tps,
        "steps_per_side": steps * rounds,
    });
    println!("{report}");
    Ok(())
}
