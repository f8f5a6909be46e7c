//! DP-SGD (Abadi et al. 2016) over the LoRA parameters, in the form the RDP accountant's
//! theorem covers (`rapha-privacy`):
//!
//! 1. **Poisson sampling of privacy units**: each step includes every unit (a record, or all of
//!    one patient's records) independently with probability `q`, so a step's batch size
//!    varies; a step that draws no unit still adds noise and still counts.
//! 2. **Per-unit clipping**: each sampled unit's whole LoRA gradient (of its mean loss over its
//!    completion tokens) is scaled to norm at most `C` ([`ClippedSum`]). Each unit's gradient
//!    comes from its own forward and backward pass over only its examples: exact for any unit
//!    size, on the same kernels as ordinary training. On the CPU a pass costs about the same
//!    per token whatever the batch, so one pass per unit costs little more than batched
//!    training (`benches/engine.rs` measures the ratio).
//! 3. **Gaussian noise** of standard deviation `σ·C` on every coordinate of the clipped sum,
//!    which is then divided by the expected number of units per step, `q·units` (Opacus's
//!    normalisation: the divisor must not depend on the sample).
//!
//! Sampling and noise draw from ChaCha20 seeded by the operating system ([`Randomness`]); a
//! fixed seed exists only as [`Randomness::InsecureSeed`], for tests.

use candle_core::{Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, StandardNormal};
use rapha_privacy::{Accountant, Spent};
use sha2::{Digest, Sha256};

use crate::error::{CandleContext, Error, Result};
use crate::optim::clip_grad_norm;

/// Where sampling and noise come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Randomness {
    /// ChaCha20 seeded once from the operating system: the only setting that gives the
    /// guarantee, since an adversary who knows the seed can subtract the noise.
    OperatingSystem,
    /// ChaCha20 seeded from this value and the step (a resumed run redraws the same): for
    /// tests only, never for data that matters.
    InsecureSeed(u64),
}

/// The settings of DP-SGD.
#[derive(Debug, Clone, PartialEq)]
pub struct DpConfig {
    /// Poisson sampling rate `q` of the units.
    pub sample_rate: f64,
    /// Noise multiplier `σ`: the noise's standard deviation over the clipping norm.
    pub noise_multiplier: f64,
    /// Clipping norm `C` of each unit's gradient.
    pub max_grad_norm: f64,
    /// The privacy unit of each training example (indices from 0; equal for one patient's
    /// examples).
    pub units: Vec<usize>,
    /// What earlier runs on this data already spent (a continued adapter).
    pub prior: Accountant,
    /// δ of the (ε, δ) guarantee the accountant reports.
    pub delta: f64,
    /// The ε no step may go beyond: training stops before a step that would spend more.
    pub budget: Option<f64>,
    /// Where randomness comes from.
    pub randomness: Randomness,
}

impl DpConfig {
    /// Reject settings no private run can use, naming the field.
    pub fn validate(&self, examples: usize) -> Result<()> {
        let setting = |field: &'static str, expected: &'static str, found: String| Error::Setting { field, expected, found };
        if !(self.sample_rate > 0.0 && self.sample_rate <= 1.0) {
            return Err(setting("dp.sample_rate", "a rate in (0, 1]", self.sample_rate.to_string()));
        }
        if !(self.noise_multiplier.is_finite() && self.noise_multiplier >= 0.0) {
            return Err(setting("dp.noise_multiplier", "a finite number ≥ 0", self.noise_multiplier.to_string()));
        }
        if !(self.max_grad_norm.is_finite() && self.max_grad_norm > 0.0) {
            return Err(setting("dp.max_grad_norm", "a positive number", self.max_grad_norm.to_string()));
        }
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(setting("dp.delta", "a number in (0, 1)", self.delta.to_string()));
        }
        if self.units.len() != examples {
            return Err(setting("dp.units", "one unit per training example", format!("{} for {examples}", self.units.len())));
        }
        Ok(())
    }

    /// The number of distinct units.
    pub fn unit_count(&self) -> usize {
        self.units.iter().max().map_or(0, |&last| last + 1)
    }

    /// The prior with `steps` steps of this run composed on.
    pub fn accountant_after(&self, steps: u64) -> Result<Accountant> {
        let mut accountant = self.prior.clone();
        accountant.compose(self.sample_rate, self.noise_multiplier, steps).map_err(accountant_refused)?;
        Ok(accountant)
    }

    /// ε at δ after `steps` steps of this run on top of the prior.
    pub fn spent_after(&self, steps: u64) -> Result<Spent> {
        self.accountant_after(steps)?.spent(self.delta).map_err(accountant_refused)
    }

    /// Whether one more step after `steps` stays within the budget.
    pub fn affords(&self, steps: u64) -> Result<bool> {
        let Some(budget) = self.budget else { return Ok(true) };
        Ok(self.spent_after(steps + 1)?.epsilon <= budget)
    }
}

