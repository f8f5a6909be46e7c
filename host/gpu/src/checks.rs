//! Checks of the GPU against the CPU, run by `rapha-gpu selftest` where a GPU is (a `cuda`
//! binary cannot start without the driver's `libcuda.so.1`).
//!
//! Each check draws its inputs from a seed, runs the same computation on the CPU in f32 (the
//! engine's reference path, itself tested against transformers, bitsandbytes' numbers and
//! finite differences) and on the CUDA device, and returns a [`Report`]: what was measured,
//! the tolerance, and a line saying what was compared. Relative errors are
//! `‖gpu − cpu‖ / ‖cpu‖` over all compared values, in f64. Give each run a fresh seed: the GPU
//! must compute the same function on any input.
//!
//! | check | compares | tolerance |
//! | --- | --- | --- |
//! | [`nf4_dequant_bit_exact`] | the dequantization kernel, f32 and bf16, against [`Nf4Matrix::dequantize`], over a poisoned buffer | 0 differing values |
//! | [`dropout_mask_bit_exact`] | LoRA dropout masks drawn on the GPU against the CPU's | 0 differing values |
//! | [`attention_softmax_cpu_vs_cuda`] | the fused softmax of attention and its gradient, f32 and bf16, against candle's composite on the CPU | 1e-2 |
//! | [`frozen_linear_cpu_vs_cuda`] | one frozen layer's forward and input gradient, NF4 and full, f32 and bf16 inputs | 1e-2 |
//! | [`logits_cpu_vs_cuda`] | a seeded two-layer model's logits, padded batch and cached decoding, NF4 and full | 2e-2 |
//! | [`lora_grads_cpu_vs_cuda`] | the loss and every LoRA gradient of a training step, with dropout, plain and checkpointed | 5e-2 |

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Context, Result, anyhow, bail};
use candle_core::{DType, Device, Tensor};
use half::bf16;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rapha_engine::batch::{Batch, Example};
use rapha_engine::config::{Architecture, Config, RopeScaling};
use rapha_engine::lora::{LoraAdapter, LoraConfig, Mode, Target};
use rapha_engine::model::{KvCache, Model};
use rapha_engine::train::{TrainConfig, Trainer};
use rapha_engine::weights::{Weights, expected_shapes};
use rapha_kernels::cuda::{Nf4Device, dequantize_nf4};
use rapha_kernels::nf4::Nf4Matrix;
use rapha_kernels::sample::standard_normal_from;
use rapha_kernels::softmax::masked_softmax;
use rapha_kernels::{FrozenLinear, Quantization};

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The check's name (its function's).
    pub check: &'static str,
    /// The error measured, or a count of differing values.
    pub measured: f64,
    /// The largest `measured` that passes.
    pub tolerance: f64,
    /// What was compared, and the parts of the measurement.
    pub detail: String,
}

impl Report {
    /// Whether `measured` is within `tolerance` (a NaN never is).
    pub fn passed(&self) -> bool {
        self.measured <= self.tolerance
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {:.3e} (tolerance {:.1e}): {}",
            if self.passed() { "pass" } else { "FAIL" },
            self.check,
            self.measured,
            self.tolerance,
            self.detail
        )
    }
}

/// A check: the CUDA device and a seed in, a report out.
pub type Check = fn(&Device, u64) -> Result<Report>;

/// Every check, by name, in the order to run them (cheapest and most basic first).
pub const ALL: [(&str, Check); 6] = [
    ("nf4_dequant_bit_exact", nf4_dequant_bit_exact),
    ("dropout_mask_bit_exact", dropout_mask_bit_exact),
    (
        "attention_softmax_cpu_vs_cuda",
        attention_softmax_cpu_vs_cuda,
    ),
    ("frozen_linear_cpu_vs_cuda", frozen_linear_cpu_vs_cuda),
    ("logits_cpu_vs_cuda", logits_cpu_vs_cuda),
    ("lora_grads_cpu_vs_cuda", lora_grads_cpu_vs_cuda),
];

