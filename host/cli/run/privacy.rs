//! A private run's plan, settled before any training: the privacy unit of each training
//! record, δ, the sampling rate and the noise — each checked against the recipe key it comes
//! from — and what the run spent, for the log, the report and the site's accountant.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use rapha_engine::dp::{DpConfig, Randomness};
use rapha_privacy::{Accountant, Spent, calibrate};
use rapha_sandbox::disclosure::Count;
use serde_json::{Value, json};

use crate::recipe::{DpSettings, PrivacyUnit, Recipe};
use crate::report::Section;
use crate::stages::data::Dataset;

/// How a private run trains, and what it may spend.
#[derive(Debug, Clone)]
pub struct PrivacyPlan {
    /// The engine's DP-SGD settings.
    pub config: DpConfig,
    /// The unit as the report names it.
    pub unit: String,
    /// Whether the noise was calibrated to `privacy.dp.epsilon` (else it was given).
    pub calibrated: bool,
}

impl PrivacyPlan {
    /// The plan for `recipe`'s `[privacy.dp]` over training examples whose units are `units`
    /// (`record_units` distinct among the records read from `train`, the rest the audit's
    /// canaries) and `max_steps`, or `None` without DP.
    pub fn new(recipe: &Recipe, units: Vec<usize>, record_units: usize, train: &Dataset, max_steps: u64) -> anyhow::Result<Option<Self>> {
        let Some(dp) = &recipe.privacy.dp else { return Ok(None) };
        if (record_units as u64) < recipe.privacy.min_records {
            return Err(recipe
                .error_at(
                    "privacy.min_records",
                    &format!("at least {} distinct privacy units (`privacy.dp.unit`)", recipe.privacy.min_records),
                    &format!("{record_units} units among {} records in `{}`", train.records.len(), train.path.display()),
                )
                .into());
        }
        let units = compact(units);
        let count = units.iter().max().map_or(0, |last| last + 1);
        let delta = match dp.delta {
            Some(delta) if delta * count as f64 >= 1.0 => {
                let expected = format!("a δ below 1 / units = {:.3e} ({count} units)", 1.0 / count as f64);
                return Err(recipe.error_at("privacy.dp.delta", &expected, &format!("`{delta}`")).into());
            }
            Some(delta) => delta,
            None => 1.0 / (10.0 * count as f64),
        };
        let per_step = (recipe.train.batch_size * recipe.train.grad_accum) as f64;
        let sample_rate = dp.sample_rate.unwrap_or_else(|| (per_step / count as f64).min(1.0));
        let prior = earlier_rounds(recipe, delta)?;
        let noise_multiplier = noise(recipe, dp, sample_rate, delta, max_steps, &prior)?;
        let randomness = dp.insecure_seed.map_or(Randomness::OperatingSystem, Randomness::InsecureSeed);
        let config = DpConfig {
            sample_rate,
            noise_multiplier,
            max_grad_norm: dp.max_grad_norm,
            units,
            prior,
            delta,
            budget: dp.epsilon,
            randomness,
        };
        let unit = match &dp.unit {
            PrivacyUnit::Record => "record".to_owned(),
            PrivacyUnit::Pointer(pointer) => format!("patient ({pointer})"),
        };
        Ok(Some(Self { config, unit, calibrated: dp.noise_multiplier.is_none() }))
    }

    /// What the run spent after `steps`.
    pub fn spent(&self, steps: u64) -> anyhow::Result<Spent> {
        Ok(self.config.spent_after(steps)?)
    }

    /// The privacy section of the report and of `metrics.json` after `steps`.
    pub fn section(&self, steps: u64) -> anyhow::Result<Section> {
        let spent = self.spent(steps)?;
        Ok(Section { lines: self.lines(steps, spent), document: self.document(steps, spent) })
    }

    /// `metrics.json`'s `privacy` object.
    fn document(&self, steps: u64, spent: Spent) -> Value {
        json!({
            "mechanism": "DP-SGD, Poisson-sampled Gaussian, RDP accountant",
            "unit": self.unit,
            "units": Count::of(self.config.unit_count() as u64),
            "epsilon": round(spent.epsilon),
            "epsilon_budget": self.config.budget,
            "delta": self.config.delta,
            "sample_rate": round(self.config.sample_rate),
            "noise_multiplier": round(self.config.noise_multiplier),
            "noise_calibrated": self.calibrated,
            "max_grad_norm": self.config.max_grad_norm,
            "steps": steps,
            "insecure_seed": matches!(self.config.randomness, Randomness::InsecureSeed(_)),
        })
    }

    /// The report's lines.
    fn lines(&self, steps: u64, spent: Spent) -> Vec<(&'static str, String)> {
        let config = &self.config;
        let budget = config.budget.map_or_else(String::new, |budget| format!(" of a budget of {budget}"));
        let mut lines = vec![
            ("dp epsilon", format!("{:.4}{budget} at delta {:.3e}", spent.epsilon, config.delta)),
            ("dp unit", format!("{} ({} units)", self.unit, Count::of(config.unit_count() as u64))),
            ("dp sampling", format!("q {:.6}, {steps} steps", config.sample_rate)),
            ("dp noise", format!("sigma {:.4} ({}), clip {}", config.noise_multiplier, self.source(), config.max_grad_norm)),
        ];
        if matches!(config.randomness, Randomness::InsecureSeed(_)) {
            lines.push(("dp randomness", "INSECURE: a fixed seed (privacy.dp.insecure_seed); no guarantee".to_owned()));
        }
        lines
    }

