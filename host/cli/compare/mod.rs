//! `rapha-host compare RESULTS…`: from `eval`'s results, each metric of each candidate with a
//! 95 % bootstrap interval clustered by the plan's unit, and each candidate's paired
//! difference from a baseline with its interval and p-value (exact McNemar for 0/1 metrics,
//! the paired bootstrap otherwise), Holm-adjusted across the metrics, with a warning when
//! the records are too few to detect the difference seen ([`rapha_stats`]).
//!
//! With the plan's slices, the same per subgroup (a sex, an age band) and, per candidate and
//! metric, the lowest subgroup mean: the view a fairness review asks for.
//!
//! The table is printed; JSON, a `.txt` summary and an offline HTML report ([`html`]) go to
//! `<work>/compare/`. The JSON and the text may be carried out through the gate (the HTML may
//! not: the gate allows no `.html`), so they hold figures as exports do: over fewer than 11
//! records a figure is left out and its count written `<11`, and every figure is rounded
//! to 3 significant digits.

mod html;
mod report;
mod results;

use std::path::Path;

use anyhow::bail;
use rapha_stats::bootstrap::{self, Estimate, Resampling};
use rapha_stats::{holm, mcnemar, power};

use crate::args::CompareArgs;
use results::{Group, Row};

/// One candidate's metric: how many records have it, and its mean with an interval.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Records with the metric.
    pub n: usize,
    /// The mean and its interval.
    pub estimate: Estimate,
}

/// A candidate's paired difference from the baseline on one metric.
#[derive(Debug, Clone)]
pub struct Difference {
    /// The candidate.
    pub candidate: String,
    /// The metric.
    pub metric: String,
    /// Records both have the metric for.
    pub n: usize,
    /// Candidate − baseline, with its interval.
    pub difference: Estimate,
    /// `mcnemar` or `bootstrap`.
    pub test: &'static str,
    /// Its two-sided p-value.
    pub p: f64,
    /// Holm-adjusted across the metrics of this candidate and group.
    pub p_holm: f64,
    /// Whether the difference is below the smallest one these records could detect.
    pub underpowered: bool,
}

/// One plugin and dataset, or a slice of them, analysed.
#[derive(Debug)]
pub struct Analysis {
    /// The slice's label and the subgroup's value, or `None` for all records.
    pub slice: Option<(String, String)>,
    /// The plugin's label.
    pub plugin: String,
    /// The dataset's label.
    pub dataset: String,
    /// The metrics, in order.
    pub metrics: Vec<String>,
    /// Each candidate's cells, by metric (`None`: no record has it).
    pub candidates: Vec<(String, Vec<Option<Cell>>)>,
    /// The differences from the baseline.
    pub differences: Vec<Difference>,
}

/// Compare the results in `args.results`, writing into the work folder `work`.
pub fn run(work: &Path, args: &CompareArgs) -> anyhow::Result<()> {
    let compared = results::read(&args.results)?;
    let resampling = Resampling { resamples: args.resamples, seed: args.seed, level: 0.95 };
    let mut analyses = Vec::new();
    for group in &compared.groups {
        let baseline = match &args.baseline {
            Some(label) => label.clone(),
            None => group.candidates.first().map(|(label, _)| label.clone()).unwrap_or_default(),
        };
        if !group.candidates.iter().any(|(label, _)| *label == baseline) {
            let labels: Vec<&str> = group.candidates.iter().map(|(l, _)| l.as_str()).collect();
            bail!("--baseline: expected one of the candidates {labels:?}, found `{baseline}`");
        }
        analyses.push(analyse(group, &baseline, &resampling)?);
        for slice in &compared.slices {
            for (value, sub) in group.slices(slice) {
                let mut analysis = analyse(&sub, &baseline, &resampling)?;
                analysis.slice = Some((slice.clone(), value));
                analyses.push(analysis);
            }
        }
    }
    let baseline = args.baseline.clone().or_else(|| compared.groups.first()?.candidates.first().map(|(l, _)| l.clone()));
    let report = report::Report {
        plan: &compared.plan,
        unit: compared.unit.as_deref(),
        baseline: baseline.as_deref(),
        resampling,
        analyses: &analyses,
        curves: &compared.curves,
    };
    print!("{}", report.text());
    let [json, text, html] = report.save(work, &args.name())?;
    println!("written to `{}`, `{}` and (for this machine's browser) `{}`", json.display(), text.display(), html.display());
    Ok(())
}