/// The NF4 kernel against the CPU's dequantization: every f32 value bit for bit, every bf16
/// value the CPU's f32 rounded to nearest even. Shapes cover a row of whole blocks, blocks
/// straddling rows, sizes that are not a multiple of the 8 values a thread takes, and more
/// than 256 blocks (several second-level scales); values span five decades of scale, with
/// a block of zeros. The output buffer is filled with NaN first, so an element the kernel
/// skips counts as a difference; the tensor path (`dequantize_nf4`) is compared too.
pub fn nf4_dequant_bit_exact(device: &Device, seed: u64) -> Result<Report> {
    require_cuda(device)?;
    const SHAPES: [(usize, usize); 6] =
        [(64, 64), (5, 7), (3, 333), (37, 80), (1, 1), (1024, 2880)];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut elements, mut f32_differ, mut bf16_differ) = (0, 0, 0);
    for (rows, cols) in SHAPES {
        let mut values = Vec::with_capacity(rows * cols);
        for _ in 0..rows {
            let scale = 10f32.powf(rng.random::<f32>() * 5.0 - 3.0);
            values.extend(standard_normal_from(&mut rng, cols).into_iter().map(|v| v * scale));
        }
        if values.len() >= 128 {
            values[64..128].fill(0.0);
        }
        let matrix = Nf4Matrix::quantize(&values, rows, cols);
        let cpu = matrix.dequantize();
        let context = || format!("nf4 dequantize [{rows}, {cols}] on the gpu");
        let gpu = Nf4Device::upload(&matrix, device).with_context(context)?;
        let f32s = gpu
            .dequantize_over(f32::from_bits(u32::MAX))
            .with_context(context)?;
        let bf16s = gpu
            .dequantize_over(bf16::from_bits(u16::MAX))
            .with_context(context)?;
        let tensor = dequantize_nf4(&matrix, device, DType::F32)?;
        let tensor = to_host_f32(&tensor)?;
        elements += cpu.len();
        f32_differ += cpu
            .iter()
            .zip(&f32s)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        f32_differ += cpu
            .iter()
            .zip(&tensor)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        bf16_differ += cpu
            .iter()
            .zip(&bf16s)
            .filter(|(a, b)| bf16::from_f32(**a).to_bits() != b.to_bits())
            .count();
    }
    Ok(Report {
        check: "nf4_dequant_bit_exact",
        measured: (f32_differ + bf16_differ) as f64,
        tolerance: 0.0,
        detail: format!(
            "{elements} values in {} shapes: {f32_differ} f32 values (kernel and tensor) and {bf16_differ} bf16 values differ from the cpu's",
            SHAPES.len()
        ),
    })
}

/// LoRA dropout masks drawn by the GPU's kernel against the CPU's, value for value: sizes
/// below one ChaCha block, not a multiple of it, and over several streams of
/// dropout chunk (2¹⁴) elements; probabilities from 0.05 to 0.9.
pub fn dropout_mask_bit_exact(device: &Device, seed: u64) -> Result<Report> {
    require_cuda(device)?;
    let (mut elements, mut differ) = (0, 0);
    let shapes: [&[usize]; 4] = [&[3, 5], &[7, 1000], &[4, 1024, 64], &[2, 3, 4099]];
    for (i, shape) in shapes.into_iter().enumerate() {
        let p = [0.05, 0.1, 0.5, 0.9][i];
        let name = format!("model.layers.{i}.mlp.up_proj");
        let adapter = LoraAdapter::new(8, 8, &tiny_lora(p), &name, seed, &Device::Cpu)?;
        let mode = Mode::Train { seed, step: seed % 1000, micro_batch: i as u64 };
        let mask = adapter.dropout_for(&mode).context("a training mode with dropout")?;
        let draw = |on: &Device| mask.tensor(&shape.into(), on).with_context(|| format!("mask of {shape:?}"));
        let cpu = to_host_f32(&draw(&Device::Cpu)?)?;
        let gpu = to_host_f32(&draw(device)?)?;
        elements += cpu.len();
        differ += cpu.len().abs_diff(gpu.len());
        differ += cpu
            .iter()
            .zip(&gpu)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
    }
    Ok(Report {
        check: "dropout_mask_bit_exact",
        measured: differ as f64,
        tolerance: 0.0,
        detail: format!(
            "{elements} mask values in {} shapes: {differ} differ from the cpu's",
            shapes.len()
        ),
    })
}

