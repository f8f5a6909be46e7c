//! The leakage audit that gates the export. The adapter is the one file that must leave, and
//! it can carry what it memorised; before it leaves, three measurements say how much:
//!
//! 1. [`canary`]: synthetic identifier lines trained in a known number of times, and their
//!    exposure;
//! 2. [`membership`]: four membership-inference attacks, held-out records against trained;
//! 3. [`extraction`]: verbatim continuation of training targets, against held-out ones.
//!
//! The plan ([`AuditPlan`]) is drawn before training from the run's seed (so a resumed run
//! trains on the same examples): which units are held out, which trained records are the
//! members, the canaries. Each figure has a threshold (`[audit]`); one over it fails the
//! audit and the run exports nothing. Every count the audit exports obeys the small-cell rule.

pub mod canary;
pub mod extraction;
pub mod membership;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;
use rapha_engine::score::completion_logprobs;
use rapha_engine::{Example, Model, Tokenizer};
use rapha_sandbox::disclosure::{self, Count};
use serde::Serialize;
use serde_json::{Value, json};

use crate::recipe::AuditSettings;
use crate::stages::data::Dataset;
use canary::{Canary, Exposure};
use extraction::Hits;
use membership::{Attack, Scored};

/// Most records on each side of membership inference: enough for the intervals, and the
/// audit's forward passes stay a fraction of training's.
const MAX_MEMBERSHIP: usize = 200;

/// How the audit runs the model: the run's batch and sequence settings.
#[derive(Debug, Clone, Copy)]
pub struct Scoring {
    /// Sequences per forward pass.
    pub batch: usize,
    /// Longest sequence, as in training.
    pub max_seq_len: usize,
    /// The pad token.
    pub pad_id: u32,
}

impl Scoring {
    /// The log-probability of each completion token of each example.
    pub fn logprobs(&self, model: &Model, examples: &[Example]) -> anyhow::Result<Vec<Vec<f32>>> {
        Ok(completion_logprobs(model, examples, self.batch, self.max_seq_len, self.pad_id)?)
    }
}

/// What the audit holds out and adds, settled before training.
#[derive(Debug, Clone)]
pub struct AuditPlan {
    /// The thresholds and sizes.
    pub settings: AuditSettings,
    /// Training records never trained on (whole units), in file order.
    pub held_out: Vec<usize>,
    /// Held-out records scored as non-members (at most [`MAX_MEMBERSHIP`]).
    pub nonmembers: Vec<usize>,
    /// Trained records scored as members, as many as `nonmembers`.
    pub members: Vec<usize>,
    /// The canaries trained in.
    pub canaries: Vec<Canary>,
}

impl AuditPlan {
    /// The plan for training records whose unit is `units[i]`, drawn from `seed`; `None`
    /// when the audit is off.
    pub fn new(settings: &AuditSettings, units: &[usize], seed: u64, tokenizer: &Tokenizer) -> anyhow::Result<Option<Self>> {
        if !settings.enabled {
            return Ok(None);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0061_7564_6974);
        let mut distinct: Vec<usize> = units.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
        distinct.shuffle(&mut rng);
        let count = ((distinct.len() as f64 * settings.holdout).round() as usize).min(distinct.len() / 2);
        let out: BTreeSet<usize> = distinct[..count].iter().copied().collect();
        let (held_out, trained): (Vec<usize>, Vec<usize>) = (0..units.len()).partition(|&i| out.contains(&units[i]));
        if (held_out.len() as u64) < disclosure::MIN_CELL {
            return Err(TooFewHeldOut { held_out: held_out.len(), units: distinct.len() }.into());
        }
        let nonmembers = sample(&held_out, MAX_MEMBERSHIP, &mut rng);
        let members = sample(&trained, nonmembers.len(), &mut rng);
        let canaries = canary::canaries(tokenizer, settings.canaries, &settings.canary_repeats, seed)?;
        Ok(Some(AuditPlan { settings: settings.clone(), held_out, nonmembers, members, canaries }))
    }

    /// The training examples and the unit of each: the records not held out, then every
    /// canary's copies (each canary a unit of its own, numbered after the records' units).
    pub fn training(&self, train: &Dataset, units: &[usize]) -> (Vec<Example>, Vec<usize>) {
        let held: BTreeSet<usize> = self.held_out.iter().copied().collect();
        let mut examples = Vec::new();
        let mut kept_units = Vec::new();
        for (i, prepared) in train.records.iter().enumerate().filter(|(i, _)| !held.contains(i)) {
            examples.push(prepared.example.clone());
            kept_units.push(units[i]);
        }
        let next = units.iter().max().map_or(0, |last| last + 1);
        for (k, canary) in self.canaries.iter().enumerate() {
            for _ in 0..canary.repeats {
                examples.push(canary.example.clone());
                kept_units.push(next + k);
            }
        }
        (examples, kept_units)
    }

