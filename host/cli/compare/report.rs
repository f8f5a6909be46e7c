//! `compare`'s outputs: the table (terminal and `.txt`) and the JSON, both under the
//! small-cell rule and rounded as exports are, so either may go through the gate.

use std::path::{Path, PathBuf};

use rapha_sandbox::disclosure::{self, Count};
use rapha_stats::bootstrap::{Estimate, Resampling};
use serde_json::{Value, json};

use super::results::Curve;
use super::{Analysis, Cell, Difference};
use crate::atomic;

/// What `compare` found, with what it was computed from.
pub struct Report<'a> {
    /// sha256 of the plan.
    pub plan: &'a str,
    /// The plan's cluster pointer, if any.
    pub unit: Option<&'a str>,
    /// The baseline's label.
    pub baseline: Option<&'a str>,
    /// The bootstrap's settings.
    pub resampling: Resampling,
    /// Each plugin and dataset.
    pub analyses: &'a [Analysis],
    /// The candidates' training curves, where their adapters came with one.
    pub curves: &'a [Curve],
}

/// An estimate as `0.45 [0.40, 0.50]`, or `<11 records` when it may not be shown.
fn interval(n: usize, estimate: &Estimate, signed: bool) -> String {
    let show = |v: f64| disclosure::cell(n, v).map(|v| if signed && v > 0.0 { format!("+{}", disclosure::display(v)) } else { disclosure::display(v) });
    match (show(estimate.value), show(estimate.low), show(estimate.high)) {
        (Some(value), Some(low), Some(high)) => format!("{value} [{low}, {high}]"),
        _ => "<11 records".to_owned(),
    }
}

impl Report<'_> {
    /// The tables, one per plugin and dataset, for the terminal and the `.txt`.
    pub fn text(&self) -> String {
        let clusters = self.unit.map_or_else(|| "the record".to_owned(), |u| format!("`{u}`"));
        let mut text = format!(
            "95 % intervals from {} bootstrap resamples (seed {}) clustered by {clusters}; differences against `{}`\n",
            self.resampling.resamples,
            self.resampling.seed,
            self.baseline.unwrap_or("-")
        );
        for analysis in self.analyses {
            let slice = analysis.slice.as_ref().map_or_else(String::new, |(label, value)| format!(" · {label} = {value}"));
            text.push_str(&format!("\n{} · {}{slice}\n", analysis.plugin, analysis.dataset));
            let width = analysis.metrics.iter().map(String::len).max().unwrap_or(6).max(6);
            for (label, cells) in &analysis.candidates {
                text.push_str(&format!("  {label}\n"));
                for (metric, cell) in analysis.metrics.iter().zip(cells) {
                    if let Some(Cell { n, estimate }) = cell {
                        text.push_str(&format!("    {metric:<width$}  {}  n={}\n", interval(*n, estimate, false), Count::of(*n as u64)));
                    }
                }
            }
            for difference in &analysis.differences {
                text.push_str(&difference_line(difference, width));
            }
        }
        let lowest = lowest(self.analyses);
        if !lowest.is_empty() {
            text.push_str("\nlowest subgroup mean (subgroups of 11 or more records)\n");
            for low in &lowest {
                let Lowest { plugin, dataset, candidate, metric, slice, at, value } = low;
                text.push_str(&format!("  {plugin} · {dataset} · {candidate} · {metric}  {} ({slice} = {at})\n", disclosure::display(*value)));
            }
        }
        if self.analyses.iter().flat_map(|a| &a.differences).any(|d| d.underpowered) {
            text.push_str("\n(*) smaller than the least difference these records could detect (power 0.8, α 0.05): too few to tell, not evidence of none\n");
        }
        text
    }

    /// The JSON document.
    pub fn json(&self) -> Value {
        let analyses: Vec<Value> = self.analyses.iter().map(analysis_json).collect();
        let lowest: Vec<Value> = lowest(self.analyses)
            .into_iter()
            .map(|l| json!({"plugin": l.plugin, "dataset": l.dataset, "candidate": l.candidate, "metric": l.metric, "slice": l.slice, "at": l.at, "value": l.value}))
            .collect();
        json!({
            "plan": self.plan,
            "unit": self.unit,
            "baseline": self.baseline,
            "level": self.resampling.level,
            "resamples": self.resampling.resamples,
            "seed": self.resampling.seed,
            "comparisons": analyses,
            "lowest_subgroup": lowest,
            "training": self.curves.iter().map(|c| json!({"candidate": c.candidate, "train": c.train, "eval": c.eval})).collect::<Vec<_>>(),
        })
    }

    /// Write `<work>/compare/<name>.json`, `.txt` and `.html`; their paths.
    pub fn save(&self, work: &Path, name: &str) -> anyhow::Result<[PathBuf; 3]> {
        let dir = work.join("compare");
        std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("cannot create `{}`: {e}", dir.display()))?;
        let path = |extension: &str| dir.join(format!("{name}.{extension}"));
        let (json_path, text_path, html_path) = (path("json"), path("txt"), path("html"));
        atomic::write(&html_path, super::html::render(self).as_bytes())?;
        let mut document = self.json();
        document.sort_all_objects();
        atomic::write(&json_path, (serde_json::to_string_pretty(&document).expect("a report serialises") + "\n").as_bytes())?;
        atomic::write(&text_path, self.text().as_bytes())?;
        Ok([json_path, text_path, html_path])
    }
}