/// An accountant's refusal as a settings error.
fn accountant_refused(source: rapha_privacy::Error) -> Error {
    Error::Setting { field: "dp", expected: "settings the accountant accepts", found: source.to_string() }
}

/// Draws each step's units and noise.
pub(crate) struct Sampler {
    /// The examples of each unit.
    members: Vec<Vec<usize>>,
    sample_rate: f64,
    source: Source,
}

/// Where a [`Sampler`]'s generators come from.
enum Source {
    /// One generator seeded by the operating system, which seeds each step's.
    System(Box<ChaCha20Rng>),
    /// The insecure seed, from which each step's generator is derived.
    Seeded(u64),
}

impl Sampler {
    pub(crate) fn new(config: &DpConfig) -> Self {
        let mut members = vec![Vec::new(); config.unit_count()];
        for (example, &unit) in config.units.iter().enumerate() {
            members[unit].push(example);
        }
        let source = match config.randomness {
            Randomness::OperatingSystem => Source::System(Box::new(ChaCha20Rng::from_os_rng())),
            Randomness::InsecureSeed(seed) => Source::Seeded(seed),
        };
        Self { members, sample_rate: config.sample_rate, source }
    }

    /// The generator for step `step`: the system's, or one derived from the insecure seed.
    pub(crate) fn rng(&mut self, step: u64) -> ChaCha20Rng {
        match &mut self.source {
            Source::System(system) => ChaCha20Rng::from_rng(system.as_mut()),
            Source::Seeded(seed) => {
                let digest: [u8; 32] =
                    Sha256::new().chain_update(b"dp-sgd").chain_update(seed.to_le_bytes()).chain_update(step.to_le_bytes()).finalize().into();
                ChaCha20Rng::from_seed(digest)
            }
        }
    }

    /// A Poisson sample: the examples of each unit drawn, unit by unit.
    pub(crate) fn draw(&self, rng: &mut ChaCha20Rng) -> Vec<&[usize]> {
        self.members.iter().filter(|_| rng.random::<f64>() < self.sample_rate).map(Vec::as_slice).collect()
    }
}

/// The running sum of clipped per-unit gradients of one step.
pub(crate) struct ClippedSum {
    sum: Vec<Tensor>,
    max_norm: f64,
}

impl ClippedSum {
    pub(crate) fn new(params: &[Var], max_norm: f64) -> Result<Self> {
        let sum = params.iter().map(|p| p.zeros_like().context_with(|| "clipped sum".to_owned())).collect::<Result<_>>()?;
        Ok(Self { sum, max_norm })
    }

    /// Clip one unit's gradient to the norm and add it; returns its norm before clipping.
    pub(crate) fn add(&mut self, mut grads: Vec<Tensor>) -> Result<f64> {
        let norm = clip_grad_norm(&mut grads, Some(self.max_norm))?;
        for (sum, g) in self.sum.iter_mut().zip(grads) {
            *sum = (&*sum + g).context_with(|| "clipped sum".to_owned())?;
        }
        Ok(norm)
    }

