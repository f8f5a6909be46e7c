//! `rapha-gpu bench`: training throughput, peak memory and MFU of a synthetic Llama.
//!
//! The run, in order:
//! 1. the device's matrix-product rate (`gemm.rs`), before anything else takes memory;
//! 2. the model: [`Config::synthetic`] and [`Weights::synthetic`], each projection frozen
//!    (NF4 by default) as its weight is made, LoRA on all seven projections;
//! 3. `steps + 1` optimizer steps on rows of exactly `seq` tokens (one prompt token, the
//!    rest scored), the first a warm-up; the peak memory is that of the timed steps;
//! 4. one JSON object on stdout, with the FLOP count of `flops.rs` and MFU, the achieved
//!    FLOP rate over the measured product rate.
//!
//! The product rate is measured in the dtype the engine computes in on that device: bf16
//! activations on CUDA, f32 on the CPU (where candle's bf16 products are emulated and far
//! slower than its f32 ones, so a bf16 rate would not bound what the engine does).

use std::time::Instant;

use anyhow::Context;
use candle_core::{DType, Device};
use clap::{Args, ValueEnum};
use rapha_engine::config::SyntheticShape;
use rapha_engine::{
    Config, Example, LoraConfig, Model, Quantization, Target, TrainConfig, Trainer, Weights,
};
use serde_json::{Value, json};

use crate::flops::{FORMULA, StepFlops, StepShape};
use crate::gemm;
use crate::memory::Meter;

/// Options of `rapha-gpu bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Model shape: `tiny`, `llama-3.2-1b` or `llama-3.1-8b` (published configs, random weights).
    #[arg(long, default_value = "llama-3.2-1b", value_parser = parse_shape)]
    shape: SyntheticShape,
    /// Tokens per row.
    #[arg(long, default_value_t = 1024)]
    seq: usize,
    /// Rows per step.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Timed optimizer steps, after one warm-up step.
    #[arg(long, default_value_t = 5)]
    steps: u64,
    /// LoRA rank, on all seven projections (alpha = 2 · rank).
    #[arg(long, default_value_t = 16)]
    rank: usize,
    /// LoRA dropout probability.
    #[arg(long, default_value_t = 0.05)]
    lora_dropout: f64,
    /// Where to run: `cuda` (device 0) or `cpu`. Default: `cuda` in a CUDA build.
    #[arg(long, value_enum, default_value_t = DeviceKind::default())]
    device: DeviceKind,
    /// Frozen base weights: `nf4` (QLoRA) or `none` (full precision).
    #[arg(long, default_value = "nf4", value_parser = parse_quantization)]
    quantization: Quantization,
    /// Recompute each layer's activations in the backward pass.
    #[arg(long)]
    gradient_checkpointing: bool,
    /// Scored positions per logits chunk (the CLI's default).
    #[arg(long, default_value_t = 1024)]
    loss_chunk_tokens: usize,
    /// `n` of the `n³` product that measures the device's rate. Default: 8192 on CUDA, 1024
    /// on the CPU.
    #[arg(long)]
    gemm_size: Option<usize>,
    /// Seed of the synthetic weights, the adapters and the shuffle.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// The device a benchmark runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceKind {
    /// CUDA device 0.
    Cuda,
    /// The CPU.
    Cpu,
}

impl Default for DeviceKind {
    fn default() -> Self {
        if cfg!(feature = "cuda") {
            Self::Cuda
        } else {
            Self::Cpu
        }
    }
}

fn parse_shape(name: &str) -> Result<SyntheticShape, String> {
    name.parse().map_err(|e: rapha_engine::Error| e.to_string())
}

fn parse_quantization(name: &str) -> Result<Quantization, String> {
    match name {
        "nf4" => Ok(Quantization::Nf4),
        "none" => Ok(Quantization::None),
        other => Err(format!("expected `nf4` or `none`, found `{other}`")),
    }
}

