//! How well a score separates two groups, as membership-inference attacks are judged
//! (Carlini et al. 2022, "Membership Inference Attacks From First Principles"): the area
//! under the ROC curve, and the true-positive rate at a low false-positive rate — the
//! regime that matters, where an attack is confident about a few people. A higher score
//! means "member".

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::bootstrap::{Estimate, Resampling};
use crate::error::{Error, Result};

/// The probability that a random member scores above a random non-member (ties count half):
/// the Mann–Whitney form of the ROC curve's area.
pub fn auc(members: &[f64], nonmembers: &[f64]) -> f64 {
    let mut above = 0.0;
    for &m in members {
        for &n in nonmembers {
            above += if m > n { 1.0 } else if m == n { 0.5 } else { 0.0 };
        }
    }
    above / (members.len() * nonmembers.len()).max(1) as f64
}

/// The share of members scored strictly above the threshold that lets at most
/// `⌊fpr · non-members⌋` non-members through. With fewer than `1 / fpr` non-members no
/// non-member may pass, so the rate is that of members above every non-member.
pub fn tpr_at_fpr(members: &[f64], nonmembers: &[f64], fpr: f64) -> f64 {
    let mut sorted = nonmembers.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let allowed = (fpr * sorted.len() as f64).floor() as usize;
    let Some(&threshold) = sorted.get(allowed) else { return 1.0 };
    members.iter().filter(|&&m| m > threshold).count() as f64 / members.len().max(1) as f64
}

/// `statistic` of the two groups with a percentile interval from resampling each group
/// with replacement, independently. A record may carry several scores (`T` a tuple), so a
/// statistic comparing two scores of the same records resamples them together.
pub fn bootstrap<T: Copy>(
    members: &[T],
    nonmembers: &[T],
    resampling: &Resampling,
    statistic: impl Fn(&[T], &[T]) -> f64,
) -> Result<Estimate> {
    if members.is_empty() || nonmembers.is_empty() {
        return Err(Error::Empty { what: "a two-group statistic" });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(resampling.seed);
    let draw = |values: &[T], rng: &mut ChaCha8Rng| -> Vec<T> {
        (0..values.len()).map(|_| values[rng.random_range(0..values.len())]).collect()
    };
    let mut values: Vec<f64> = (0..resampling.resamples)
        .map(|_| {
            let m = draw(members, &mut rng);
            let n = draw(nonmembers, &mut rng);
            statistic(&m, &n)
        })
        .collect();
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - resampling.level) / 2.0;
    let at = |q: f64| values[(q * (values.len() - 1) as f64).floor() as usize];
    Ok(Estimate { value: statistic(members, nonmembers), low: at(tail), high: at(1.0 - tail) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_and_indistinguishable_groups() {
        let members = [3.0, 4.0, 5.0];
        let nonmembers = [0.0, 1.0, 2.0];
        assert_eq!(auc(&members, &nonmembers), 1.0);
        assert_eq!(auc(&nonmembers, &members), 0.0);
        assert_eq!(auc(&[1.0, 1.0], &[1.0]), 0.5);
        assert_eq!(tpr_at_fpr(&members, &nonmembers, 0.01), 1.0);
        // One non-member of ten may pass at 10 %: the threshold is the second highest.
        let nonmembers: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(tpr_at_fpr(&[8.5, 9.5, 7.0, 10.0], &nonmembers, 0.1), 0.75);
        assert_eq!(tpr_at_fpr(&[8.5, 9.5, 7.0, 10.0], &nonmembers, 0.0), 0.5);
    }

    #[test]
    fn interval_covers_the_estimate_and_is_reproducible() {
        let members: Vec<f64> = (0..40).map(|i| f64::from(i) * 0.1 + 0.5).collect();
        let nonmembers: Vec<f64> = (0..40).map(|i| f64::from(i) * 0.1).collect();
        let resampling = Resampling { resamples: 500, seed: 3, level: 0.95 };
        let estimate = bootstrap(&members, &nonmembers, &resampling, auc).unwrap();
        assert!(estimate.low < estimate.value && estimate.value < estimate.high, "{estimate:?}");
        assert_eq!(estimate, bootstrap(&members, &nonmembers, &resampling, auc).unwrap());
        assert!(bootstrap(&[], &nonmembers, &resampling, auc).is_err());
    }
}
