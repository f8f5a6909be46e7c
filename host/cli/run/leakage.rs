//! The leakage audit as a run takes it: the base model's scores before training, kept for a
//! resume; the measurement of the adapter about to leave; the verdict, which stops the run
//! before its export when a figure is over its threshold.

use anyhow::Context;
use rapha_engine::Model;
use rapha_sandbox::Decision;

use super::Run;
use crate::stages::audit::{self, AuditPlan, Findings, Scoring, Subject};
use crate::stages::data::Dataset;

impl Run<'_> {
    /// The base model's log-probabilities of the audit's membership records, scored before the
    /// first step (the base is the model before training) and kept in the work folder, where a
    /// resumed run finds them.
    pub(super) fn audit_base(&self, plan: &AuditPlan, model: &Model, train: &Dataset, start_step: u64, scoring: &Scoring) -> anyhow::Result<Vec<Vec<f32>>> {
        let path = self.folders.work.join("audit-base-logprobs.json");
        if path.exists() {
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
            return serde_json::from_str(&text).with_context(|| format!("`{}` is not the audit's base scores", path.display()));
        }
        anyhow::ensure!(start_step == 0, "cannot resume: `{}` is missing, and the base model can only be scored before training", path.display());
        let scores = scoring.logprobs(model, &plan.membership_examples(train))?;
        crate::atomic::write(&path, &serde_json::to_vec(&scores).expect("scores serialise"))?;
        Ok(scores)
    }

    /// Run the leakage audit on the adapter to export; write its figures to the work folder;
    /// fail the run, before anything is exported, when a figure is over its threshold.
    pub(super) fn audit(&self, plan: &AuditPlan, subject: &Subject<'_>) -> anyhow::Result<Findings> {
        let findings = audit::measure(plan, subject)?;
        let work = &self.folders.work;
        let text = findings.text();
        crate::atomic::write(&work.join("audit.txt"), text.as_bytes())?;
        let json = serde_json::to_vec_pretty(&findings).expect("findings serialise");
        crate::atomic::write(&work.join("audit.json"), &json)?;
        let verdict = if findings.passed() { Decision::Noted } else { Decision::Refused };
        self.audit.record("leakage-audit", "adapter", verdict, &text.replace('\n', "; "))?;
        if !findings.passed() {
            anyhow::bail!(
                "the leakage audit failed: {}; nothing was exported; the figures are in `{}`",
                findings.failures().join("; "),
                work.join("audit.txt").display()
            );
        }
        Ok(findings)
    }

}
