//! Whether a sample could have shown a difference: the smallest mean paired difference a
//! two-sided test at level 0.05 detects with power 0.8, `(z₀.₉₇₅ + z₀.₈) · sd / √n`, from the
//! per-record differences' standard deviation (normal approximation; clusters ignored, so it
//! is optimistic when records cluster). `compare` warns when the observed difference is
//! smaller: the sample was too small to tell, not evidence of no difference.

/// `z₀.₉₇₅ + z₀.₈`.
const Z_SUM: f64 = 1.959_963_984_540_054 + 0.841_621_233_572_914_3;

/// The minimum detectable difference for `differences`, or `None` with fewer than 2.
pub fn minimum_detectable(differences: &[f64]) -> Option<f64> {
    let n = differences.len();
    if n < 2 {
        return None;
    }
    let mean = differences.iter().sum::<f64>() / n as f64;
    let variance = differences.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some(Z_SUM * variance.sqrt() / (n as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinks_with_the_square_root_of_n() {
        // Differences ±1: sd = √(n / (n − 1)).
        let small: Vec<f64> = (0..16).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let large: Vec<f64> = (0..64).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let (s, l) = (minimum_detectable(&small).unwrap(), minimum_detectable(&large).unwrap());
        assert!((s - Z_SUM * (16.0f64 / 15.0).sqrt() / 4.0).abs() < 1e-12);
        assert!((s / l - 2.0 * ((16.0f64 / 15.0) / (64.0 / 63.0)).sqrt()).abs() < 1e-12);
        assert_eq!(minimum_detectable(&[1.0]), None);
    }
}