    fn source(&self) -> &'static str {
        if self.calibrated { "calibrated to the budget" } else { "as given" }
    }

    /// Save the site's accountant after `steps` (earlier rounds' steps included) in the work
    /// folder, and for a federated site in its own work folder too, where its next round
    /// finds it. A round trained and then stopped before its export still counts: spending is
    /// over-counted, never under.
    pub fn save_accountant(&self, recipe: &Recipe, work: &Path, steps: u64) -> anyhow::Result<()> {
        let accountant = self.config.accountant_after(steps)?;
        let text = serde_json::to_string_pretty(&accountant).expect("an accountant serialises");
        let site = recipe.federation.as_ref().map(|f| f.site_work.as_path()).filter(|site| *site != work);
        for folder in std::iter::once(work).chain(site) {
            let path = folder.join(ACCOUNTANT);
            crate::atomic::write(&path, text.as_bytes()).with_context(|| format!("cannot write `{}`", path.display()))?;
        }
        Ok(())
    }
}

/// The accountant's file name.
const ACCOUNTANT: &str = "privacy-accountant.json";

/// What a federated site spent in its earlier rounds (its own work folder's accountant;
/// nothing in the first round or outside a federation). A site whose budget is already spent
/// declines the round.
fn earlier_rounds(recipe: &Recipe, delta: f64) -> anyhow::Result<Accountant> {
    let Some(federation) = &recipe.federation else { return Ok(Accountant::new()) };
    let path = federation.site_work.join(ACCOUNTANT);
    if !path.exists() {
        return Ok(Accountant::new());
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read the site's privacy accountant `{}`", path.display()))?;
    let prior: Accountant = serde_json::from_str(&text).with_context(|| format!("`{}` is not a privacy accountant", path.display()))?;
    if let Some(budget) = recipe.privacy.dp.as_ref().and_then(|dp| dp.epsilon) {
        let spent = prior.spent(delta)?.epsilon;
        if spent >= budget {
            anyhow::bail!(
                "site `{}` declines round {}: its earlier rounds spent ε = {spent:.4} of its budget of {budget} \
                 (`privacy.dp.epsilon`, δ {delta:.3e}; `{}`)",
                federation.site,
                federation.round,
                path.display()
            );
        }
    }
    Ok(prior)
}

/// The noise multiplier: as given (checked against the budget), or calibrated to it.
fn noise(recipe: &Recipe, dp: &DpSettings, q: f64, delta: f64, steps: u64, prior: &Accountant) -> anyhow::Result<f64> {
    match (dp.noise_multiplier, dp.epsilon) {
        (Some(sigma), Some(epsilon)) => {
            let spent = prior.spent_after(q, sigma, steps, delta)?.epsilon;
            if spent > epsilon {
                let expected = format!(
                    "a budget that {steps} steps at noise multiplier {sigma} and sampling rate {q:.6} can keep \
                     (they spend ε = {spent:.4}); leave out `privacy.dp.noise_multiplier` to calibrate it"
                );
                return Err(recipe.error_at("privacy.dp.epsilon", &expected, &format!("`{epsilon}`")).into());
            }
            Ok(sigma)
        }
        (Some(sigma), None) => Ok(sigma),
        (None, Some(epsilon)) => calibrate::noise_multiplier(epsilon, delta, q, steps, prior)
            .map_err(|error| recipe.error_at("privacy.dp.epsilon", "a budget some noise can meet", &error.to_string()).into()),
        (None, None) => unreachable!("the recipe check requires `epsilon` or `noise_multiplier`"),
    }
}

/// `units` renumbered from 0 in order of first appearance (units held out by the audit
/// leave gaps).
fn compact(units: Vec<usize>) -> Vec<usize> {
    let mut ids: HashMap<usize, usize> = HashMap::new();
    units
        .into_iter()
        .map(|unit| {
            let next = ids.len();
            *ids.entry(unit).or_insert(next)
        })
        .collect()
}

/// The privacy unit of each training record: its position, unless `privacy.dp.unit` is a
/// pointer: then one index per distinct value there (a string or a number), in order of
/// first appearance.
pub fn record_units(recipe: &Recipe, train: &Dataset) -> anyhow::Result<Vec<usize>> {
    let Some(PrivacyUnit::Pointer(pointer)) = recipe.privacy.dp.as_ref().map(|dp| &dp.unit) else {
        return Ok((0..train.records.len()).collect());
    };
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut units = Vec::with_capacity(train.records.len());
    for prepared in &train.records {
        let record: Value = serde_json::from_str(&prepared.record.json).context("a training record is JSON")?;
        let key = match record.pointer(pointer) {
            Some(Value::String(text)) if !text.is_empty() => text.clone(),
            Some(Value::Number(number)) => number.to_string(),
            found => {
                let what = if found.is_none() { "nothing" } else { "neither a non-empty string nor a number" };
                let found = format!("`{pointer}` matches {what} in record `{}` (line {} of `{}`)", prepared.record.id, prepared.record.line, train.path.display());
                return Err(recipe.error_at("privacy.dp.unit", "a JSON pointer that gives every training record's patient identifier", &found).into());
            }
        };
        let next = ids.len();
        units.push(*ids.entry(key).or_insert(next));
    }
    Ok(units)
}

/// A figure to 4 significant digits, as the report shows it.
fn round(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let scale = 10f64.powi(3 - value.abs().log10().floor() as i32);
    (value * scale).round() / scale
}
