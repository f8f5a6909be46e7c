//! LoRA adapters (Hu et al. 2021) with PEFT's semantics, over a frozen base layer.
//!
//! `y = base(x) + scale · B · A · dropout(x)` with `A` [r, in], `B` [out, r] and
//! `scale = alpha / r`, or `alpha / √r` with rsLoRA (Kalajdzievski 2023) — as PEFT's
//! `LoraLayer.update_layer` sets `scaling`. `A` starts Kaiming-uniform as torch's
//! `kaiming_uniform_(a=√5)` gives it (`U(-1/√in, 1/√in)`), `B` at zero, so a fresh adapter
//! leaves the base model unchanged. `A` and `B` are the only trainable tensors ([`Var`]s).
//!
//! Randomness is derived, never drawn from a global generator: the initial `A` from
//! (seed, layer name), each dropout mask from (seed, step, micro-batch, layer name). A run is
//! thus reproducible, and recomputing a layer for gradient checkpointing sees the same mask.

use std::fmt;
use std::str::FromStr;

use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{CandleContext, Error, Result};
use rapha_kernels::ops::{self, LoraFactors};
use rapha_kernels::{DropoutMask, FrozenLinear};

/// A projection LoRA can adapt, named as PEFT's `target_modules` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// `self_attn.q_proj`
    QProj,
    /// `self_attn.k_proj`
    KProj,
    /// `self_attn.v_proj`
    VProj,
    /// `self_attn.o_proj`
    OProj,
    /// `mlp.gate_proj`
    GateProj,
    /// `mlp.up_proj`
    UpProj,
    /// `mlp.down_proj`
    DownProj,
}

impl Target {
    /// Every target, in the order of a decoder layer.
    pub const ALL: [Self; 7] = [
        Self::QProj,
        Self::KProj,
        Self::VProj,
        Self::OProj,
        Self::GateProj,
        Self::UpProj,
        Self::DownProj,
    ];

    /// PEFT's module name: `q_proj`, `k_proj`, …
    pub fn peft_name(self) -> &'static str {
        match self {
            Self::QProj => "q_proj",
            Self::KProj => "k_proj",
            Self::VProj => "v_proj",
            Self::OProj => "o_proj",
            Self::GateProj => "gate_proj",
            Self::UpProj => "up_proj",
            Self::DownProj => "down_proj",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.peft_name())
    }
}

impl FromStr for Target {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.peft_name() == name)
            .ok_or_else(|| Error::UnknownTarget {
                name: name.to_owned(),
            })
    }
}

/// LoRA hyper-parameters, as in PEFT's `LoraConfig`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraConfig {
    /// Rank `r` of `A` [r, in] and `B` [out, r].
    pub rank: usize,
    /// `lora_alpha`: the update is scaled by `alpha / r` (or `alpha / √r` with rsLoRA).
    pub alpha: f64,
    /// `lora_dropout`: probability of zeroing an input of the LoRA branch in training.
    pub dropout: f32,
    /// `target_modules`: the projections that get an adapter.
    pub targets: Vec<Target>,
    /// `use_rslora`: scale by `alpha / √r` (rank-stabilised LoRA).
    pub rslora: bool,
}

impl LoraConfig {
    /// The factor applied to `B · A`: PEFT's `scaling`.
    pub fn scale(&self) -> f64 {
        if self.rslora {
            self.alpha / (self.rank as f64).sqrt()
        } else {
            self.alpha / self.rank as f64
        }
    }

    /// Whether `target` gets an adapter.
    pub fn targets(&self, target: Target) -> bool {
        self.targets.contains(&target)
    }

