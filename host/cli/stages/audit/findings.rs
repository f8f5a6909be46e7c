//! What the audit found: the figures, each check against its threshold, and how they are
//! shown — in full in the work folder, under the small-cell rule in what leaves.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use rapha_sandbox::disclosure::{self, Count};
use serde::Serialize;
use serde_json::{Value, json};

use super::canary::Exposure;
use crate::report::Section;
use super::extraction::{self, Hits};
use super::membership::{self, Attack};

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

    /// The audit's section of the report and of `metrics.json`.
    pub fn section(&self) -> Section {
        Section { lines: self.lines(), document: self.document() }
    }

    /// `metrics.json`'s `audit` object: the figures, thresholds and verdict; counts under the
    /// small-cell rule.
    fn document(&self) -> Value {
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
    fn lines(&self) -> Vec<(&'static str, String)> {
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

