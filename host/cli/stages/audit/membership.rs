//! Membership inference: can the adapter tell the records it was trained on from records of
//! the same distribution it never saw? A random share of the training units is held out
//! before training; an equal number of trained records is drawn as members. Four scores,
//! each higher for "member":
//!
//! - **loss**: the mean log-likelihood of the target tokens (Yeom et al. 2018);
//! - **reference**: that minus the frozen base model's (the base is a free reference model,
//!   Carlini et al. 2021's comparison to a smaller model, here the model before training);
//! - **zlib**: the summed log-likelihood over the target's zlib-compressed size in bytes,
//!   which discounts targets that are merely easy (Carlini et al. 2021);
//! - **min-k%**: the mean of the 20 % least likely tokens' log-probabilities (Shi et al. 2024).
//!
//! Each is reported as AUC and the true-positive rate at 1 % and 0.1 % false positives, with
//! 95 % bootstrap intervals. A few dozen records on each side differ by chance — in length,
//! in how easy their targets are — and a raw attack reads that as membership (on the tiny
//! test model an untrained base already scored AUC 0.61 on one split). So each attack is
//! also run with the base model's log-probabilities in place of the adapter's: the base never
//! saw either group, so its AUC is this split's chance level, and the gated figure is the
//! *gain* of the adapter's AUC over it, on the same records. With a few dozen records a side
//! that gain still varies by ±0.1 from split to split (an honest default run showed 0.098),
//! so the gate reads the lower end of its 95 % bootstrap interval: the leakage the records
//! show at the least, which clear memorisation drives up and noise does not. With fewer than 1000 non-members a 0.1 % rate allows no false
//! positive at all: that figure is then the share of members above every non-member.

use rapha_stats::bootstrap::{Estimate, Resampling};
use rapha_stats::roc;
use serde::Serialize;

/// Share of the least likely tokens Min-K% averages.
const MIN_K: f64 = 0.2;

/// Bootstrap resamples of each interval.
const RESAMPLES: usize = 1000;

/// The log-probabilities of one record's target tokens, under the adapter and the base, and
/// the target's compressed size.
#[derive(Debug, Clone)]
pub struct Scored {
    /// Under the trained adapter.
    pub adapter: Vec<f32>,
    /// Under the base model.
    pub base: Vec<f32>,
    /// zlib-compressed bytes of the target text.
    pub zlib_bytes: usize,
}

/// One attack's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Attack {
    /// `loss`, `reference`, `zlib` or `min_k`.
    pub name: &'static str,
    /// Area under the ROC curve.
    pub auc: Interval,
    /// The same attack's AUC with the base model's scores: the split's chance level.
    pub base_auc: f64,
    /// The adapter's AUC minus the base's, resampling each record's two scores together.
    pub gain: Interval,
    /// True-positive rate at 1 % false positives.
    pub tpr_at_1_percent: Interval,
    /// At 0.1 %.
    pub tpr_at_0_1_percent: Interval,
}

/// An estimate and its 95 % interval.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Interval {
    /// The estimate.
    pub value: f64,
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

impl From<Estimate> for Interval {
    fn from(estimate: Estimate) -> Self {
        Interval { value: estimate.value, low: estimate.low, high: estimate.high }
    }
}

/// A membership score: higher means "member".
type Score = fn(&Scored) -> f64;

/// The attacks, by name.
const ATTACKS: [(&str, Score); 4] = [("loss", loss), ("reference", reference), ("zlib", zlib), ("min_k", min_k)];

