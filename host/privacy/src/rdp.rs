//! The Rényi DP of one step of DP-SGD: a Gaussian mechanism of noise multiplier `σ` applied
//! to a Poisson sample of rate `q` (Mironov, Talwar & Zhang 2019, "Rényi Differential Privacy
//! of the Sampled Gaussian Mechanism").
//!
//! At order α the RDP is `ln A_α / (α − 1)` with `A_α = E_{z∼μ₀}[(μ(z)/μ₀(z))^α]`, where
//! `μ₀ = N(0, σ²)` and `μ = (1 − q)μ₀ + q·N(1, σ²)`. For integer α the binomial expansion is a
//! finite sum (their §3.2); for fractional α the integral is split at the point `z₀` where
//! the two densities' ratio crosses one and each half summed as a series of `erfc` terms
//! (§3.3). The series runs until its terms are both falling and below `e⁻³⁰` of the total;
//! one that has not converged after [`MAX_TERMS`] gives `+∞` at that order, so the order is
//! left out of the minimum rather than trusted — as `dp-accounting` does.

use crate::logspace::{add, ln_binomial, ln_erfc};
use crate::{Error, Result};

/// Terms of a fractional order's series before it is given up as not converging.
pub const MAX_TERMS: usize = 1000;

/// The RDP of one step at each of `orders` (each > 1), for sampling rate `q` ∈ [0, 1] and
/// noise multiplier `sigma` ≥ 0.
pub fn poisson_subsampled_gaussian(q: f64, sigma: f64, orders: &[f64]) -> Result<Vec<f64>> {
    if !(0.0..=1.0).contains(&q) {
        return Err(Error::Parameter { name: "q", expected: "a sampling rate in [0, 1]", found: q });
    }
    if sigma.is_nan() || sigma < 0.0 {
        return Err(Error::Parameter { name: "noise_multiplier", expected: "a number ≥ 0", found: sigma });
    }
    if let Some(&order) = orders.iter().find(|&&a| a.is_nan() || a <= 1.0) {
        return Err(Error::Parameter { name: "order", expected: "an RDP order > 1", found: order });
    }
    Ok(orders.iter().map(|&alpha| one_order(q, sigma, alpha)).collect())
}

/// The RDP at order `alpha`.
fn one_order(q: f64, sigma: f64, alpha: f64) -> f64 {
    if q == 0.0 {
        return 0.0;
    }
    if sigma == 0.0 || alpha.is_infinite() {
        return f64::INFINITY;
    }
    if q == 1.0 {
        // No sampling: the Gaussian mechanism's own RDP, α / (2σ²).
        return alpha / (2.0 * sigma * sigma);
    }
    let ln_a = if alpha.fract() == 0.0 { ln_a_integer(q, sigma, alpha) } else { ln_a_fractional(q, sigma, alpha) };
    ln_a / (alpha - 1.0)
}

/// `ln A_α` for integer α: `Σᵢ binom(α, i) qⁱ (1 − q)^(α−i) exp((i² − i) / 2σ²)`.
fn ln_a_integer(q: f64, sigma: f64, alpha: f64) -> f64 {
    let (ln_q, ln_1mq) = (q.ln(), (-q).ln_1p());
    let mut total = f64::NEG_INFINITY;
    let mut i = 0.0;
    while i <= alpha {
        let term = ln_binomial(alpha, i) + i * ln_q + (alpha - i) * ln_1mq + (i * i - i) / (2.0 * sigma * sigma);
        total = add(total, term);
        i += 1.0;
    }
    total
}

/// `ln A_α` for fractional α: the two halves of the integral around `z₀ = σ² ln(1/q − 1) + ½`.
fn ln_a_fractional(q: f64, sigma: f64, alpha: f64) -> f64 {
    let (ln_q, ln_1mq) = (q.ln(), (-q).ln_1p());
    let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
    let two_sigma_sq = 2.0 * sigma * sigma;
    let root2_sigma = std::f64::consts::SQRT_2 * sigma;
    let (mut below, mut above) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let (mut last_below, mut last_above) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for i in 0..MAX_TERMS {
        let i = i as f64;
        let j = alpha - i;
        let ln_coefficient = ln_binomial(alpha, i);
        let term_below = ln_coefficient + i * ln_q + j * ln_1mq + (i * i - i) / two_sigma_sq
            + 0.5_f64.ln()
            + ln_erfc((i - z0) / root2_sigma);
        let term_above = ln_coefficient + j * ln_q + i * ln_1mq + (j * j - j) / two_sigma_sq
            + 0.5_f64.ln()
            + ln_erfc((z0 - j) / root2_sigma);
        below = add(below, term_below);
        above = add(above, term_above);
        let total = add(below, above);
        if term_below < last_below && term_above < last_above && term_below.max(term_above) < total - 30.0 {
            return total;
        }
        (last_below, last_above) = (term_below, term_above);
    }
    f64::INFINITY
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without sampling the mechanism is the plain Gaussian, α / 2σ², and the integer series
    /// reaches it at q → 1.
    #[test]
    fn full_batch_is_the_gaussian_mechanism() {
        let orders = [2.0, 3.5, 8.0];
        let rdp = poisson_subsampled_gaussian(1.0, 2.0, &orders).unwrap();
        for (alpha, value) in orders.iter().zip(rdp) {
            assert!((value - alpha / 8.0).abs() < 1e-15);
        }
        let near = poisson_subsampled_gaussian(1.0 - 1e-12, 2.0, &[8.0]).unwrap()[0];
        assert!((near - 1.0).abs() < 1e-6, "{near}");
    }

    /// The fractional series and the integer sum meet: RDP is continuous in α.
    #[test]
    fn fractional_orders_are_continuous_with_integer_ones() {
        let rdp = poisson_subsampled_gaussian(0.01, 1.0, &[3.0 - 1e-7, 3.0, 3.0 + 1e-7]).unwrap();
        assert!((rdp[0] - rdp[1]).abs() < 1e-5 * rdp[1] && (rdp[2] - rdp[1]).abs() < 1e-5 * rdp[1], "{rdp:?}");
    }

    #[test]
    fn parameters_are_checked_by_name() {
        let error = poisson_subsampled_gaussian(1.5, 1.0, &[2.0]).unwrap_err().to_string();
        assert_eq!(error, "`q`: expected a sampling rate in [0, 1], found 1.5");
        assert!(poisson_subsampled_gaussian(0.1, -1.0, &[2.0]).is_err());
        assert!(poisson_subsampled_gaussian(0.1, 1.0, &[1.0]).is_err());
        assert_eq!(poisson_subsampled_gaussian(0.0, 1.0, &[2.0]).unwrap(), vec![0.0]);
        assert_eq!(poisson_subsampled_gaussian(0.5, 0.0, &[2.0]).unwrap(), vec![f64::INFINITY]);
    }
}
