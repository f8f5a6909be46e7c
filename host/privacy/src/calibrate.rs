//! The noise a run needs: the smallest noise multiplier σ whose planned steps, after what
//! was already spent, keep ε at δ within a target. ε falls as σ grows, so σ is bracketed by
//! doubling and then bisected; the σ returned is the bracket's upper end, which meets the
//! target (never one a rounding step below it).

use crate::{Accountant, Error, Result};

/// The largest noise multiplier tried: beyond it the gradient is all noise.
pub const CEILING: f64 = 1024.0;

/// Relative width of the bracket at which bisection stops.
const TOLERANCE: f64 = 1e-6;

/// The smallest σ (to [`TOLERANCE`]) such that `prior` plus `steps` steps at sampling rate `q`
/// spend at most `target` ε at `delta`.
pub fn noise_multiplier(target: f64, delta: f64, q: f64, steps: u64, prior: &Accountant) -> Result<f64> {
    if !(target.is_finite() && target > 0.0) {
        return Err(Error::Parameter { name: "epsilon", expected: "a finite number > 0", found: target });
    }
    if !(delta > 0.0 && delta < 1.0) {
        return Err(Error::Parameter { name: "delta", expected: "a number in (0, 1)", found: delta });
    }
    let within = |sigma: f64| -> Result<bool> { Ok(prior.spent_after(q, sigma, steps, delta)?.epsilon <= target) };
    let unreachable = Error::Unreachable { target, delta, q, steps, ceiling: CEILING };
    let mut high = 1.0;
    while !within(high)? {
        if high >= CEILING {
            return Err(unreachable);
        }
        high *= 2.0;
    }
    let mut low = 0.0;
    while high - low > TOLERANCE * high {
        let middle = 0.5 * (low + high);
        if within(middle)? { high = middle } else { low = middle }
    }
    Ok(high)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The σ found meets the target, and a slightly smaller one does not.
    #[test]
    fn calibrated_noise_is_just_enough() {
        let prior = Accountant::new();
        let sigma = noise_multiplier(3.0, 1e-5, 0.02, 500, &prior).unwrap();
        let at = |s: f64| prior.spent_after(0.02, s, 500, 1e-5).unwrap().epsilon;
        assert!(at(sigma) <= 3.0, "{}", at(sigma));
        assert!(at(sigma * (1.0 - 1e-4)) > 3.0 - 1e-3, "{}", at(sigma * 0.9999));
    }

    /// What was already spent leaves less for the plan; a budget already gone is unreachable.
    #[test]
    fn prior_spending_needs_more_noise() {
        let mut prior = Accountant::new();
        let fresh = noise_multiplier(8.0, 1e-5, 0.05, 200, &prior).unwrap();
        prior.compose(0.05, 1.0, 200).unwrap();
        let spent = prior.spent(1e-5).unwrap().epsilon;
        assert!(spent < 8.0, "{spent}");
        assert!(noise_multiplier(8.0, 1e-5, 0.05, 200, &prior).unwrap() > fresh);
        let error = noise_multiplier(spent * 0.5, 1e-5, 0.05, 1, &prior).unwrap_err();
        assert!(matches!(error, Error::Unreachable { .. }), "{error}");
        assert!(noise_multiplier(0.0, 1e-5, 0.05, 1, &prior).is_err());
    }
}