/// `    run − base  metric  +0.3 [0.2, 0.4]  mcnemar p=0.01 (Holm 0.02) n=40`.
fn difference_line(d: &Difference, width: usize) -> String {
    let p = |v: f64| disclosure::cell(d.n, v).map_or_else(|| "-".to_owned(), disclosure::display);
    let flag = if d.underpowered { " (*)" } else { "" };
    format!(
        "  {} − baseline  {:<width$}  {}  {} p={} (Holm {})  n={}{flag}\n",
        d.candidate,
        d.metric,
        interval(d.n, &d.difference, true),
        d.test,
        p(d.p),
        p(d.p_holm),
        Count::of(d.n as u64)
    )
}

fn estimate_json(n: usize, estimate: &Estimate) -> Value {
    json!({"n": Count::of(n as u64), "value": disclosure::cell(n, estimate.value), "low": disclosure::cell(n, estimate.low), "high": disclosure::cell(n, estimate.high)})
}

fn analysis_json(analysis: &Analysis) -> Value {
    let candidates: Vec<Value> = analysis
        .candidates
        .iter()
        .map(|(label, cells)| {
            let metrics: serde_json::Map<String, Value> = analysis
                .metrics
                .iter()
                .zip(cells)
                .filter_map(|(metric, cell)| Some((metric.clone(), cell.as_ref().map(|c| estimate_json(c.n, &c.estimate))?)))
                .collect();
            json!({"label": label, "metrics": metrics})
        })
        .collect();
    let differences: Vec<Value> = analysis
        .differences
        .iter()
        .map(|d| {
            let mut value = estimate_json(d.n, &d.difference);
            value["candidate"] = json!(d.candidate);
            value["metric"] = json!(d.metric);
            value["test"] = json!(d.test);
            value["p"] = json!(disclosure::cell(d.n, d.p));
            value["p_holm"] = json!(disclosure::cell(d.n, d.p_holm));
            value["underpowered"] = json!(d.underpowered);
            value
        })
        .collect();
    let slice = analysis.slice.as_ref().map(|(label, value)| json!({"label": label, "value": value}));
    json!({"plugin": analysis.plugin, "dataset": analysis.dataset, "slice": slice, "candidates": candidates, "differences": differences})
}

/// A candidate's lowest subgroup mean of a metric within one slice.
struct Lowest<'a> {
    plugin: &'a str,
    dataset: &'a str,
    candidate: &'a str,
    metric: &'a str,
    slice: &'a str,
    /// The subgroup.
    at: &'a str,
    /// Its mean, rounded as it may leave.
    value: f64,
}

/// For every plugin, dataset, slice, candidate and metric, the subgroup with the lowest mean
/// among those that may be shown (11 records or more).
fn lowest(analyses: &[Analysis]) -> Vec<Lowest<'_>> {
    let mut found: Vec<Lowest<'_>> = Vec::new();
    for analysis in analyses {
        let Some((slice, at)) = &analysis.slice else {
            continue;
        };
        for (candidate, cells) in &analysis.candidates {
            for (metric, cell) in analysis.metrics.iter().zip(cells) {
                let Some(value) = cell.as_ref().and_then(|c| disclosure::cell(c.n, c.estimate.value)) else {
                    continue;
                };
                let same = |l: &Lowest<'_>| {
                    l.plugin == analysis.plugin && l.dataset == analysis.dataset && l.slice == slice && l.candidate == candidate && l.metric == metric
                };
                match found.iter_mut().find(|l| same(l)) {
                    Some(low) if value < low.value => {
                        low.value = value;
                        low.at = at;
                    }
                    Some(_) => {}
                    None => found.push(Lowest { plugin: &analysis.plugin, dataset: &analysis.dataset, candidate, metric, slice, at, value }),
                }
            }
        }
    }
    found
}
