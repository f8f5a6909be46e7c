//! Engine throughput on the real model, as issue 3 defines it: SmolLM2-135M-Instruct with
//! LoRA r = 16 on all seven projections, batch 4 × 256 tokens. Prints one JSON object:
//! training tokens/s, forward tokens/s (logits of every position, adapters attached),
//! generation new tokens/s (greedy, KV cache), and peak resident memory.
//!
//! Not a criterion bench: one training step takes seconds, so a few timed steps after a
//! warm-up step are the measurement. `benches/compare-pytorch.sh` runs it beside the same
//! configuration in PyTorch + PEFT and prints the ratios.
//!
//! Usage: `cargo bench --profile dev --bench engine -- [--quantization nf4|none] [--steps N]
//! [--gradient-checkpointing]`

use std::path::Path;
use std::time::Instant;

use candle_core::{Device, Tensor};
use rapha_engine::{
    Example, GenerateConfig, LoraConfig, Mode, Model, ModelSource, Pretrained, Quantization, Target,
    TrainConfig, Trainer, generate,
};

const BATCH: usize = 4;
const SEQ: usize = 256;
const PROMPT: usize = 16;
const NEW_TOKENS: usize = 64;

fn main() -> anyhow::Result<()> {
    rapha_kernels::allocator::retain_freed_buffers();
    let args: Vec<String> = std::env::args().collect();
    let option = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let quantization = match option("--quantization").as_deref() {
        None | Some("nf4") => Quantization::Nf4,
        Some("none") => Quantization::None,
        Some(other) => anyhow::bail!("--quantization: expected `nf4` or `none`, found `{other}`"),
    };
    let steps: u64 = option("--steps").map_or(Ok(3), |s| s.parse())?;
    let gradient_checkpointing = args.iter().any(|a| a == "--gradient-checkpointing");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    anyhow::ensure!(path.is_file(), "{} is missing: run scripts/fetch-model.sh", path.display());

    let pretrained = Pretrained::load(&ModelSource::Gguf(path))?;
    eprintln!("peak after load: {:.2} GiB", peak_rss_bytes()? as f64 / 1073741824.0);
    let tokenizer = pretrained.tokenizer;
    let vocab = pretrained.config.vocab_size as u32;
    let lora = LoraConfig { rank: 16, alpha: 32.0, dropout: 0.05, targets: Target::ALL.to_vec(), rslora: false };
    let model = Model::new(pretrained.config, pretrained.weights, quantization, Some(&lora), 0)?;

    // Deterministic token ids: prompt 16, completion 240, so every row is exactly 256 long.
    let ids = |row: usize, len: usize, salt: usize| -> Vec<u32> {
        (0..len).map(|j| ((row * 7919 + j * 104_729 + salt) as u32) % (vocab - 1000) + 500).collect()
    };
    let examples: Vec<Example> =
        (0..BATCH * (steps as usize + 1)).map(|r| Example { prompt: ids(r, PROMPT, 1), completion: ids(r, SEQ - PROMPT, 2) }).collect();
    let config = TrainConfig {
        max_steps: steps + 1,
        learning_rate: 1e-4,
        micro_batch_size: BATCH,
        grad_accum_steps: 1,
        max_seq_len: SEQ,
        gradient_checkpointing,
        ..TrainConfig::default()
    };
    eprintln!("peak after quantization: {:.2} GiB", peak_rss_bytes()? as f64 / 1073741824.0);
    let mut trainer = Trainer::new(&model, &lora, examples, Vec::new(), config)?;
    trainer.step()?;
    let started = Instant::now();
    let mut tokens = 0usize;
    for _ in 0..steps {
        tokens += trainer.step()?.tokens;
    }
    let train_tps = tokens as f64 / started.elapsed().as_secs_f64();
    let train_peak = peak_rss_bytes()?;
    drop(trainer);

    let device = Device::Cpu;
    let rows: Vec<u32> = (0..BATCH).flat_map(|r| ids(r, SEQ, 3)).collect();
    let input = Tensor::from_vec(rows, (BATCH, SEQ), &device)?;
    let positions = Tensor::from_vec((0..BATCH).flat_map(|_| 0..SEQ as u32).collect::<Vec<u32>>(), (BATCH, SEQ), &device)?;
    let forward = || -> anyhow::Result<()> {
        let hidden = model.forward(&input, &positions, None, None, &Mode::Eval)?;
        model.lm_head(&hidden)?;
        Ok(())
    };
    forward()?;
    let started = Instant::now();
    for _ in 0..steps {
        forward()?;
    }
    let forward_tps = (BATCH * SEQ) as f64 * steps as f64 / started.elapsed().as_secs_f64();

    let prompts: Vec<Vec<u32>> = (0..BATCH).map(|r| ids(r, 128, 4)).collect();
    let mut generation = GenerateConfig::greedy(NEW_TOKENS, Vec::new());
    generation.pad_id = tokenizer.pad_token_id().unwrap_or(0);
    let started = Instant::now();
    let generations = generate(&model, &tokenizer, &prompts, &generation)?;
    let new_tokens: usize = generations.iter().map(|g| g.token_ids.len()).sum();
    let generate_tps = new_tokens as f64 / started.elapsed().as_secs_f64();

    let report = serde_json::json!({
        "engine": "rapha-engine (candle 0.11.1)",
        "quantization": quantization.to_string(),
        "gradient_checkpointing": gradient_checkpointing,
        "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "train_tokens_per_second": train_tps,
        "forward_tokens_per_second": forward_tps,
        "generate_new_tokens_per_second": generate_tps,
        "peak_rss_after_training_bytes": train_peak,
        "peak_rss_bytes": peak_rss_bytes()?,
    });
    println!("{report}");
    Ok(())
}

/// `VmHWM` of this process: the most resident memory it has held.
fn peak_rss_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).ok_or_else(|| anyhow::anyhow!("no VmHWM"))?;
    let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse()?;
    Ok(kib * 1024)
}