/// The fused softmax of attention on the GPU against the CPU's composite of candle ops
/// (`softmax(scale · scores + mask)` in f32): the probabilities and the scores' gradient of
/// `Σ c ⊙ probs`, for f32 and bf16 scores, with a per-row padding mask that hides every key
/// from one query (a uniform row), a mask shared by the batch, and none; rows shorter and
/// longer than the kernel's 256 threads.
pub fn attention_softmax_cpu_vs_cuda(device: &Device, seed: u64) -> Result<Report> {
    require_cuda(device)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x736f_6674);
    let mut worst: f64 = 0.0;
    let mut parts = Vec::new();
    for (b, heads, t, t_kv, mask_rows) in [
        (2, 3, 5, 37, Some(2)),
        (1, 2, 4, 700, Some(1)),
        (2, 2, 3, 9, None),
    ] {
        let n = b * heads * t * t_kv;
        let scores = standard_normal_from(&mut rng, n)
            .into_iter()
            .map(|v| 2.0 * v)
            .collect::<Vec<_>>();
        let c = standard_normal_from(&mut rng, n);
        let mask: Option<Vec<f32>> = mask_rows.map(|rows| {
            (0..rows * t * t_kv)
                .map(|i| {
                    let (row, query, key) = (i / (t * t_kv), i / t_kv % t, i % t_kv);
                    let hidden =
                        key > query + t_kv - t || (row == 0 && query == 0) || (key % 5 == 1);
                    if hidden { f32::MIN } else { 0.0 }
                })
                .collect()
        });
        let scale = 0.125;
        // Probabilities and the gradient of Σ c ⊙ probs with respect to the scores.
        let run = |dev: &Device, dtype: DType, scores: &[f32], c: &[f32]| {
            let context = || format!("attention softmax on {:?}", dev.location());
            let scores = Tensor::from_slice(scores, (b, heads, t, t_kv), dev)
                .and_then(|s| s.to_dtype(dtype))
                .and_then(|s| candle_core::Var::from_tensor(&s))
                .with_context(context)?;
            let mask = mask
                .as_ref()
                .map(|m| Tensor::from_slice(m, (m.len() / (t * t_kv), 1, t, t_kv), dev))
                .transpose()
                .with_context(context)?;
            let probs = masked_softmax(scores.as_tensor(), mask.as_ref(), scale)
                .with_context(context)?;
            let weights = Tensor::from_slice(c, (b, heads, t, t_kv), dev)
                .and_then(|w| w.to_dtype(dtype))
                .with_context(context)?;
            let grads = probs
                .mul(&weights)
                .and_then(|p| p.to_dtype(DType::F32)?.sum_all())
                .and_then(|l| l.backward())
                .with_context(context)?;
            let grad = grads
                .get(scores.as_tensor())
                .ok_or_else(|| anyhow!("{}: no gradient reached the scores", context()))?;
            Ok::<_, anyhow::Error>((to_host_f32(&probs)?, to_host_f32(grad)?))
        };
        for dtype in [DType::F32, DType::BF16] {
            // The CPU's reference in f32 from the inputs as the GPU sees them.
            let round = |values: &[f32]| -> Vec<f32> {
                match dtype {
                    DType::BF16 => values.iter().map(|&v| bf16::from_f32(v).to_f32()).collect(),
                    _ => values.to_vec(),
                }
            };
            let (want_p, want_g) = run(&Device::Cpu, DType::F32, &round(&scores), &round(&c))?;
            let (p, g) = run(device, dtype, &scores, &c)?;
            let (e_p, e_g) = (relative_error(&p, &want_p), relative_error(&g, &want_g));
            worst = worst.max(e_p).max(e_g);
            parts.push(format!(
                "[{b}, {heads}, {t}, {t_kv}] {dtype:?}: probs {e_p:.1e}, grad {e_g:.1e}"
            ));
        }
    }
    Ok(Report {
        check: "attention_softmax_cpu_vs_cuda",
        measured: worst,
        tolerance: 1e-2,
        detail: parts.join("; "),
    })
}