/// The four attacks on `members` against `nonmembers`.
pub fn attacks(members: &[Scored], nonmembers: &[Scored], seed: u64) -> anyhow::Result<Vec<Attack>> {
    let resampling = Resampling { resamples: RESAMPLES, seed, level: 0.95 };
    ATTACKS
        .into_iter()
        .map(|(name, score)| {
            let m: Vec<f64> = members.iter().map(score).collect();
            let n: Vec<f64> = nonmembers.iter().map(score).collect();
            let interval = |statistic: &dyn Fn(&[f64], &[f64]) -> f64| -> anyhow::Result<Interval> {
                Ok(roc::bootstrap(&m, &n, &resampling, statistic)?.into())
            };
            let base_m: Vec<f64> = members.iter().map(|r| score(&r.as_base())).collect();
            let base_n: Vec<f64> = nonmembers.iter().map(|r| score(&r.as_base())).collect();
            let pairs = |scores: &[f64], base: &[f64]| scores.iter().copied().zip(base.iter().copied()).collect::<Vec<_>>();
            let gain = roc::bootstrap(&pairs(&m, &base_m), &pairs(&n, &base_n), &resampling, |m, n| {
                let side = |pick: fn(&(f64, f64)) -> f64, v: &[(f64, f64)]| v.iter().map(pick).collect::<Vec<_>>();
                roc::auc(&side(|p| p.0, m), &side(|p| p.0, n)) - roc::auc(&side(|p| p.1, m), &side(|p| p.1, n))
            })?;
            Ok(Attack {
                name,
                auc: interval(&roc::auc)?,
                base_auc: roc::auc(&base_m, &base_n),
                gain: gain.into(),
                tpr_at_1_percent: interval(&|m, n| roc::tpr_at_fpr(m, n, 0.01))?,
                tpr_at_0_1_percent: interval(&|m, n| roc::tpr_at_fpr(m, n, 0.001))?,
            })
        })
        .collect()
}

impl Scored {
    /// The record as the base model scores it: the base's log-probabilities in the adapter's
    /// place (the reference score is then 0 for every record).
    fn as_base(&self) -> Scored {
        Scored { adapter: self.base.clone(), base: self.base.clone(), zlib_bytes: self.zlib_bytes }
    }
}

fn mean(values: &[f32]) -> f64 {
    values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len().max(1) as f64
}

fn loss(record: &Scored) -> f64 {
    mean(&record.adapter)
}

fn reference(record: &Scored) -> f64 {
    mean(&record.adapter) - mean(&record.base)
}

fn zlib(record: &Scored) -> f64 {
    record.adapter.iter().map(|&v| f64::from(v)).sum::<f64>() / record.zlib_bytes.max(1) as f64
}

fn min_k(record: &Scored) -> f64 {
    let mut sorted = record.adapter.clone();
    sorted.sort_by(f32::total_cmp);
    let k = ((sorted.len() as f64 * MIN_K).ceil() as usize).max(1).min(sorted.len());
    mean(&sorted[..k])
}

/// zlib-compressed size of `text`, in bytes.
pub fn zlib_bytes(text: &str) -> usize {
    miniz_oxide::deflate::compress_to_vec_zlib(text.as_bytes(), 6).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(adapter: f32, base: f32) -> Scored {
        Scored { adapter: vec![adapter; 10], base: vec![base; 10], zlib_bytes: 20 }
    }

    /// Members the adapter finds likelier are found by every attack; the reference attack
    /// sees through records that are merely easy for the base model too.
    #[test]
    fn attacks_separate_what_they_should() {
        let members: Vec<Scored> = (0..20).map(|i| scored(-1.0 + i as f32 * 0.001, -2.0)).collect();
        let nonmembers: Vec<Scored> = (0..20).map(|i| scored(-2.0 + i as f32 * 0.001, -2.0)).collect();
        for attack in attacks(&members, &nonmembers, 1).unwrap() {
            assert_eq!(attack.auc.value, 1.0, "{}", attack.name);
            // The base saw neither group: it cannot tell them apart.
            assert_eq!(attack.base_auc, 0.5, "{}", attack.name);
            assert_eq!(attack.gain.value, 0.5, "{}", attack.name);
            assert!(attack.gain.low > 0.4, "{}: {:?}", attack.name, attack.gain);
            assert_eq!(attack.tpr_at_1_percent.value, 1.0, "{}", attack.name);
        }
        // Non-members as likely as members, but only because the base finds them easy.
        let easy: Vec<Scored> = (0..20).map(|i| scored(-1.0 + i as f32 * 0.001, -1.0)).collect();
        let found = attacks(&members, &easy, 1).unwrap();
        let reference = found.iter().find(|a| a.name == "reference").unwrap();
        let loss = found.iter().find(|a| a.name == "loss").unwrap();
        assert_eq!(reference.auc.value, 1.0);
        assert!((loss.auc.value - 0.5).abs() < 0.05, "{}", loss.auc.value);
    }

    #[test]
    fn compressible_text_is_smaller() {
        assert!(zlib_bytes(&"ab".repeat(100)) < zlib_bytes("The quick brown fox jumps over the lazy dog, twice: slowly."));
    }
}
