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
mod findings;
pub mod membership;

pub use findings::{Check, Findings};

use std::collections::BTreeSet;
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;
use rapha_engine::score::completion_logprobs;
use rapha_engine::{Example, Model, Tokenizer};
use rapha_sandbox::disclosure;

use crate::recipe::AuditSettings;
use crate::stages::data::Dataset;
use canary::Canary;
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
    /// The seed the plan, the candidates and the intervals are drawn from.
    pub seed: u64,
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
        Ok(Some(AuditPlan { settings: settings.clone(), held_out, nonmembers, members, canaries, seed }))
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

    /// The membership records, non-members first.
    fn membership_records(&self) -> impl Iterator<Item = usize> + '_ {
        self.nonmembers.iter().chain(&self.members).copied()
    }

    /// The membership examples, non-members first: what the base model is scored on before
    /// training.
    pub fn membership_examples(&self, train: &Dataset) -> Vec<Example> {
        self.membership_records().map(|i| train.records[i].example.clone()).collect()
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

/// What the audit measures: the model as it stands (the adapter to export) and what it was
/// trained from.
pub struct Subject<'a> {
    /// The model with the adapter to export.
    pub model: &'a Model,
    /// Its tokenizer.
    pub tokenizer: &'a Tokenizer,
    /// The training records the plan was drawn over.
    pub train: &'a Dataset,
    /// The base model's log-probabilities of [`AuditPlan::membership_examples`], scored
    /// before training.
    pub base: &'a [Vec<f32>],
    /// Batch and sequence settings.
    pub scoring: &'a Scoring,
}

/// The membership attacks on the plan's records, scored by the adapter now and by the base
/// before training.
fn membership_attacks(plan: &AuditPlan, subject: &Subject<'_>) -> anyhow::Result<Vec<Attack>> {
    let Subject { model, tokenizer, train, base, scoring } = *subject;
    let adapter = scoring.logprobs(model, &plan.membership_examples(train))?;
    let scored: Vec<Scored> = plan
        .membership_records()
        .zip(adapter.into_iter().zip(base))
        .map(|(i, (adapter, base))| {
            let target = tokenizer.decode(&train.records[i].example.completion, true)?;
            Ok(Scored { adapter, base: base.clone(), zlib_bytes: membership::zlib_bytes(&target) })
        })
        .collect::<anyhow::Result<_>>()?;
    let (nonmembers, members) = scored.split_at(plan.nonmembers.len());
    membership::attacks(members, nonmembers, plan.seed)
}

/// Measure `subject` against `plan`.
pub fn measure(plan: &AuditPlan, subject: &Subject<'_>) -> anyhow::Result<Findings> {
    let Subject { model, tokenizer, train, scoring, .. } = *subject;
    let (settings, seed) = (&plan.settings, plan.seed);
    let started = Instant::now();
    let canaries = canary::exposures(model, tokenizer, &plan.canaries, settings.candidates, seed, scoring)?;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), canaries = canaries.len(), "audit: canaries ranked");
    let started = Instant::now();
    let attacks = membership_attacks(plan, subject)?;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), records = 2 * plan.members.len(), "audit: membership scored");
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
        membership_records: plan.members.len(),
        extraction_trained,
        extraction_held_out,
        checks,
    })
}