/// Every candidate's cells and every non-baseline candidate's differences in `group`.
fn analyse(group: &Group, baseline: &str, resampling: &Resampling) -> anyhow::Result<Analysis> {
    let mut candidates = Vec::new();
    for (label, rows) in &group.candidates {
        let cells = group.metrics.iter().map(|metric| cell(rows, metric, resampling)).collect::<anyhow::Result<_>>()?;
        candidates.push((label.clone(), cells));
    }
    let base_rows = &group.candidates.iter().find(|(label, _)| label == baseline).expect("checked by the caller").1;
    let mut differences = Vec::new();
    for (label, rows) in group.candidates.iter().filter(|(label, _)| label != baseline) {
        let mut family: Vec<Difference> = Vec::new();
        for metric in &group.metrics {
            if let Some(difference) = paired(label, metric, base_rows, rows, resampling)? {
                family.push(difference);
            }
        }
        let adjusted = holm::adjust(&family.iter().map(|d| d.p).collect::<Vec<_>>());
        for (difference, p_holm) in family.iter_mut().zip(adjusted) {
            difference.p_holm = p_holm;
        }
        differences.extend(family);
    }
    Ok(Analysis { slice: None, plugin: group.plugin.clone(), dataset: group.dataset.clone(), metrics: group.metrics.clone(), candidates, differences })
}

/// The mean of `metric` over the rows that have it, clustered by unit.
fn cell(rows: &[Row], metric: &str, resampling: &Resampling) -> anyhow::Result<Option<Cell>> {
    let (values, units): (Vec<f64>, Vec<&str>) = rows.iter().filter_map(|r| Some((*r.metrics.get(metric)?, r.unit.as_str()))).unzip();
    if values.is_empty() {
        return Ok(None);
    }
    Ok(Some(Cell { n: values.len(), estimate: bootstrap::mean(&values, &units, resampling)? }))
}

/// The paired difference on `metric` over the records both have it for (`None`: none).
fn paired(candidate: &str, metric: &str, base: &[Row], rows: &[Row], resampling: &Resampling) -> anyhow::Result<Option<Difference>> {
    let mut pairs = (Vec::new(), Vec::new(), Vec::new());
    for (b, c) in base.iter().zip(rows) {
        if let (Some(&x), Some(&y)) = (b.metrics.get(metric), c.metrics.get(metric)) {
            pairs.0.push(x);
            pairs.1.push(y);
            pairs.2.push(b.unit.as_str());
        }
    }
    let (before, after, units) = pairs;
    if before.is_empty() {
        return Ok(None);
    }
    let bootstrapped = bootstrap::paired(&before, &after, &units, resampling)?;
    let (test, p) = match mcnemar::discordant(&before, &after)? {
        Some((b, c)) => ("mcnemar", mcnemar::exact(b, c)),
        None => ("bootstrap", bootstrapped.p_value),
    };
    let differences: Vec<f64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let observed = bootstrapped.difference.value.abs();
    let underpowered = power::minimum_detectable(&differences).is_none_or(|smallest| observed < smallest);
    Ok(Some(Difference {
        candidate: candidate.to_owned(),
        metric: metric.to_owned(),
        n: before.len(),
        difference: bootstrapped.difference,
        test,
        p,
        p_holm: p,
        underpowered,
    }))
}