/// Run the benchmark and return its report.
pub fn run(args: &BenchArgs) -> anyhow::Result<Value> {
    anyhow::ensure!(
        args.seq >= 2,
        "--seq: expected at least 2, found `{}`",
        args.seq
    );
    anyhow::ensure!(args.batch >= 1, "--batch: expected at least 1, found `0`");
    anyhow::ensure!(args.steps >= 1, "--steps: expected at least 1, found `0`");
    anyhow::ensure!(args.rank >= 1, "--rank: expected at least 1, found `0`");
    let (device, gemm_dtype, default_gemm) = match args.device {
        DeviceKind::Cpu => (Device::Cpu, DType::F32, 1024),
        DeviceKind::Cuda => (cuda_device()?, DType::BF16, 8192),
    };
    let gemm = gemm::measure(&device, gemm_dtype, args.gemm_size.unwrap_or(default_gemm))?;
    let meter = Meter::new(&device)?;

    let config = Config::synthetic(args.shape);
    let vocab = config.vocab_size;
    let lora = LoraConfig {
        rank: args.rank,
        alpha: 2.0 * args.rank as f64,
        dropout: args.lora_dropout as f32,
        targets: Target::ALL.to_vec(),
        rslora: false,
    };
    meter.reset()?;
    let started = Instant::now();
    let weights = Weights::synthetic(&config, args.seed, &device);
    let model = Model::new(
        config.clone(),
        weights,
        args.quantization,
        Some(&lora),
        args.seed,
    )
    .with_context(|| format!("building the synthetic `{}` model", args.shape))?;
    device
        .synchronize()
        .context("synchronizing after the build")?;
    let build_seconds = started.elapsed().as_secs_f64();
    let build_peak = meter.peak()?;

    let steps = args.steps + 1;
    let examples: Vec<Example> = (0..args.batch * steps as usize)
        .map(|row| Example {
            prompt: token_ids(row, 1, 1, vocab),
            completion: token_ids(row, args.seq - 1, 2, vocab),
        })
        .collect();
    let train = TrainConfig {
        max_steps: steps,
        learning_rate: 1e-4,
        warmup_steps: 0,
        micro_batch_size: args.batch,
        grad_accum_steps: 1,
        max_seq_len: args.seq,
        gradient_checkpointing: args.gradient_checkpointing,
        loss_chunk_tokens: Some(args.loss_chunk_tokens),
        seed: args.seed,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&model, &lora, examples, Vec::new(), train)?;
    let warm_up = trainer.step().context("warm-up step")?;
    device
        .synchronize()
        .context("synchronizing after the warm-up step")?;
    meter.reset()?;
    let started = Instant::now();
    let mut reports = Vec::new();
    for _ in 0..args.steps {
        reports.push(trainer.step()?);
    }
    device
        .synchronize()
        .context("synchronizing after the timed steps")?;
    let seconds = started.elapsed().as_secs_f64();
    let train_peak = meter.peak()?;
    drop(trainer);

    let tokens: usize = reports.iter().map(|r| r.tokens).sum();
    let scored_per_step = warm_up.scored_tokens;
    anyhow::ensure!(
        tokens == args.batch * args.seq * args.steps as usize,
        "the timed steps processed {tokens} tokens, expected {} (every row `--seq` long)",
        args.batch * args.seq * args.steps as usize
    );
    let flops = StepFlops::new(
        &config,
        StepShape {
            batch: args.batch,
            seq: args.seq,
            scored: scored_per_step,
            rank: args.rank,
        },
    );
    let achieved = flops.total() as f64 * args.steps as f64 / seconds;
    Ok(json!({
        "engine": "rapha-engine (candle 0.11.1)",
        "shape": args.shape.name(),
        "device": device_name(&device)?,
        "quantization": args.quantization.to_string(),
        "gradient_checkpointing": args.gradient_checkpointing,
        "batch": args.batch,
        "seq": args.seq,
        "rank": args.rank,
        "lora_dropout": args.lora_dropout,
        "loss_chunk_tokens": args.loss_chunk_tokens,
        "steps": args.steps,
        "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "build_seconds": build_seconds,
        "step_seconds": seconds / args.steps as f64,
        "train_tokens_per_second": tokens as f64 / seconds,
        "losses": reports.iter().map(|r| r.loss).collect::<Vec<_>>(),
        "flops_per_step": flops.total(),
        "flops_terms": {
            "linear_forward": flops.linear_forward,
            "linear_backward": flops.linear_backward,
            "lora": flops.lora,
            "attention": flops.attention,
            "lm_head": flops.lm_head,
        },
        "flops_formula": FORMULA,
        "scored_tokens_per_step": scored_per_step,
        "achieved_flops_per_second": achieved,
        "gemm": {
            "dtype": format!("{:?}", gemm.dtype).to_lowercase(),
            "size": gemm.size,
            "flops_per_second": gemm.flops_per_second,
        },
        "mfu": achieved / gemm.flops_per_second,
        "memory_measure": meter.measure(),
        "peak_memory_bytes": train_peak.used_bytes,
        "peak_memory_reserved_bytes": train_peak.reserved_bytes,
        "build_peak_memory_bytes": build_peak.used_bytes,
    }))
}

/// Deterministic ids in `[3, vocab)` (0–2 are left to special tokens), spread over the
/// vocabulary as `benches/gpu/torch_lora.py` spreads them.
fn token_ids(row: usize, len: usize, salt: usize, vocab: usize) -> Vec<u32> {
    let span = vocab - 3;
    (0..len)
        .map(|j| {
            let id = (row * 7919 + j * 104_729 + salt) % span + 3;
            u32::try_from(id).expect("a vocabulary fits u32 ids")
        })
        .collect()
}

#[cfg(feature = "cuda")]
fn cuda_device() -> anyhow::Result<Device> {
    Device::new_cuda(0).context("opening CUDA device 0")
}

#[cfg(not(feature = "cuda"))]
fn cuda_device() -> anyhow::Result<Device> {
    anyhow::bail!(
        "--device cuda: this rapha-gpu was built without CUDA (`scripts/build-cuda.sh` builds it with)"
    )
}

/// `cpu`, or the GPU's name as the driver gives it.
fn device_name(device: &Device) -> anyhow::Result<String> {
    match device {
        Device::Cpu => Ok("cpu".to_owned()),
        #[cfg(feature = "cuda")]
        Device::Cuda(cuda) => cuda
            .cuda_stream()
            .context()
            .name()
            .context("asking the GPU's name"),
        other => Ok(format!("{:?}", other.location())),
    }
}
