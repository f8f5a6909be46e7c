//! ROUGE-N and ROUGE-L between two token lists, as `rouge-score` 0.1.2 computes
//! them (`rouge_scorer._score_ngrams`, `_score_lcs` and `scoring.fmeasure`).
//!
//! Reference: C.-Y. Lin, "ROUGE: A Package for Automatic Evaluation of
//! Summaries", 2004, sections 2 and 3.1. Every operation below is the one
//! `rouge-score` performs, in the same order, so the f64 results agree bit for
//! bit:
//! - ROUGE-N: overlap = Σ over the reference's distinct n-grams of
//!   min(count in reference, count in prediction) (clipped counts);
//!   precision = overlap / max(prediction n-grams, 1);
//!   recall = overlap / max(reference n-grams, 1).
//! - ROUGE-L: with l the length of a longest common subsequence of tokens,
//!   precision = l / prediction tokens, recall = l / reference tokens; all three
//!   values are 0 when either side has no token.
//! - F = 2·P·R / (P + R), evaluated as `(2·P)·R / (P + R)`, and 0 when P + R = 0.

use std::collections::HashMap;

/// Precision, recall and F-measure of one ROUGE variant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub precision: f64,
    pub recall: f64,
    pub fmeasure: f64,
}

impl Score {
    fn new(precision: f64, recall: f64) -> Self {
        Self {
            precision,
            recall,
            fmeasure: fmeasure(precision, recall),
        }
    }
}

/// `rouge_score.scoring.fmeasure`.
fn fmeasure(precision: f64, recall: f64) -> f64 {
    if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

fn ngram_counts(tokens: &[String], n: usize) -> HashMap<&[String], usize> {
    let mut counts = HashMap::new();
    for ngram in tokens.windows(n) {
        *counts.entry(ngram).or_insert(0) += 1;
    }
    counts
}

/// ROUGE-N (n ≥ 1) of `prediction` against `reference`.
pub fn rouge_n(reference: &[String], prediction: &[String], n: usize) -> Score {
    let reference_ngrams = ngram_counts(reference, n);
    let prediction_ngrams = ngram_counts(prediction, n);
    let overlap: usize = reference_ngrams
        .iter()
        .map(|(ngram, &count)| count.min(prediction_ngrams.get(ngram).copied().unwrap_or(0)))
        .sum();
    let reference_total: usize = reference_ngrams.values().sum();
    let prediction_total: usize = prediction_ngrams.values().sum();
    Score::new(
        overlap as f64 / prediction_total.max(1) as f64,
        overlap as f64 / reference_total.max(1) as f64,
    )
}

/// ROUGE-L (sentence-level LCS; not `rougeLsum`) of `prediction` against `reference`.
pub fn rouge_l(reference: &[String], prediction: &[String]) -> Score {
    if reference.is_empty() || prediction.is_empty() {
        return Score {
            precision: 0.0,
            recall: 0.0,
            fmeasure: 0.0,
        };
    }
    let lcs = lcs_length(reference, prediction) as f64;
    Score::new(lcs / prediction.len() as f64, lcs / reference.len() as f64)
}

/// Length of a longest common subsequence, by the usual dynamic programme kept
/// to two rows.
fn lcs_length(a: &[String], b: &[String]) -> usize {
    let mut previous = vec![0usize; b.len() + 1];
    let mut current = vec![0usize; b.len() + 1];
    for token in a {
        for (j, other) in b.iter().enumerate() {
            current[j + 1] = if token == other {
                previous[j] + 1
            } else {
                previous[j + 1].max(current[j])
            };
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    /// Reference "a b c a b", prediction "a b a b b":
    /// unigrams: a 2/2, b 2/3, c 1/0 → overlap min(2,2)+min(2,3)+min(1,0) = 4, P = 4/5, R = 4/5.
    /// bigrams: ref {ab:2, bc:1, ca:1}, pred {ab:2, ba:1, bb:1} → overlap 2, P = 2/4, R = 2/4.
    /// LCS "a b a b" = 4 → P = 4/5, R = 4/5, F = 0.8.
    #[test]
    fn clips_ngram_counts_and_finds_the_lcs() {
        let (reference, prediction) = (tokens("a b c a b"), tokens("a b a b b"));
        let r1 = rouge_n(&reference, &prediction, 1);
        assert_eq!((r1.precision, r1.recall), (0.8, 0.8));
        assert!((r1.fmeasure - 0.8).abs() < 1e-15);
        let r2 = rouge_n(&reference, &prediction, 2);
        assert_eq!((r2.precision, r2.recall, r2.fmeasure), (0.5, 0.5, 0.5));
        assert_eq!(lcs_length(&reference, &prediction), 4);
        let rl = rouge_l(&reference, &prediction);
        assert_eq!((rl.precision, rl.recall), (0.8, 0.8));
    }

    /// Reference "x y z", prediction "x": bigrams 0 in the prediction, so the
    /// denominators are max(0, 1) = 1 and every ROUGE-2 value is 0; ROUGE-1 has
    /// P = 1/1, R = 1/3, F = 2·(1/3)/(4/3) = 0.5.
    #[test]
    fn empty_sides_score_zero() {
        let r2 = rouge_n(&tokens("x y z"), &tokens("x"), 2);
        assert_eq!((r2.precision, r2.recall, r2.fmeasure), (0.0, 0.0, 0.0));
        let r1 = rouge_n(&tokens("x y z"), &tokens("x"), 1);
        assert_eq!(r1.precision, 1.0);
        assert!((r1.fmeasure - 0.5).abs() < 1e-15);
        assert_eq!(rouge_l(&tokens("x y z"), &[]).fmeasure, 0.0);
        assert_eq!(rouge_n(&[], &[], 1).fmeasure, 0.0);
    }
}
