//! Learning-rate schedule: linear warmup, then cosine or linear decay to zero.
//!
//! Mirrors transformers' `get_cosine_schedule_with_warmup` (with `num_cycles = 0.5`) and
//! `get_linear_schedule_with_warmup` (`transformers/optimization.py`). As there, the rate of
//! optimizer step `k` (counted from 0) is `peak · λ(k)`, so with warmup the very first step
//! runs at rate 0 — the scheduler is stepped after the optimizer.

use std::f64::consts::PI;

/// How the rate falls after warmup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decay {
    /// Half a cosine period from the peak to zero.
    Cosine,
    /// A straight line from the peak to zero.
    Linear,
}

/// Warmup then decay over a fixed number of optimizer steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Rate at the end of warmup.
    pub peak_lr: f64,
    /// Steps of linear warmup from 0.
    pub warmup_steps: usize,
    /// Total optimizer steps; the rate reaches 0 here.
    pub total_steps: usize,
    /// Shape of the decay.
    pub decay: Decay,
}

impl Schedule {
    /// The learning rate of optimizer step `step` (0-based).
    pub fn lr(&self, step: usize) -> f64 {
        self.peak_lr * self.factor(step)
    }

    fn factor(&self, step: usize) -> f64 {
        let step = step as f64;
        let warmup = self.warmup_steps as f64;
        let total = self.total_steps as f64;
        if step < warmup {
            return step / warmup.max(1.0);
        }
        match self.decay {
            Decay::Cosine => {
                let progress = (step - warmup) / (total - warmup).max(1.0);
                (0.5 * (1.0 + (PI * progress).cos())).max(0.0)
            }
            Decay::Linear => ((total - step) / (total - warmup).max(1.0)).max(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rates of steps 0..=10 with peak 2e-4, warmup 3, total 10, from transformers 5.23:
    ///
    /// ```python
    /// import torch
    /// from transformers import get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup
    /// for f in (get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup):
    ///     p = torch.nn.Parameter(torch.zeros(1)); opt = torch.optim.AdamW([p], lr=2e-4)
    ///     s = f(opt, num_warmup_steps=3, num_training_steps=10); lrs = []
    ///     for _ in range(11):
    ///         lrs.append(opt.param_groups[0]["lr"]); opt.step(); s.step()
    ///     print(lrs)
    /// ```
    #[test]
    fn matches_transformers() {
        let cosine = [
            0.0,
            6.666666666666667e-05,
            0.00013333333333333334,
            0.0002,
            0.0001900968867902419,
            0.00016234898018587337,
            0.00012225209339563145,
            7.774790660436858e-05,
            3.7651019814126654e-05,
            9.903113209758096e-06,
            0.0,
        ];
        let linear = [
            0.0,
            6.666666666666667e-05,
            0.00013333333333333334,
            0.0002,
            0.00017142857142857143,
            0.00014285714285714287,
            0.00011428571428571428,
            8.571428571428571e-05,
            5.714285714285714e-05,
            2.857142857142857e-05,
            0.0,
        ];
        for (decay, want) in [(Decay::Cosine, cosine), (Decay::Linear, linear)] {
            let s = Schedule { peak_lr: 2e-4, warmup_steps: 3, total_steps: 10, decay };
            for (step, w) in want.iter().enumerate() {
                let got = s.lr(step);
                assert!((got - w).abs() < 1e-15, "{decay:?} step {step}: got {got}, want {w}");
            }
        }
    }

    #[test]
    fn no_warmup_starts_at_peak_and_never_goes_negative() {
        let s = Schedule { peak_lr: 1.0, warmup_steps: 0, total_steps: 4, decay: Decay::Linear };
        assert_eq!(s.lr(0), 1.0);
        assert_eq!(s.lr(7), 0.0);
        let c = Schedule { decay: Decay::Cosine, ..s };
        assert_eq!(c.lr(0), 1.0);
        assert!(c.lr(9) >= 0.0);
    }
}