    /// Check the values PEFT would also refuse: a zero rank, a dropout outside [0, 1).
    pub fn validate(&self) -> Result<()> {
        if self.rank == 0 {
            return Err(Error::LoraConfig {
                field: "rank",
                expected: "a positive integer",
                found: self.rank.to_string(),
            });
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::LoraConfig {
                field: "dropout",
                expected: "a probability in [0, 1)",
                found: self.dropout.to_string(),
            });
        }
        if !self.alpha.is_finite() {
            return Err(Error::LoraConfig {
                field: "alpha",
                expected: "a finite number",
                found: self.alpha.to_string(),
            });
        }
        Ok(())
    }
}

/// Whether a forward pass trains (dropout on) or evaluates, and which dropout masks it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No dropout and no gradient to the adapter (A and B enter detached): evaluation,
    /// generation, merging.
    Eval,
    /// Dropout on the LoRA branch, with masks derived from these and the layer name. Give
    /// each micro-batch its own (`step`, `micro_batch`), and recompute a layer with the same
    /// ones.
    Train {
        /// The run's seed.
        seed: u64,
        /// The optimizer step.
        step: u64,
        /// The micro-batch within the step (gradient accumulation).
        micro_batch: u64,
    },
}

/// The trainable pair `A`, `B` of one adapted layer.
#[derive(Debug, Clone)]
pub struct LoraAdapter {
    name: String,
    a: Var,
    b: Var,
    scale: f64,
    dropout: f32,
}

impl LoraAdapter {
    /// A fresh adapter for the layer `name` (e.g. `model.layers.3.self_attn.q_proj`):
    /// `A` Kaiming-uniform from (`seed`, `name`), `B` zero.
    pub fn new(
        in_features: usize,
        out_features: usize,
        config: &LoraConfig,
        name: &str,
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        config.validate()?;
        let rank = config.rank;
        // torch's kaiming_uniform_(a=√5) on a [r, in] weight: gain = √(2 / (1 + 5)),
        // bound = gain · √(3 / fan_in) = 1 / √in.
        let bound = 1.0 / (in_features as f64).sqrt();
        let mut rng = derived_rng(&[b"lora-a-init", &seed.to_le_bytes(), name.as_bytes()]);
        let values: Vec<f32> = (0..rank * in_features)
            .map(|_| ((rng.random::<f64>() * 2.0 - 1.0) * bound) as f32)
            .collect();
        let context = || format!("initialise adapter `{name}`");
        let a = Var::from_vec(values, (rank, in_features), device).context_with(context)?;
        let b = Var::zeros((out_features, rank), DType::F32, device).context_with(context)?;
        Ok(Self {
            name: name.to_owned(),
            a,
            b,
            scale: config.scale(),
            dropout: config.dropout,
        })
    }