    /// The noised mean: `(sum + N(0, (σC)²)) / divisor`, each coordinate's noise independent.
    pub(crate) fn noised(self, noise_multiplier: f64, divisor: f64, rng: &mut ChaCha20Rng) -> Result<Vec<Tensor>> {
        let std = noise_multiplier * self.max_norm;
        self.sum
            .into_iter()
            .map(|sum| {
                let noise = gaussian(sum.elem_count(), std, rng);
                Tensor::from_vec(noise, sum.shape(), sum.device())
                    .and_then(|n| n.to_dtype(sum.dtype()))
                    .and_then(|n| (sum + n)? / divisor)
                    .context_with(|| "noised gradient".to_owned())
            })
            .collect()
    }
}

/// `count` independent draws of N(0, std²), in f32.
pub(crate) fn gaussian(count: usize, std: f64, rng: &mut ChaCha20Rng) -> Vec<f32> {
    (0..count)
        .map(|_| {
            let z: f64 = StandardNormal.sample(rng);
            (z * std) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(units: Vec<usize>, q: f64) -> DpConfig {
        DpConfig {
            sample_rate: q,
            noise_multiplier: 1.0,
            max_grad_norm: 1.0,
            units,
            prior: Accountant::new(),
            delta: 1e-5,
            budget: None,
            randomness: Randomness::InsecureSeed(7),
        }
    }

    /// The units drawn at `step`, owned.
    fn draw_at(sampler: &mut Sampler, step: u64) -> Vec<Vec<usize>> {
        let mut rng = sampler.rng(step);
        sampler.draw(&mut rng).into_iter().map(<[usize]>::to_vec).collect()
    }

    /// Over many steps each unit is drawn at rate q, independently, and a unit's examples
    /// always come together.
    #[test]
    fn poisson_sampling_rate() {
        let units: Vec<usize> = (0..200).map(|e| e / 2).collect();
        let mut sampler = Sampler::new(&config(units, 0.05));
        let steps = 2000;
        let mut sizes = Vec::new();
        for step in 0..steps {
            let drawn = draw_at(&mut sampler, step);
            assert!(drawn.iter().all(|examples| examples.len() == 2 && examples[1] == examples[0] + 1));
            sizes.push(drawn.len() as f64);
        }
        let mean = sizes.iter().sum::<f64>() / steps as f64;
        let variance = sizes.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / (steps as f64 - 1.0);
        // Binomial(100, 0.05): mean 5, variance 4.75; the mean's standard error is 0.049.
        assert!((mean - 5.0).abs() < 0.2, "mean {mean}");
        assert!((variance - 4.75).abs() < 0.6, "variance {variance}");
    }

    /// The noise's standard deviation is σ·C and its mean zero.
    #[test]
    fn noise_scale() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let draws = gaussian(200_000, 2.5, &mut rng);
        let n = draws.len() as f64;
        let mean = draws.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let std = (draws.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        assert!(mean.abs() < 0.02 && (std - 2.5).abs() < 0.02, "mean {mean}, std {std}");
    }

    /// An insecure seed redraws the same step; the system's generator does not repeat.
    #[test]
    fn randomness_sources() {
        let units: Vec<usize> = (0..50).collect();
        let mut seeded = Sampler::new(&config(units.clone(), 0.5));
        assert_eq!(draw_at(&mut seeded, 4), draw_at(&mut seeded, 4));
        let mut system = Sampler::new(&DpConfig { randomness: Randomness::OperatingSystem, ..config(units, 0.5) });
        let (first, second) = (draw_at(&mut system, 0), draw_at(&mut system, 0));
        assert_ne!(first, second, "two draws of 50 fair coins agreed");
    }

    #[test]
    fn settings_are_checked_by_name() {
        let bad = DpConfig { sample_rate: 0.0, ..config(vec![0, 1], 0.5) };
        assert_eq!(bad.validate(2).unwrap_err().to_string(), "setting `dp.sample_rate`: expected a rate in (0, 1], found `0`");
        assert!(config(vec![0, 1], 0.5).validate(3).is_err());
        config(vec![0, 1], 0.5).validate(2).unwrap();
    }
}
