//! The privacy spent so far: every step of DP-SGD a site has taken on its data, kept as
//! (sampling rate, noise multiplier, steps) so the state is small, exact and serialisable.
//! RDP composes by addition, so a run that continues an adapter, a resumed run and (later)
//! federated rounds each add their steps to the same accountant.

use serde::{Deserialize, Serialize};

use crate::{Result, conversion, default_orders, rdp};

/// One kind of step and how many were taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Steps {
    /// Poisson sampling rate of the privacy units.
    pub q: f64,
    /// Noise standard deviation over the clipping norm.
    pub noise_multiplier: f64,
    /// Steps taken with these.
    pub count: u64,
}

/// What has been spent, at one δ.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spent {
    /// ε at `delta`.
    pub epsilon: f64,
    /// δ.
    pub delta: f64,
    /// The RDP order that gave ε.
    pub order: f64,
}

/// The steps taken, composed in RDP over [`default_orders`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Accountant {
    /// Each (q, σ) with its step count, in the order first taken.
    pub steps: Vec<Steps>,
}

impl Accountant {
    /// An accountant that has spent nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record `count` more steps at sampling rate `q` and noise multiplier `noise_multiplier`.
    pub fn compose(&mut self, q: f64, noise_multiplier: f64, count: u64) -> Result<()> {
        rdp::poisson_subsampled_gaussian(q, noise_multiplier, &[2.0])?;
        match self.steps.iter_mut().find(|s| s.q == q && s.noise_multiplier == noise_multiplier) {
            Some(same) => same.count += count,
            None => self.steps.push(Steps { q, noise_multiplier, count }),
        }
        Ok(())
    }

    /// Total steps recorded.
    pub fn step_count(&self) -> u64 {
        self.steps.iter().map(|s| s.count).sum()
    }

    /// ε spent at `delta`.
    pub fn spent(&self, delta: f64) -> Result<Spent> {
        let orders = default_orders();
        let mut total = vec![0.0; orders.len()];
        for steps in &self.steps {
            let one = rdp::poisson_subsampled_gaussian(steps.q, steps.noise_multiplier, &orders)?;
            for (sum, r) in total.iter_mut().zip(one) {
                *sum += r * steps.count as f64;
            }
        }
        let (epsilon, order) = conversion::epsilon(&orders, &total, delta);
        Ok(Spent { epsilon, delta, order })
    }

    /// ε at `delta` after `count` more steps at (`q`, `noise_multiplier`), without taking them.
    pub fn spent_after(&self, q: f64, noise_multiplier: f64, count: u64, delta: f64) -> Result<Spent> {
        let mut planned = self.clone();
        planned.compose(q, noise_multiplier, count)?;
        planned.spent(delta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Composing in two runs spends what one run of all the steps spends.
    #[test]
    fn steps_compose_across_runs() {
        let mut split = Accountant::new();
        split.compose(0.01, 1.0, 40).unwrap();
        split.compose(0.01, 1.0, 60).unwrap();
        let mut whole = Accountant::new();
        whole.compose(0.01, 1.0, 100).unwrap();
        assert_eq!(split, whole);
        assert_eq!(split.spent(1e-5).unwrap(), whole.spent(1e-5).unwrap());
        let json = serde_json::to_string(&split).unwrap();
        assert_eq!(serde_json::from_str::<Accountant>(&json).unwrap(), split);
        assert_eq!(Accountant::new().spent(1e-5).unwrap().epsilon, 0.0);
    }

    /// More steps spend more; a mixed history costs more than either part.
    #[test]
    fn spending_grows() {
        let mut accountant = Accountant::new();
        accountant.compose(0.02, 1.2, 50).unwrap();
        let before = accountant.spent(1e-5).unwrap().epsilon;
        let after = accountant.spent_after(0.05, 0.9, 10, 1e-5).unwrap().epsilon;
        assert!(after > before && before > 0.0, "{before} → {after}");
        assert_eq!(accountant.step_count(), 50);
    }
}
