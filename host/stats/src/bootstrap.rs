//! Percentile bootstrap that resamples clusters: records sharing a cluster (say, one
//! patient's notes) are drawn together, so correlated records do not narrow the interval as
//! if they were independent. With every record its own cluster it is the ordinary bootstrap.
//!
//! A resample draws as many clusters as there are, uniformly with replacement, from a
//! ChaCha8 stream seeded by [`Resampling::seed`], and takes the mean over all the records of
//! the drawn clusters. The interval's ends are the resampled means at ranks
//! `⌊q · (B − 1)⌋` for `q = (1 − level) / 2` and `1 − q`, `B` resamples sorted.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// How to resample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resampling {
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// Coverage of the interval, e.g. 0.95.
    pub level: f64,
}

impl Default for Resampling {
    /// 2000 resamples, seed 0, 95 %.
    fn default() -> Self {
        Resampling { resamples: 2000, seed: 0, level: 0.95 }
    }
}

/// A mean and its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The mean over all records.
    pub value: f64,
    /// The interval's lower end.
    pub low: f64,
    /// Its upper end.
    pub high: f64,
}

/// A mean paired difference (candidate − baseline) and its two-sided p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paired {
    /// The difference, with its interval.
    pub difference: Estimate,
    /// Two-sided: twice the smaller share of resampled differences on either side of zero
    /// (each share counted as `(k + 1) / (B + 1)`), at most 1; exactly 1 when every record's
    /// difference is zero.
    pub p_value: f64,
}

/// The mean of `values` (one per record) with an interval from resampling `clusters`
/// (`clusters[i]` is record `i`'s).
pub fn mean<K: Ord>(values: &[f64], clusters: &[K], resampling: &Resampling) -> Result<Estimate> {
    let (estimate, _) = resample(values, clusters, resampling)?;
    Ok(estimate)
}

/// The mean of `candidate − baseline` over the same records, its interval from resampling
/// `clusters`, and a two-sided p-value for a zero difference.
pub fn paired<K: Ord>(baseline: &[f64], candidate: &[f64], clusters: &[K], resampling: &Resampling) -> Result<Paired> {
    if baseline.len() != candidate.len() {
        return Err(Error::Lengths { what: "paired values", left: baseline.len(), right: candidate.len() });
    }
    let differences: Vec<f64> = candidate.iter().zip(baseline).map(|(c, b)| c - b).collect();
    let (difference, means) = resample(&differences, clusters, resampling)?;
    if differences.iter().all(|&d| d == 0.0) {
        return Ok(Paired { difference, p_value: 1.0 });
    }
    let share = |k: usize| (k + 1) as f64 / (means.len() + 1) as f64;
    let below = means.iter().filter(|&&m| m <= 0.0).count();
    let above = means.iter().filter(|&&m| m >= 0.0).count();
    Ok(Paired { difference, p_value: (2.0 * share(below).min(share(above))).min(1.0) })
}

/// The estimate and the sorted resampled means.
fn resample<K: Ord>(values: &[f64], clusters: &[K], resampling: &Resampling) -> Result<(Estimate, Vec<f64>)> {
    check(values, clusters)?;
    let groups: Vec<(f64, usize)> = groups(values, clusters);
    let mut rng = ChaCha8Rng::seed_from_u64(resampling.seed);
    let mut means: Vec<f64> = (0..resampling.resamples.max(1))
        .map(|_| {
            let (mut sum, mut count) = (0.0, 0);
            for _ in 0..groups.len() {
                let (group_sum, group_count) = groups[rng.random_range(0..groups.len())];
                sum += group_sum;
                count += group_count;
            }
            sum / count as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let q = (1.0 - resampling.level) / 2.0;
    let at = |q: f64| means[(q * (means.len() - 1) as f64).floor() as usize];
    let value = values.iter().sum::<f64>() / values.len() as f64;
    Ok((Estimate { value, low: at(q), high: at(1.0 - q) }, means))
}

/// Each cluster's sum and record count, in the clusters' order.
fn groups<K: Ord>(values: &[f64], clusters: &[K]) -> Vec<(f64, usize)> {
    let mut groups: BTreeMap<&K, (f64, usize)> = BTreeMap::new();
    for (value, cluster) in values.iter().zip(clusters) {
        let entry = groups.entry(cluster).or_insert((0.0, 0));
        entry.0 += value;
        entry.1 += 1;
    }
    groups.into_values().collect()
}

/// Values present, finite, one cluster each.
fn check<K>(values: &[f64], clusters: &[K]) -> Result<()> {
    if values.is_empty() {
        return Err(Error::Empty { what: "a bootstrap mean" });
    }
    if values.len() != clusters.len() {
        return Err(Error::Lengths { what: "values and clusters", left: values.len(), right: clusters.len() });
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(Error::NotFinite { what: "per-record values", index }),
        None => Ok(()),
    }
}
