//! The exact McNemar test for a 0/1 metric of two candidates on the same records: only the
//! discordant records count, `b` where the baseline alone scored 1 and `c` where the
//! candidate alone did. Without a difference each goes either way with probability ½, so the
//! two-sided p-value is `min(1, 2 · P(X ≤ min(b, c)))` for `X ~ Binomial(b + c, ½)`.

use crate::error::{Error, Result};

/// The discordant counts `(b, c)` of two candidates' values on the same records, or `None`
/// when some value is neither 0 nor 1 (the metric is not binary).
pub fn discordant(baseline: &[f64], candidate: &[f64]) -> Result<Option<(u64, u64)>> {
    if baseline.len() != candidate.len() {
        return Err(Error::Lengths { what: "paired values", left: baseline.len(), right: candidate.len() });
    }
    let binary = |v: f64| v == 0.0 || v == 1.0;
    if !baseline.iter().chain(candidate).all(|&v| binary(v)) {
        return Ok(None);
    }
    let b = baseline.iter().zip(candidate).filter(|&(&x, &y)| x == 1.0 && y == 0.0).count() as u64;
    let c = baseline.iter().zip(candidate).filter(|&(&x, &y)| x == 0.0 && y == 1.0).count() as u64;
    Ok(Some((b, c)))
}

/// The two-sided exact p-value for discordant counts `b` and `c`; 1 when there are none.
pub fn exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    // Terms of the binomial tail in logarithms, so large n neither underflows 2⁻ⁿ nor
    // overflows the coefficients: ln C(n, k) 2⁻ⁿ, built from ln C(n, 0) = 0.
    let mut log_term = -(n as f64) * std::f64::consts::LN_2;
    let mut log_terms = vec![log_term];
    for k in 1..=b.min(c) {
        log_term += ((n - k + 1) as f64 / k as f64).ln();
        log_terms.push(log_term);
    }
    let largest = log_terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tail = largest.exp() * log_terms.iter().map(|t| (t - largest).exp()).sum::<f64>();
    (2.0 * tail).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_binomial_tail_worked_by_hand() {
        // b = 1, c = 9: 2 · (C(10,0) + C(10,1)) / 2¹⁰ = 22 / 1024.
        assert!((exact(1, 9) - 22.0 / 1024.0).abs() < 1e-15);
        assert!((exact(9, 1) - 22.0 / 1024.0).abs() < 1e-15);
        // b = c: the tail holds at least half, so p is capped at 1.
        assert_eq!(exact(5, 5), 1.0);
        assert_eq!(exact(0, 0), 1.0);
        // b = 0, c = 6: 2 / 64.
        assert!((exact(0, 6) - 2.0 / 64.0).abs() < 1e-15);
    }

    #[test]
    fn large_counts_neither_underflow_nor_overflow() {
        // n = 3000 (2⁻³⁰⁰⁰ underflows an f64): a 1400/1600 split is significant, 1500/1500 not.
        let p = exact(1400, 1600);
        assert!(p > 0.0 && p < 0.001, "{p}");
        assert_eq!(exact(1500, 1500), 1.0);
    }

    #[test]
    fn discordant_pairs_are_counted_and_non_binary_metrics_left_out() {
        let baseline = [1.0, 1.0, 0.0, 0.0, 1.0];
        let candidate = [1.0, 0.0, 1.0, 1.0, 1.0];
        assert_eq!(discordant(&baseline, &candidate), Ok(Some((1, 2))));
        assert_eq!(discordant(&[0.5], &[1.0]), Ok(None));
        assert!(discordant(&[1.0], &[]).is_err());
    }
}