/// One frozen layer (with bias) on the GPU against the CPU: the forward pass and the input
/// gradient `g · W`, for an NF4 and a full-precision weight, with f32 inputs (NF4 then
/// computes in f32 on the GPU, full weights in bf16) and bf16 inputs. A wrong operand layout
/// for cuBLAS gives an error near 1; bf16 rounding of inputs and weights stays near 3e-3.
pub fn frozen_linear_cpu_vs_cuda(device: &Device, seed: u64) -> Result<Report> {
    require_cuda(device)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut worst: f64 = 0.0;
    let mut parts = Vec::new();
    for (out, inp, m) in [(96, 128, 37), (200, 192, 5)] {
        let w = standard_normal_from(&mut rng, out * inp);
        let b = standard_normal_from(&mut rng, out);
        let x = standard_normal_from(&mut rng, m * inp);
        let g = standard_normal_from(&mut rng, m * out);
        for quantization in [Quantization::Nf4, Quantization::None] {
            let layer = |dev: &Device| -> Result<FrozenLinear> {
                Ok(FrozenLinear::new(
                    Tensor::from_slice(&w, (out, inp), dev).with_context(|| "weight".to_owned())?,
                    Some(Tensor::from_slice(&b, out, dev).with_context(|| "bias".to_owned())?),
                    quantization,
                )?)
            };
            let (cpu, gpu) = (layer(&Device::Cpu)?, layer(device)?);
            let host = |v: &[f32], shape: (usize, usize)| {
                Tensor::from_slice(v, shape, &Device::Cpu).with_context(|| "input".to_owned())
            };
            let want_y = to_host_f32(&cpu.forward(&host(&x, (m, inp))?)?)?;
            let want_g = to_host_f32(&cpu.backward_input(&host(&g, (m, out))?)?)?;
            for dtype in [DType::F32, DType::BF16] {
                let on_gpu = |v: &[f32], shape: (usize, usize)| {
                    Tensor::from_slice(v, shape, device)
                        .and_then(|t| t.to_dtype(dtype))
                        .with_context(|| "gpu input".to_owned())
                };
                let y = to_host_f32(&gpu.forward(&on_gpu(&x, (m, inp))?)?)?;
                let grad = to_host_f32(&gpu.backward_input(&on_gpu(&g, (m, out))?)?)?;
                let (e_y, e_g) = (relative_error(&y, &want_y), relative_error(&grad, &want_g));
                worst = worst.max(e_y).max(e_g);
                parts.push(format!(
                    "{quantization} [{out}, {inp}] {dtype:?}: y {e_y:.1e}, g·W {e_g:.1e}"
                ));
            }
        }
    }
    Ok(Report {
        check: "frozen_linear_cpu_vs_cuda",
        measured: worst,
        tolerance: 1e-2,
        detail: parts.join("; "),
    })
}

/// A seeded two-layer Llama (q/k/v biases, grouped-query attention, LoRA with non-zero `B`
/// on every projection) on the GPU in bf16 against the CPU in f32: the logits of a batch of
/// two rows, one left-padded (compared on real tokens only), and the logits of one token
/// decoded after the others with the KV cache. For NF4 and full-precision bases.
pub fn logits_cpu_vs_cuda(device: &Device, seed: u64) -> Result<Report> {
    require_cuda(device)?;
    let lora = tiny_lora(0.0);
    let (b, t, pad) = (2, 20, 6);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6c6f_6769_7473);
    let config = tiny_config();
    let ids: Vec<u32> = (0..b * t)
        .map(|_| rng.random_range(0..config.vocab_size as u32))
        .collect();
    // Row 1 is left-padded: its first `pad` keys are masked and its positions start after them.
    let mut key_mask = vec![1u8; b * t];
    key_mask[t..t + pad].fill(0);
    let positions: Vec<u32> = (0..b * t)
        .map(|i| {
            let (row, j) = (i / t, i % t);
            if row == 1 {
                j.saturating_sub(pad) as u32
            } else {
                j as u32
            }
        })
        .collect();
    let real: Vec<usize> = (0..b * t).filter(|&i| key_mask[i] == 1).collect();
    let mut worst: f64 = 0.0;
    let mut parts = Vec::new();
    for quantization in [Quantization::Nf4, Quantization::None] {
        let mut logits = Vec::new();
        let mut decoded = Vec::new();
        for dev in [&Device::Cpu, device] {
            let model = tiny_model(&config, &lora, quantization, seed, dev)?;
            let tensor = |v: &[u32], shape: (usize, usize)| {
                Tensor::from_slice(v, shape, dev).with_context(|| "ids".to_owned())
            };
            let mask =
                Tensor::from_slice(&key_mask, (b, t), dev).with_context(|| "mask".to_owned())?;
            let hidden = model.forward(
                &tensor(&ids, (b, t))?,
                &tensor(&positions, (b, t))?,
                Some(&mask),
                None,
                &Mode::Eval,
            )?;
            let all = to_host_f32(&model.lm_head(&hidden)?)?;
            let vocab = config.vocab_size;
            logits.push(
                real.iter()
                    .flat_map(|&i| all[i * vocab..(i + 1) * vocab].to_vec())
                    .collect::<Vec<_>>(),
            );
            // Row 0 again: its first t - 1 tokens fill a cache, then the last token alone.
            let mut cache = KvCache::new(config.num_hidden_layers);
            let row: Vec<u32> = ids[..t].to_vec();
            let pos: Vec<u32> = (0..t as u32).collect();
            model.forward(
                &tensor(&row[..t - 1], (1, t - 1))?,
                &tensor(&pos[..t - 1], (1, t - 1))?,
                None,
                Some(&mut cache),
                &Mode::Eval,
            )?;
            let last = model.forward(
                &tensor(&row[t - 1..], (1, 1))?,
                &tensor(&pos[t - 1..], (1, 1))?,
                None,
                Some(&mut cache),
                &Mode::Eval,
            )?;
            decoded.push(to_host_f32(&model.lm_head(&last)?)?);
        }
        let e_batch = relative_error(&logits[1], &logits[0]);
        let e_cached = relative_error(&decoded[1], &decoded[0]);
        worst = worst.max(e_batch).max(e_cached);
        parts.push(format!(
            "{quantization}: padded batch {e_batch:.1e}, cached decoding {e_cached:.1e}"
        ));
    }
    Ok(Report {
        check: "logits_cpu_vs_cuda",
        measured: worst,
        tolerance: 2e-2,
        detail: parts.join("; "),
    })
}

