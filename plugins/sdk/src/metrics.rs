//! Counting metrics shared by the plugins that pool counts (micro averages).
//!
//! Conventions, fixed so that plugins in other languages can match them bit for
//! bit: a ratio whose denominator is zero is 0, except F1 with no predictions,
//! no gold items and nothing to find, which is 1 (nothing was missed, nothing
//! was invented).

use crate::{Count, ExampleScore};

/// tp / (tp + fp), or 0 when nothing was predicted.
pub fn precision(tp: f64, fp: f64) -> f64 {
    if tp + fp == 0.0 { 0.0 } else { tp / (tp + fp) }
}

/// tp / (tp + fn), or 0 when there was nothing to find.
pub fn recall(tp: f64, fn_: f64) -> f64 {
    if tp + fn_ == 0.0 {
        0.0
    } else {
        tp / (tp + fn_)
    }
}

/// 2·tp / (2·tp + fp + fn): the harmonic mean of precision and recall, computed
/// from counts; 1 when there were no gold items and none were predicted.
pub fn f1(tp: f64, fp: f64, fn_: f64) -> f64 {
    let denominator = 2.0 * tp + fp + fn_;
    if denominator == 0.0 {
        1.0
    } else {
        2.0 * tp / denominator
    }
}

/// The sum of the count named `key` over all scores, in order (absent counts 0).
pub fn sum_count(scores: &[ExampleScore], key: &str) -> f64 {
    scores
        .iter()
        .flat_map(|s| s.counts.iter())
        .filter(|c: &&Count| c.key == key)
        .map(|c| c.value)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f1_from_counts_matches_harmonic_mean() {
        let (p, r) = (precision(3.0, 1.0), recall(3.0, 2.0));
        assert!((f1(3.0, 1.0, 2.0) - 2.0 * p * r / (p + r)).abs() < 1e-15);
    }

    #[test]
    fn empty_ratios_follow_the_documented_conventions() {
        assert_eq!(precision(0.0, 0.0), 0.0);
        assert_eq!(recall(0.0, 0.0), 0.0);
        assert_eq!(f1(0.0, 0.0, 0.0), 1.0);
        assert_eq!(f1(0.0, 2.0, 0.0), 0.0);
    }

    #[test]
    fn sum_count_pools_in_order_and_ignores_other_keys() {
        let score = |tp: f64| ExampleScore {
            metrics: vec![],
            counts: vec![
                Count {
                    key: "tp".into(),
                    value: tp,
                },
                Count {
                    key: "fp".into(),
                    value: 9.0,
                },
            ],
        };
        assert_eq!(sum_count(&[score(1.0), score(2.5)], "tp"), 3.5);
        assert_eq!(sum_count(&[score(1.0)], "fn"), 0.0);
    }
}