    /// The membership examples, non-members first: what the base model is scored on before
    /// training.
    pub fn membership_examples(&self, train: &Dataset) -> Vec<Example> {
        self.nonmembers.iter().chain(&self.members).map(|&i| train.records[i].example.clone()).collect()
    }
}

/// The share `audit.holdout` leaves too few records for membership inference.
#[derive(Debug, thiserror::Error)]
#[error(
    "`audit.holdout` holds out {held_out} training records of {units} units; membership inference needs at least {min} \
     (raise `audit.holdout`, or set `audit.enabled = false` and export an adapter nobody audited)",
    min = disclosure::MIN_CELL
)]
pub struct TooFewHeldOut {
    held_out: usize,
    units: usize,
}

/// `count` of `items` drawn without replacement, in their order.
fn sample(items: &[usize], count: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut drawn: Vec<usize> = items.choose_multiple(rng, count.min(items.len())).copied().collect();
    drawn.sort_unstable();
    drawn
}

/// What the audit measured, with its thresholds.
#[derive(Debug, Clone, Serialize)]
pub struct Findings {
    /// Each canary's exposure.
    pub canaries: Vec<Exposure>,
    /// Candidates each canary was ranked among.
    pub candidates: usize,
    /// The four membership attacks.
    pub membership: Vec<Attack>,
    /// Members and non-members scored.
    pub membership_records: usize,
    /// Verbatim continuations of trained and of held-out targets.
    pub extraction_trained: Hits,
    /// Of held-out targets.
    pub extraction_held_out: Hits,
    /// The checks, in order.
    pub checks: Vec<Check>,
}

/// One gated figure.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What it measures.
    pub figure: &'static str,
    /// The recipe key of its threshold.
    pub key: &'static str,
    /// The figure.
    pub value: f64,
    /// The threshold.
    pub threshold: f64,
}

impl Check {
    /// Whether the figure is within its threshold.
    pub fn passed(&self) -> bool {
        self.value <= self.threshold
    }
}

impl Findings {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(Check::passed)
    }

    /// The checks that failed, each with its excess, for the error message.
    pub fn failures(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|check| !check.passed())
            .map(|c| format!("{} {:.4} > {} (`{}`), over by {:.4}", c.figure, c.value, c.threshold, c.key, c.value - c.threshold))
            .collect()
    }

    /// `metrics.json`'s `audit` object: the figures, thresholds and verdict; counts under the
    /// small-cell rule.
    pub fn document(&self) -> Value {
        let records = self.membership_records;
        let interval = |i: &membership::Interval| {
            json!({ "value": disclosure::cell(records, i.value), "low": disclosure::cell(records, i.low), "high": disclosure::cell(records, i.high) })
        };
        let attacks: Vec<Value> = self
            .membership
            .iter()
            .map(|a| json!({ "attack": a.name, "auc": interval(&a.auc), "base_auc": disclosure::cell(records, a.base_auc), "auc_gain": interval(&a.gain), "tpr_at_1_percent": interval(&a.tpr_at_1_percent), "tpr_at_0_1_percent": interval(&a.tpr_at_0_1_percent) }))
            .collect();
        let hits = |h: Hits| json!({ "tried": Count::of(h.tried as u64), "rate": disclosure::cell(h.tried, h.rate()) });
        let checks: Vec<Value> = self
            .checks
            .iter()
            .map(|c| json!({ "figure": c.figure, "key": c.key, "value": disclosure::round(c.value), "threshold": c.threshold, "passed": c.passed() }))
            .collect();
        json!({
            "passed": self.passed(),
            "checks": checks,
            "canaries": self.exposure_summary(),
            "membership": { "records_each": Count::of(records as u64), "attacks": attacks },
            "extraction": { "verbatim_chars": extraction::VERBATIM_CHARS, "trained": hits(self.extraction_trained), "held_out": hits(self.extraction_held_out) },
        })
    }

    /// Max and mean exposure per repetition count.
    fn exposure_summary(&self) -> Vec<Value> {
        let repeats: BTreeSet<usize> = self.canaries.iter().map(|c| c.repeats).collect();
        repeats
            .into_iter()
            .map(|k| {
                let group: Vec<&Exposure> = self.canaries.iter().filter(|c| c.repeats == k).collect();
                let max = group.iter().map(|c| c.extrapolated).fold(0.0, f64::max);
                let mean = group.iter().map(|c| c.extrapolated).sum::<f64>() / group.len() as f64;
                let by_rank = group.iter().map(|c| c.by_rank).fold(0.0, f64::max);
                json!({ "repeats": k, "canaries": group.len(), "candidates": self.candidates, "max_exposure": disclosure::round(max), "mean_exposure": disclosure::round(mean), "max_exposure_by_rank": disclosure::round(by_rank) })
            })
            .collect()
    }

    /// The report's lines: each check's figure against its threshold.
    pub fn lines(&self) -> Vec<(&'static str, String)> {
        let mut lines: Vec<(&'static str, String)> = self
            .checks
            .iter()
            .map(|c| (c.key, format!("{:.4} (threshold {}, {})", c.value, c.threshold, if c.passed() { "pass" } else { "FAIL" })))
            .collect();
        lines.push(("audit", if self.passed() { "passed".to_owned() } else { "FAILED".to_owned() }));
        lines
    }

    /// The report's text: every figure, each check and the verdict.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for summary in self.exposure_summary() {
            let _ = writeln!(
                text,
                "canaries ×{}: max exposure {} bits, mean {} (by rank at most {} of {:.2})",
                summary["repeats"], summary["max_exposure"], summary["mean_exposure"], summary["max_exposure_by_rank"], ((self.candidates + 1) as f64).log2()
            );
        }
        for attack in &self.membership {
            let _ = writeln!(
                text,
                "membership {}: AUC {:.3} [{:.3}, {:.3}] (base model {:.3}, gain {:+.3} [{:+.3}, {:+.3}]), TPR@1% {:.3}, TPR@0.1% {:.3} ({} records each)",
                attack.name, attack.auc.value, attack.auc.low, attack.auc.high, attack.base_auc, attack.gain.value, attack.gain.low, attack.gain.high, attack.tpr_at_1_percent.value, attack.tpr_at_0_1_percent.value, Count::of(self.membership_records as u64)
            );
        }
        let _ = writeln!(
            text,
            "extraction: {:.3} of {} trained targets and {:.3} of {} held-out targets continued verbatim ({} characters)",
            self.extraction_trained.rate(), Count::of(self.extraction_trained.tried as u64), self.extraction_held_out.rate(), Count::of(self.extraction_held_out.tried as u64), extraction::VERBATIM_CHARS
        );
        for check in &self.checks {
            let verdict = if check.passed() { "pass" } else { "FAIL" };
            let _ = writeln!(text, "{verdict}: {} {:.4} (threshold {}, `{}`)", check.figure, check.value, check.threshold, check.key);
        }
        text
    }
}

