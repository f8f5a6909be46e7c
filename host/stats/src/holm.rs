//! Holm's step-down adjustment: with `m` p-values sorted ascending, the `j`-th (from 0) is
//! multiplied by `m − j`, the running maximum kept so the order is preserved, capped at 1.
//! It controls the family-wise error across a comparison's metrics without assuming them
//! independent.

/// The adjusted p-values, in the order given.
pub fn adjust(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &index) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p_values[index]).min(1.0));
        adjusted[index] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example() {
        // Sorted 0.01, 0.02, 0.03, 0.5 → 0.04, 0.06, 0.06 (kept monotone), 0.5.
        let adjusted = adjust(&[0.03, 0.5, 0.01, 0.02]);
        let want = [0.06, 0.5, 0.04, 0.06];
        for (got, want) in adjusted.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{adjusted:?}");
        }
        assert_eq!(adjust(&[0.9, 0.8]), [1.0, 1.0]);
        assert!(adjust(&[]).is_empty());
    }
}