/// The loss and every LoRA gradient of one training step (two micro-batches with padding,
/// dropout 0.1 with the same masks on both devices, the loss in chunks) on the GPU against
/// the CPU, on the NF4 model of [`logits_cpu_vs_cuda`]: the GPU both without and with
/// gradient checkpointing, the CPU without. Measured: the relative error of all gradients
/// together; the loss's and the worst single tensor's are in the detail.
pub fn lora_grads_cpu_vs_cuda(device: &Device, seed: u64) -> Result<Report> {
    require_cuda(device)?;
    let lora = tiny_lora(0.1);
    let config = tiny_config();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6772_6164);
    let examples: Vec<Example> = (0..4)
        .map(|i| {
            let mut draw = |n: usize| -> Vec<u32> {
                (0..n)
                    .map(|_| rng.random_range(3..config.vocab_size as u32))
                    .collect()
            };
            Example {
                prompt: draw(6 + 5 * i),
                completion: draw(4 + 3 * i),
            }
        })
        .collect();
    let rows: Vec<&Example> = examples.iter().collect();
    let step = |dev: &Device, checkpointing: bool| -> Result<(f64, NamedGradients)> {
        let model = tiny_model(&config, &lora, Quantization::Nf4, seed, dev)?;
        let train = TrainConfig {
            micro_batch_size: 2,
            max_seq_len: 64,
            gradient_checkpointing: checkpointing,
            loss_chunk_tokens: Some(16),
            seed,
            ..TrainConfig::default()
        };
        let trainer = Trainer::new(&model, &lora, examples.clone(), Vec::new(), train)?;
        let batches = [
            Batch::new(&rows[..2], 64, 0, dev)?,
            Batch::new(&rows[2..], 64, 0, dev)?,
        ];
        let scored = batches.iter().map(Batch::target_count).sum();
        let (loss, grads) = trainer.loss_and_gradients(&batches, 0, scored)?;
        let grads = trainer
            .param_names()
            .zip(&grads)
            .map(|(name, g)| Ok((name.to_owned(), to_host_f32(g)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok((loss, grads))
    };
    let (cpu_loss, cpu_grads) = step(&Device::Cpu, false)?;
    let mut worst: f64 = 0.0;
    let mut parts = Vec::new();
    for checkpointing in [false, true] {
        let (loss, grads) = step(device, checkpointing)?;
        let all =
            |g: &[(String, Vec<f32>)]| g.iter().flat_map(|(_, v)| v.clone()).collect::<Vec<_>>();
        let global = relative_error(&all(&grads), &all(&cpu_grads));
        let (name, tensor_error) = grads
            .iter()
            .zip(&cpu_grads)
            .map(|((name, g), (_, want))| (name.as_str(), relative_error(g, want)))
            .fold(("", 0.0f64), |acc, (name, e)| {
                if e > acc.1 || e.is_nan() {
                    (name, e)
                } else {
                    acc
                }
            });
        let loss_error = (loss - cpu_loss).abs() / cpu_loss.abs();
        worst = worst.max(global).max(loss_error);
        parts.push(format!(
            "checkpointing {checkpointing}: gradients {global:.1e} (worst `{name}` {tensor_error:.1e}), loss {loss:.6} vs {cpu_loss:.6}"
        ));
    }
    Ok(Report {
        check: "lora_grads_cpu_vs_cuda",
        measured: worst,
        tolerance: 5e-2,
        detail: parts.join("; "),
    })
}

/// Each trainable tensor's name and gradient, on the host.
type NamedGradients = Vec<(String, Vec<f32>)>;

fn require_cuda(device: &Device) -> Result<()> {
    if !device.is_cuda() {
        bail!("device: expected a cuda device, found {:?}", device.location());
    }
    Ok(())
}

/// A tensor's values in f32 on the host, flattened.
fn to_host_f32(tensor: &Tensor) -> Result<Vec<f32>> {
    tensor
        .to_dtype(DType::F32)
        .and_then(|t| t.flatten_all())
        .and_then(|t| t.to_vec1::<f32>())
        .with_context(|| format!("copy {:?} to the host", tensor.shape()))
}

/// `‖got − want‖ / ‖want‖` in f64 (NaN when the lengths differ or anything is NaN).
fn relative_error(got: &[f32], want: &[f32]) -> f64 {
    if got.len() != want.len() {
        return f64::NAN;
    }
    let (diff, norm) = got.iter().zip(want).fold((0.0, 0.0), |(d, n), (&g, &w)| {
        let (g, w) = (f64::from(g), f64::from(w));
        (d + (g - w) * (g - w), n + w * w)
    });
    (diff / norm).sqrt()
}

/// Two layers of Llama shape, with Qwen2's q/k/v biases and grouped-query attention;
/// dimensions multiples of 64 as in real models.
fn tiny_config() -> Config {
    Config {
        architecture: Architecture::Qwen2,
        vocab_size: 384,
        hidden_size: 256,
        intermediate_size: 512,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 64,
        rms_norm_eps: 1e-6,
        rope_theta: 10_000.0,
        rope_scaling: RopeScaling::Default,
        max_position_embeddings: 128,
        tie_word_embeddings: true,
        qkv_bias: true,
        o_bias: false,
        sliding_window: None,
        bos_token_id: None,
        eos_token_ids: vec![2],
    }
}

fn tiny_lora(dropout: f32) -> LoraConfig {
    LoraConfig {
        rank: 8,
        alpha: 16.0,
        dropout,
        targets: Target::ALL.to_vec(),
        rslora: false,
    }
}

/// The model of `config` on `device` with weights drawn from `seed` (projections
/// N(0, 1/in), biases and embeddings N(0, 1) scaled, norms near 1) and LoRA `B` drawn too,
/// so the same seed gives the same model on every device.
fn tiny_model(
    config: &Config,
    lora: &LoraConfig,
    quantization: Quantization,
    seed: u64,
    device: &Device,
) -> Result<Model> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tensors = BTreeMap::new();
    for (name, shape) in expected_shapes(config) {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = if name.ends_with("norm.weight") {
            (0..n)
                .map(|_| 1.0 + 0.1 * (rng.random::<f32>() * 2.0 - 1.0))
                .collect()
        } else {
            let scale = match shape.as_slice() {
                [_, fan_in] if !name.contains("embed") => 1.0 / (*fan_in as f32).sqrt(),
                _ => 0.5,
            };
            standard_normal_from(&mut rng, n).into_iter().map(|v| v * scale).collect()
        };
        let tensor =
            Tensor::from_vec(values, shape, device).with_context(|| format!("`{name}`"))?;
        tensors.insert(name, tensor);
    }
    let model = Model::new(
        config.clone(),
        Weights::new("selftest".into(), tensors),
        quantization,
        Some(lora),
        seed,
    )?;
    for (name, adapter) in model.adapters() {
        let dims = adapter.b().dims().to_vec();
        let values: Vec<f32> = standard_normal_from(&mut rng, dims.iter().product())
            .into_iter()
            .map(|v| 0.05 * v)
            .collect();
        Tensor::from_vec(values, dims, device)
            .and_then(|b| adapter.b().set(&b))
            .with_context(|| format!("set `{name}.lora_B`"))?;
    }
    Ok(model)
}