/// Measure the model as it stands (the adapter to export) against `plan`; `base` holds the
/// base model's log-probabilities of [`AuditPlan::membership_examples`], scored before training.
pub fn measure(
    plan: &AuditPlan,
    model: &Model,
    tokenizer: &Tokenizer,
    train: &Dataset,
    base: &[Vec<f32>],
    scoring: &Scoring,
    seed: u64,
) -> anyhow::Result<Findings> {
    let settings = &plan.settings;
    let started = Instant::now();
    let canaries = canary::exposures(model, tokenizer, &plan.canaries, settings.candidates, seed, scoring)?;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), canaries = canaries.len(), "audit: canaries ranked");
    let started = Instant::now();
    let examples = plan.membership_examples(train);
    let adapter = scoring.logprobs(model, &examples)?;
    let indices: Vec<usize> = plan.nonmembers.iter().chain(&plan.members).copied().collect();
    let scored: Vec<Scored> = indices
        .iter()
        .zip(adapter.into_iter().zip(base))
        .map(|(&i, (adapter, base))| {
            let target = tokenizer.decode(&train.records[i].example.completion, true)?;
            Ok(Scored { adapter, base: base.clone(), zlib_bytes: membership::zlib_bytes(&target) })
        })
        .collect::<anyhow::Result<_>>()?;
    let (nonmembers, members) = scored.split_at(plan.nonmembers.len());
    let attacks = membership::attacks(members, nonmembers, seed)?;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), records = scored.len(), "audit: membership scored");
    let started = Instant::now();
    let records = |indices: &[usize]| indices.iter().map(|&i| &train.records[i].example).collect::<Vec<_>>();
    let limit = settings.extraction_records;
    let extraction_trained = extraction::attempt(model, tokenizer, &records(&plan.members), limit, scoring.batch)?;
    let extraction_held_out = extraction::attempt(model, tokenizer, &records(&plan.nonmembers), limit, scoring.batch)?;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "audit: extraction tried");
    let max_exposure = canaries.iter().map(|c| c.extrapolated).fold(0.0, f64::max);
    let max_gain = attacks.iter().map(|a| a.gain.low).fold(f64::NEG_INFINITY, f64::max);
    let excess = (extraction_trained.rate() - extraction_held_out.rate()).max(0.0);
    let checks = vec![
        Check { figure: "canary exposure (bits, largest)", key: "audit.max_exposure", value: max_exposure, threshold: settings.max_exposure },
        Check { figure: "membership AUC gain over the base, lower 95 % bound (strongest attack)", key: "audit.max_auc_gain", value: max_gain, threshold: settings.max_auc_gain },
        Check { figure: "extraction excess (trained − held out)", key: "audit.max_extraction", value: excess, threshold: settings.max_extraction },
    ];
    Ok(Findings {
        canaries,
        candidates: settings.candidates,
        membership: attacks,
        membership_records: members.len(),
        extraction_trained,
        extraction_held_out,
        checks,
    })
}