    /// An adapter from existing weights (a loaded PEFT adapter): `a` [r, in], `b` [out, r],
    /// copied into new [`Var`]s. The rank is `a`'s first dimension; `config` gives alpha,
    /// rsLoRA and dropout.
    pub fn from_weights(name: &str, a: &Tensor, b: &Tensor, config: &LoraConfig) -> Result<Self> {
        let shape_error =
            |tensor: &'static str, expected: String, found: &[usize]| Error::AdapterShape {
                name: name.to_owned(),
                tensor,
                expected,
                found: format!("{found:?}"),
            };
        let &[rank, _] = a.dims() else {
            return Err(shape_error("lora_A", "[r, in]".to_owned(), a.dims()));
        };
        if b.rank() != 2 || b.dims()[1] != rank {
            return Err(shape_error("lora_B", format!("[out, {rank}]"), b.dims()));
        }
        let config = LoraConfig {
            rank,
            ..config.clone()
        };
        config.validate()?;
        let context = || format!("load adapter `{name}`");
        // Trained in f32 (f64 is kept, for exact gradient checks); a bf16 or f16 file is
        // widened.
        let trainable = |t: &Tensor| match t.dtype() {
            DType::F32 | DType::F64 => Var::from_tensor(&t.detach()),
            _ => Var::from_tensor(&t.to_dtype(DType::F32)?),
        };
        let a = trainable(a).context_with(context)?;
        let b = trainable(b).context_with(context)?;
        Ok(Self {
            name: name.to_owned(),
            a,
            b,
            scale: config.scale(),
            dropout: config.dropout,
        })
    }

    /// The layer's name, without PEFT's `base_model.model.` prefix.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `A` [r, in] (PEFT's `lora_A.weight`).
    pub fn a(&self) -> &Var {
        &self.a
    }

    /// `B` [out, r] (PEFT's `lora_B.weight`).
    pub fn b(&self) -> &Var {
        &self.b
    }

    /// The factor applied to `B · A`.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The rank `r`.
    pub fn rank(&self) -> usize {
        self.a.dims()[0]
    }

    /// The dropout probability of the LoRA branch's input.
    pub fn dropout(&self) -> f32 {
        self.dropout
    }

    /// The adapter's contribution `scale · B · A · dropout(x)`, x [.., in] → [.., out], in
    /// the adapter's dtype (f32); see [`rapha_kernels::ops::lora_delta`].
    pub fn forward(&self, x: &Tensor, mode: &Mode) -> Result<Tensor> {
        let run = || -> candle_core::Result<Tensor> {
            let dims = x.dims();
            let in_features = dims[dims.len() - 1];
            let x2 = x.reshape((x.elem_count() / in_features.max(1), in_features))?;
            let y = ops::lora_delta(&x2, &self.factors(mode))?;
            let mut out_dims = dims[..dims.len() - 1].to_vec();
            out_dims.push(self.b.dims()[0]);
            y.reshape(out_dims)
        };
        run().context_with(|| format!("adapter `{}`", self.name))
    }

    /// The factors as a forward pass in `mode` applies them. In evaluation nothing needs a
    /// gradient: detached A and B keep candle from recording a graph, so every activation is
    /// freed as soon as the next op has used it (a recorded graph would hold them all until
    /// the output is dropped).
    fn factors(&self, mode: &Mode) -> LoraFactors {
        let (a, b) = match mode {
            Mode::Eval => (self.a.as_tensor().detach(), self.b.as_tensor().detach()),
            Mode::Train { .. } => (self.a.as_tensor().clone(), self.b.as_tensor().clone()),
        };
        LoraFactors { a, b, scale: self.scale, dropout: self.dropout_for(mode) }
    }

    /// The dropout mask of a training forward pass, or `None` when this adapter has no
    /// dropout or `mode` is evaluation.
    pub fn dropout_for(&self, mode: &Mode) -> Option<DropoutMask> {
        match *mode {
            Mode::Train { seed, step, micro_batch } if self.dropout > 0.0 => {
                Some(self.mask_key(seed, step, micro_batch))
            }
            _ => None,
        }
    }

    /// The key of this adapter's dropout mask in micro-batch `micro_batch` of step `step`:
    /// a function of the run's seed, the counters and the adapter's name.
    fn mask_key(&self, seed: u64, step: u64, micro_batch: u64) -> DropoutMask {
        let key = [
            b"lora-dropout".as_slice(),
            &seed.to_le_bytes(),
            &step.to_le_bytes(),
            &micro_batch.to_le_bytes(),
            self.name.as_bytes(),
        ];
        DropoutMask::new(f64::from(self.dropout), derived_seed(&key))
    }
}

