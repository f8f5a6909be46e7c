//! A DP-SGD step of the [`Trainer`] ([`crate::dp`] has the method and its reasons).

use std::time::Instant;

use candle_core::{Tensor, Var};

use super::{PrivateStep, StepReport, Trainer};
use crate::batch::{Batch, Example};
use crate::dp::ClippedSum;
use crate::error::Result;

/// What the units of one private step gave, before noise.
#[derive(Debug, Default)]
struct Tally {
    /// Units in the Poisson sample.
    units: usize,
    /// Units with a completion token to score.
    scored_units: usize,
    /// Units whose gradient norm exceeded the clipping norm.
    clipped: usize,
    /// Sums of the scored units' mean losses and gradient norms.
    loss_sum: f64,
    norm_sum: f64,
    /// Real tokens and completion tokens.
    tokens: usize,
    scored: usize,
}

impl Trainer<'_> {
    /// One DP-SGD step: a Poisson sample of units, each unit's gradient from its own passes,
    /// clipped; their sum noised and averaged; then AdamW.
    pub(super) fn private_step(&mut self) -> Result<StepReport> {
        let started = Instant::now();
        let step_index = self.step;
        let (grads, tally) = self.private_gradients(step_index)?;
        let learning_rate = self.schedule.lr(usize::try_from(step_index).unwrap_or(usize::MAX));
        self.optimizer.step(&grads, learning_rate)?;
        self.step += 1;
        let dp = self.config.dp.as_ref().expect("a private run has DP settings");
        let elapsed = started.elapsed().as_secs_f64();
        let mean = |total: f64| (tally.scored_units > 0).then(|| total / tally.scored_units as f64);
        Ok(StepReport {
            step: self.step,
            max_steps: self.config.max_steps,
            loss: mean(tally.loss_sum),
            learning_rate,
            grad_norm: mean(tally.norm_sum).unwrap_or(0.0),
            tokens: tally.tokens,
            scored_tokens: tally.scored,
            tokens_per_second: if elapsed > 0.0 { tally.tokens as f64 / elapsed } else { 0.0 },
            epoch: self.step as f64 * dp.sample_rate,
            privacy: Some(PrivateStep { units: tally.units, clipped: tally.clipped, spent: dp.spent_after(self.step)? }),
        })
    }

    /// The noised mean of the clipped per-unit gradients of step `step_index`, in parameter
    /// order, and what the sample held.
    fn private_gradients(&mut self, step_index: u64) -> Result<(Vec<Tensor>, Tally)> {
        let dp = self.config.dp.as_ref().expect("a private run has DP settings");
        let sampler = self.sampler.as_mut().expect("a private run has a sampler");
        let mut rng = sampler.rng(step_index);
        let drawn: Vec<Vec<usize>> = sampler.draw(&mut rng).into_iter().map(<[usize]>::to_vec).collect();
        let vars: Vec<Var> = self.params.iter().map(|p| p.var.clone()).collect();
        let mut sum = ClippedSum::new(&vars, dp.max_grad_norm)?;
        let mut tally = Tally { units: drawn.len(), ..Tally::default() };
        let mut micro_batch = 0;
        for unit in &drawn {
            let batches = self.unit_batches(unit)?;
            let scored: usize = batches.iter().map(Batch::target_count).sum();
            tally.tokens += batches.iter().map(|b| b.real_tokens).sum::<usize>();
            if scored == 0 {
                continue;
            }
            let (loss, grads) = self.gradients_over(&batches, step_index, micro_batch, scored)?;
            micro_batch += batches.len() as u64;
            if !loss.is_finite() {
                return Err(self.non_finite("loss", loss));
            }
            let norm = sum.add(grads)?;
            if !norm.is_finite() {
                return Err(self.non_finite("gradient norm", norm));
            }
            tally.scored_units += 1;
            tally.clipped += usize::from(norm > dp.max_grad_norm);
            tally.loss_sum += loss;
            tally.norm_sum += norm;
            tally.scored += scored;
        }
        let divisor = dp.sample_rate * dp.unit_count() as f64;
        Ok((sum.noised(dp.noise_multiplier, divisor, &mut rng)?, tally))
    }

    /// The micro-batches of one privacy unit's examples.
    fn unit_batches(&self, unit: &[usize]) -> Result<Vec<Batch>> {
        let rows: Vec<&Example> = unit.iter().map(|&i| &self.train.examples()[i]).collect();
        rows.chunks(self.config.micro_batch_size)
            .map(|chunk| Batch::new(chunk, self.config.max_seq_len, self.config.pad_id, self.model.device()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;
    use rapha_kernels::Quantization;
    use rapha_privacy::Accountant;

    use super::*;
    use crate::dp::{DpConfig, Randomness};
    use crate::lora::{LoraConfig, Target};
    use crate::model::Model;
    use crate::optim::global_norm;
    use crate::train::TrainConfig;

    fn lora() -> LoraConfig {
        LoraConfig { rank: 2, alpha: 4.0, dropout: 0.0, targets: Target::ALL.to_vec(), rslora: false }
    }

    fn model() -> Model {
        let config = crate::testing::tiny_config();
        let weights = crate::testing::random_weights(&config, 1);
        let model = Model::new(config, weights, Quantization::None, Some(&lora()), 3).unwrap();
        crate::testing::randomize_b(&model, 2, 0.3);
        model
    }

    /// Four examples in three units: the first patient has two notes.
    fn examples() -> Vec<Example> {
        (0..4u32).map(|i| Example { prompt: (10 + i..14 + 2 * i).collect(), completion: vec![20 + i, 30 + i, 2] }).collect()
    }

    fn private(noise_multiplier: f64, max_grad_norm: f64) -> DpConfig {
        DpConfig {
            sample_rate: 1.0,
            noise_multiplier,
            max_grad_norm,
            units: vec![0, 0, 1, 2],
            prior: Accountant::new(),
            delta: 1e-5,
            budget: None,
            randomness: Randomness::InsecureSeed(11),
        }
    }

    fn trainer(model: &Model, dp: DpConfig) -> Trainer<'_> {
        let config = TrainConfig { dp: Some(dp), max_steps: 10, ..TrainConfig::default() };
        Trainer::new(model, &lora(), examples(), Vec::new(), config).unwrap()
    }

    /// Without noise the private gradient is the mean of the per-unit gradients, each clipped
    /// to norm ≤ C — computed here independently, one backward pass per example, the unit's
    /// examples summed before its norm is taken.
    #[test]
    fn per_unit_clipping_matches_per_example_passes() {
        let model = model();
        let max_norm = 0.05;
        let mut dp_trainer = trainer(&model, private(0.0, max_norm));
        let (private_grads, tally) = dp_trainer.private_gradients(0).unwrap();
        assert_eq!((tally.units, tally.scored_units), (3, 3));

        let plain = Trainer::new(&model, &lora(), examples(), Vec::new(), TrainConfig::default()).unwrap();
        let data = examples();
        let mut expected: Option<Vec<Tensor>> = None;
        for unit in [&[0, 1][..], &[2], &[3]] {
            let batches: Vec<Batch> = unit.iter().map(|&i| Batch::new(&[&data[i]], 64, 0, &Device::Cpu).unwrap()).collect();
            let scored = batches.iter().map(Batch::target_count).sum();
            let (_, mut grads) = plain.loss_and_gradients(&batches, 0, scored).unwrap();
            let norm = global_norm(&grads).unwrap();
            assert!(norm > max_norm, "unit {unit:?} not clipped: {norm}");
            grads = grads.iter().map(|g| (g * (max_norm / (norm + 1e-6))).unwrap()).collect();
            assert!(global_norm(&grads).unwrap() <= max_norm);
            expected = Some(match expected {
                None => grads,
                Some(sum) => sum.iter().zip(&grads).map(|(s, g)| (s + g).unwrap()).collect(),
            });
        }
        assert_eq!(tally.clipped, 3);
        for (got, want) in private_grads.iter().zip(expected.unwrap()) {
            let want = (want / 3.0).unwrap();
            let diff = (got - &want).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(diff < 1e-6, "private gradient differs by {diff}");
        }
    }

    /// The noise added is N(0, (σC)²) per coordinate, divided by q·units: the difference
    /// between a noised and a noiseless step with the same draws.
    #[test]
    fn noise_has_the_configured_scale() {
        let model = model();
        let (sigma, max_norm) = (2.0, 0.5);
        let (noisy, _) = trainer(&model, private(sigma, max_norm)).private_gradients(0).unwrap();
        let (clean, _) = trainer(&model, private(0.0, max_norm)).private_gradients(0).unwrap();
        let mut values = Vec::new();
        for (n, c) in noisy.iter().zip(&clean) {
            values.extend((n - c).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap().into_iter().map(f64::from));
        }
        let count = values.len() as f64;
        let mean = values.iter().sum::<f64>() / count;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1.0)).sqrt();
        let expected = sigma * max_norm / 3.0;
        assert!(count > 1000.0, "{count}");
        assert!((std / expected - 1.0).abs() < 0.05 && mean.abs() < 0.1 * expected, "std {std} against {expected}, mean {mean}");
    }

    /// The run stops before the step that would exceed the budget; a resumed run reports the
    /// same spending at the same step as one that was never interrupted.
    #[test]
    fn budget_stops_and_resume_spends_the_same() {
        let model = model();
        let dp = DpConfig { sample_rate: 0.5, budget: Some(6.0), ..private(1.0, 1.0) };
        let afforded = (1..).find(|&steps| dp.spent_after(steps).unwrap().epsilon > 6.0).unwrap() - 1;
        let dir = tempfile::tempdir().unwrap();
        let config = |max_steps| TrainConfig {
            dp: Some(dp.clone()),
            max_steps,
            checkpoint_every: Some(2),
            checkpoint_dir: Some(dir.path().to_path_buf()),
            ..TrainConfig::default()
        };
        let stop = std::sync::atomic::AtomicBool::new(false);
        let mut whole = Trainer::new(&model, &lora(), examples(), Vec::new(), config(100)).unwrap();
        let summary = whole.run(&mut crate::train::Silent, &stop).unwrap();
        assert_eq!((summary.finish, summary.steps), (crate::train::Finish::BudgetSpent, afforded));

        let split_model = self::model();
        let mut resumed = Trainer::new(&split_model, &lora(), examples(), Vec::new(), config(100)).unwrap();
        resumed.resume(&dir.path().join(format!("checkpoint-{}", afforded - afforded % 2))).unwrap();
        let report = resumed.step().unwrap();
        let spent = report.privacy.unwrap().spent;
        assert_eq!(spent, dp.spent_after(afforded - afforded % 2 + 1).unwrap());
    }
}