/// The SHA-256 of `parts`, each length-prefixed, so no two distinct keys collide by
/// concatenation.
fn derived_seed(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// A generator seeded by [`derived_seed`] of `parts`.
fn derived_rng(parts: &[&[u8]]) -> ChaCha8Rng {
    ChaCha8Rng::from_seed(derived_seed(parts))
}

/// A frozen layer with an optional adapter: `base(x) + adapter(x)`.
#[derive(Debug, Clone)]
pub struct LoraLinear {
    base: FrozenLinear,
    adapter: Option<LoraAdapter>,
}

impl LoraLinear {
    /// Wrap `base`, adapted by `adapter` when given (its shape must match the base's).
    pub fn new(base: FrozenLinear, adapter: Option<LoraAdapter>) -> Result<Self> {
        let mut layer = Self {
            base,
            adapter: None,
        };
        layer.set_adapter(adapter)?;
        Ok(layer)
    }

    /// Replace the adapter (e.g. with one loaded from a file), checking its shape.
    pub fn set_adapter(&mut self, adapter: Option<LoraAdapter>) -> Result<()> {
        if let Some(adapter) = &adapter {
            let expected_a = (adapter.rank(), self.base.in_features());
            let expected_b = (self.base.out_features(), adapter.rank());
            let found_a = adapter.a.dims2().ok();
            let found_b = adapter.b.dims2().ok();
            if found_a != Some(expected_a) || found_b != Some(expected_b) {
                return Err(Error::AdapterShape {
                    name: adapter.name.clone(),
                    tensor: "lora_A, lora_B",
                    expected: format!(
                        "[{}, {}], [{}, {}]",
                        expected_a.0, expected_a.1, expected_b.0, expected_b.1
                    ),
                    found: format!("{:?}, {:?}", adapter.a.dims(), adapter.b.dims()),
                });
            }
        }
        self.adapter = adapter;
        Ok(())
    }

    /// The frozen base layer.
    pub fn base(&self) -> &FrozenLinear {
        &self.base
    }

    /// The adapter, if this layer is adapted.
    pub fn adapter(&self) -> Option<&LoraAdapter> {
        self.adapter.as_ref()
    }

    /// `x` [.., in] → [.., out]: the base output plus the adapter's, if any, in the base
    /// output's dtype (the adapter's f32 output is narrowed to bf16 on a GPU); see
    /// [`rapha_kernels::ops::adapted_linear`].
    pub fn forward(&self, x: &Tensor, mode: &Mode) -> Result<Tensor> {
        let Some(adapter) = &self.adapter else {
            return Ok(self.base.forward(x)?);
        };
        let (rows, out_dims) = self.base.rows_of(x)?;
        let run = || -> candle_core::Result<Tensor> {
            let x2 = x.reshape((rows, self.base.in_features()))?;
            ops::adapted_linear(&x2, &self.base, &adapter.factors(mode))?.reshape(out_dims)
        };
        run().context_with(|| format!("adapter `{}`", adapter.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapha_kernels::sample::standard_normal;
    use rapha_kernels::Quantization;

    fn config(rank: usize, alpha: f64, dropout: f32, rslora: bool) -> LoraConfig {
        LoraConfig {
            rank,
            alpha,
            dropout,
            targets: Target::ALL.to_vec(),
            rslora,
        }
    }

    fn tensor(values: Vec<f32>, shape: &[usize]) -> Tensor {
        Tensor::from_vec(values, shape, &Device::Cpu).expect("test tensor")
    }

    fn values(t: &Tensor) -> Vec<f64> {
        t.to_dtype(DType::F64)
            .and_then(|t| t.flatten_all()?.to_vec1())
            .expect("values")
    }

    #[test]
    fn scale_is_alpha_over_rank_or_its_square_root_with_rslora() {
        assert_eq!(config(16, 32.0, 0.0, false).scale(), 2.0);
        assert_eq!(config(16, 32.0, 0.0, true).scale(), 8.0);
        let adapter = LoraAdapter::new(8, 8, &config(4, 8.0, 0.0, true), "l", 0, &Device::Cpu)
            .expect("adapter");
        assert_eq!(adapter.scale(), 4.0);
    }

    #[test]
    fn a_is_kaiming_uniform_and_b_is_zero() {
        let (inp, out, rank) = (256, 32, 64);
        let adapter = LoraAdapter::new(
            inp,
            out,
            &config(rank, 16.0, 0.0, false),
            "model.layers.0.self_attn.q_proj",
            1,
            &Device::Cpu,
        )
        .expect("adapter");
        assert_eq!(adapter.a().dims(), [rank, inp]);
        assert_eq!(adapter.b().dims(), [out, rank]);
        assert!(values(adapter.b()).iter().all(|&v| v == 0.0));
        // torch.nn.init.kaiming_uniform_(a=√5): U(-1/√in, 1/√in), variance bound²/3.
        let a = values(adapter.a());
        let bound = 1.0 / (inp as f64).sqrt();
        assert!(a.iter().all(|v| v.abs() <= bound), "A outside ±{bound}");
        let n = a.len() as f64;
        let mean = a.iter().sum::<f64>() / n;
        let variance = a.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 0.02 * bound, "mean {mean}");
        assert!(
            (variance / (bound * bound / 3.0) - 1.0).abs() < 0.03,
            "variance {variance}"
        );
    }

    #[test]
    fn init_depends_only_on_seed_and_layer_name() {
        let make = |name: &str, seed| {
            values(
                LoraAdapter::new(16, 8, &config(4, 4.0, 0.0, false), name, seed, &Device::Cpu)
                    .expect("adapter")
                    .a(),
            )
        };
        assert_eq!(make("layers.0.q_proj", 3), make("layers.0.q_proj", 3));
        assert_ne!(make("layers.0.q_proj", 3), make("layers.0.k_proj", 3));
        assert_ne!(make("layers.0.q_proj", 3), make("layers.0.q_proj", 4));
    }

    #[test]
    fn a_fresh_adapter_leaves_the_base_output_unchanged() {
        let base = FrozenLinear::new(
            tensor(standard_normal(32 * 64, 1), &[32, 64]),
            None,
            Quantization::Nf4,
        )
        .expect("base");
        let adapter = LoraAdapter::new(64, 32, &config(8, 16.0, 0.1, false), "l", 0, &Device::Cpu)
            .expect("adapter");
        let layer = LoraLinear::new(base.clone(), Some(adapter)).expect("layer");
        let x = tensor(standard_normal(3 * 64, 2), &[3, 64]);
        let mode = Mode::Train {
            seed: 1,
            step: 0,
            micro_batch: 0,
        };
        assert_eq!(
            values(&layer.forward(&x, &mode).expect("lora")),
            values(&base.forward(&x).expect("base"))
        );
    }

    /// `adapter`'s dropout mask of `x` in one training micro-batch.
    fn mask_of(adapter: &LoraAdapter, x: &Tensor, seed: u64, step: u64, micro_batch: u64) -> Tensor {
        adapter
            .dropout_for(&Mode::Train { seed, step, micro_batch })
            .expect("the adapter has dropout")
            .tensor(x.shape(), x.device())
            .expect("mask")
    }

    #[test]
    fn dropout_masks_are_deterministic_per_key_and_inverted() {
        let p = 0.25;
        let adapter = LoraAdapter::new(
            64,
            8,
            &config(4, 4.0, p, false),
            "layers.1.v_proj",
            0,
            &Device::Cpu,
        )
        .expect("adapter");
        let x = Tensor::ones((100, 640), DType::F32, &Device::Cpu).expect("x");
        let mask = |seed, step, micro_batch| {
            values(&mask_of(&adapter, &x, seed, step, micro_batch))
        };
        let m = mask(7, 3, 1);
        assert_eq!(m, mask(7, 3, 1), "same key, same mask");
        assert_ne!(m, mask(7, 3, 2), "another micro-batch");
        assert_ne!(m, mask(7, 4, 1), "another step");
        assert_ne!(m, mask(8, 3, 1), "another seed");
        let keep = 1.0 / (1.0 - f64::from(p));
        assert!(
            m.iter().all(|&v| v == 0.0 || (v - keep).abs() < 1e-6),
            "values are 0 or 1/(1-p)"
        );
        let dropped = m.iter().filter(|&&v| v == 0.0).count() as f64 / m.len() as f64;
        // 64 000 Bernoulli(0.25) draws: standard deviation 0.0017.
        assert!(
            (dropped - f64::from(p)).abs() < 0.01,
            "dropped fraction {dropped}"
        );
        let other = LoraAdapter::new(
            64,
            8,
            &config(4, 4.0, p, false),
            "layers.1.k_proj",
            0,
            &Device::Cpu,
        )
        .expect("adapter");
        assert_ne!(
            m,
            values(&mask_of(&other, &x, 7, 3, 1)),
            "another layer"
        );
    }

    #[test]
    fn eval_mode_applies_no_dropout() {
        let cfg = config(4, 8.0, 0.5, false);
        let a = tensor(standard_normal(4 * 16, 1), &[4, 16]);
        let b = tensor(standard_normal(8 * 4, 2), &[8, 4]);
        let adapter = LoraAdapter::from_weights("l", &a, &b, &cfg).expect("adapter");
        let x = tensor(standard_normal(2 * 16, 3), &[2, 16]);
        let got = values(&adapter.forward(&x, &Mode::Eval).expect("forward"));
        // scale · x · Aᵀ · Bᵀ by plain loops.
        let (xv, av, bv) = (values(&x), values(&a), values(&b));
        for i in 0..2 {
            for o in 0..8 {
                let want: f64 = (0..4)
                    .map(|r| {
                        bv[o * 4 + r]
                            * (0..16)
                                .map(|k| xv[i * 16 + k] * av[r * 16 + k])
                                .sum::<f64>()
                    })
                    .sum::<f64>()
                    * 2.0;
                assert!(
                    (got[i * 8 + o] - want).abs() < 1e-4,
                    "[{i}, {o}]: {} vs {want}",
                    got[i * 8 + o]
                );
            }
        }
    }

    /// Two stacked LoRA-on-NF4 layers with a tanh between them, in f64, dropout on:
    /// `sum(c ⊙ L2(tanh(L1(x))))`.
    struct TinyModel {
        first: LoraLinear,
        second: LoraLinear,
        weights: Tensor,
        mode: Mode,
    }

    impl TinyModel {
        fn new() -> Self {
            let (inp, hidden, rank) = (64, 48, 4);
            let cfg = config(rank, 8.0, 0.2, false);
            let base1 = FrozenLinear::new(
                tensor(standard_normal(hidden * inp, 1), &[hidden, inp]),
                Some(tensor(standard_normal(hidden, 2), &[hidden])),
                Quantization::Nf4,
            )
            .expect("base 1");
            let base2 = FrozenLinear::new(
                tensor(standard_normal(inp * hidden, 3), &[inp, hidden]),
                None,
                Quantization::Nf4,
            )
            .expect("base 2");
            let f64_tensor = |values: Vec<f32>, shape: &[usize]| {
                tensor(values, shape).to_dtype(DType::F64).expect("f64")
            };
            // B is random, not zero, so that A's gradient is not zero either.
            let adapter = |name, inp, out, seed| {
                let a = f64_tensor(standard_normal(rank * inp, seed), &[rank, inp])
                    .affine(0.2, 0.0)
                    .expect("a");
                let b = f64_tensor(standard_normal(out * rank, seed + 1), &[out, rank])
                    .affine(0.2, 0.0)
                    .expect("b");
                LoraAdapter::from_weights(name, &a, &b, &cfg).expect("adapter")
            };
            let first =
                LoraLinear::new(base1, Some(adapter("first", inp, hidden, 10))).expect("first");
            let second =
                LoraLinear::new(base2, Some(adapter("second", hidden, inp, 20))).expect("second");
            let weights = f64_tensor(standard_normal(3 * inp, 30), &[3, inp]);
            Self {
                first,
                second,
                weights,
                mode: Mode::Train {
                    seed: 5,
                    step: 2,
                    micro_batch: 1,
                },
            }
        }

        fn loss(&self, x: &Tensor) -> Tensor {
            let h = self
                .first
                .forward(x, &self.mode)
                .expect("first layer")
                .tanh()
                .expect("tanh");
            let y = self.second.forward(&h, &self.mode).expect("second layer");
            y.mul(&self.weights)
                .and_then(|t| t.sum_all())
                .expect("loss")
        }
    }

    #[test]
    fn gradients_through_nf4_match_finite_differences() {
        let model = TinyModel::new();
        let x = Var::from_tensor(
            &tensor(standard_normal(3 * 64, 40), &[3, 64])
                .to_dtype(DType::F64)
                .expect("f64"),
        )
        .expect("x");
        let grads = model.loss(&x).backward().expect("backward");
        let first = model.first.adapter().expect("adapter");
        let second = model.second.adapter().expect("adapter");
        let vars = [
            ("x", &x),
            ("first A", first.a()),
            ("first B", first.b()),
            ("second A", second.a()),
            ("second B", second.b()),
        ];
        let eps = 1e-5;
        for (name, var) in vars {
            let analytic = values(grads.get(var).expect("gradient"));
            let original = values(var);
            for (i, &g) in analytic.iter().enumerate() {
                let at = |delta: f64| {
                    let mut v = original.clone();
                    v[i] += delta;
                    var.set(&Tensor::from_vec(v, var.shape(), &Device::Cpu).expect("perturbed"))
                        .expect("set");
                    model.loss(&x).to_scalar::<f64>().expect("loss")
                };
                let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
                assert!(
                    (numeric - g).abs() <= 1e-7 * (1.0 + g.abs()),
                    "{name}[{i}]: analytic {g}, numeric {numeric}"
                );
            }
            var.set(&Tensor::from_vec(original, var.shape(), &Device::Cpu).expect("restore"))
                .expect("set");
        }
    }

    #[test]
    fn targets_use_peft_names() {
        for target in Target::ALL {
            assert_eq!(target.peft_name().parse::<Target>().expect("parse"), target);
            assert_eq!(
                serde_json::to_string(&target).expect("json"),
                format!("\"{target}\"")
            );
        }
        assert_eq!(
            "gate_proj".parse::<Target>().expect("parse"),
            Target::GateProj
        );
        let err = "qkv_proj".parse::<Target>().expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown LoRA target module `qkv_proj`: expected one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"
        );
    }

    #[test]
    fn rejects_bad_configs_and_shapes() {
        let err = config(0, 8.0, 0.0, false).validate().expect_err("rank 0");
        assert_eq!(
            err.to_string(),
            "LoRA config `rank`: expected a positive integer, found `0`"
        );
        let err = config(4, 8.0, 1.0, false)
            .validate()
            .expect_err("dropout 1");
        assert_eq!(
            err.to_string(),
            "LoRA config `dropout`: expected a probability in [0, 1), found `1`"
        );
        let a = tensor(vec![0.0; 8], &[2, 4]);
        let err = LoraAdapter::from_weights(
            "l",
            &a,
            &tensor(vec![0.0; 9], &[3, 3]),
            &config(2, 2.0, 0.0, false),
        )
        .expect_err("b rank");
        assert_eq!(
            err.to_string(),
            "adapter `l` lora_B: expected shape [out, 2], found [3, 3]"
        );
        let adapter = LoraAdapter::new(5, 3, &config(2, 2.0, 0.0, false), "l", 0, &Device::Cpu)
            .expect("adapter");
        let base = FrozenLinear::new(tensor(vec![0.0; 12], &[3, 4]), None, Quantization::None)
            .expect("base");
        let err = LoraLinear::new(base, Some(adapter)).expect_err("mismatch");
        assert_eq!(
            err.to_string(),
            "adapter `l` lora_A, lora_B: expected shape [2, 4], [3, 2], found [2, 5], [3, 2]"
        );
    }
}
