//! Training as a run follows it: the engine's loop drives the steps, evaluations and
//! checkpoints; this observer draws progress, writes the journal and, at each evaluation,
//! has the adapter answer the validation records, scores the answers with the plugin,
//! keeps the best adapter so far and stops early when the selected metric stopped improving.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rapha_engine::{Flow, Observer, PeftAdapter, StepReport, Trainer};
use rapha_task_host::TaskPlugin;

use crate::progress::{Progress, TrainingBar};
use crate::run::journal::{EvalLine, Journal, StepLine};
use crate::run::selection::Selection;
use crate::run::stopped_by_signal;
use crate::stages::data::Dataset;
use crate::stages::predictions::{self, Generator};

/// What follows training in a run.
pub struct Evaluations<'a> {
    /// Answers the validation records with the adapter being trained.
    pub generator: &'a Generator<'a>,
    /// Scores the answers.
    pub plugin: &'a mut TaskPlugin,
    /// The validation records.
    pub val: &'a Dataset,
    /// The run's history.
    pub journal: &'a mut Journal,
    /// Which evaluation is best, and when to stop.
    pub selection: &'a Selection,
    /// Progress bars.
    pub progress: &'a Progress,
    /// The training bar.
    pub bar: &'a TrainingBar,
    /// The work folder.
    pub work: &'a Path,
}

impl Observer for Evaluations<'_> {
    type Error = anyhow::Error;

    fn on_step(&mut self, report: &StepReport) -> anyhow::Result<()> {
        self.bar.step(report);
        self.journal.push_step(StepLine {
            step: report.step,
            loss: report.loss,
            learning_rate: report.learning_rate,
            tokens: report.tokens as u64,
            seconds: report.tokens as f64 / report.tokens_per_second.max(f64::MIN_POSITIVE),
        })
    }

    /// A scoring stopped by a signal leaves the evaluation out of the journal: the loop
    /// checkpoints the step and stops, and `--resume` evaluates it first.
    fn on_eval(&mut self, trainer: &Trainer<'_>, loss: Option<f64>) -> anyhow::Result<Flow> {
        let step = trainer.step_count();
        let eval_loss = loss.context("no validation records to evaluate")?;
        let eval_bar = self.progress.evaluation(&format!("eval step {step}"), self.val.records.len() as u64);
        let answers = self.generator.answer(&self.val.records, &eval_bar)?;
        eval_bar.finish();
        predictions::save(&self.work.join("predictions").join(format!("val-step-{step}.jsonl")), &answers)?;
        let scored = match predictions::score(self.plugin, self.val, &answers) {
            Err(error) if stopped_by_signal(&error) => return Ok(Flow::Continue),
            scored => scored?,
        };
        let line = EvalLine {
            step,
            eval_loss,
            metrics: scored.metrics.iter().map(|m| (m.name.clone(), m.value)).collect(),
            records: scored.records.len(),
        };
        if self.selection.improves(self.journal.evals(), &line) {
            save_best(self.work, step, &trainer.adapter()?)?;
        }
        let selected = self.selection.value(&line);
        tracing::info!(step, eval_loss, metric = %self.selection.metric, value = ?selected, "evaluated");
        self.bar.eval(step, Some(eval_loss), selected.map(|v| (self.selection.metric.as_str(), v)));
        self.journal.push_eval(line)?;
        Ok(if self.selection.exhausted(self.journal.evals()) { Flow::Stop } else { Flow::Continue })
    }
}

/// The folder holding the adapter of evaluation step `step` while it is the best.
pub fn best_dir(work: &Path, step: u64) -> PathBuf {
    work.join("best").join(format!("step-{step}"))
}

/// Save `adapter` as the best so far, then remove the one it replaces.
fn save_best(work: &Path, step: u64, adapter: &PeftAdapter) -> anyhow::Result<()> {
    let dir = best_dir(work, step);
    adapter.save(&dir).with_context(|| format!("cannot save the best adapter to `{}`", dir.display()))?;
    let parent = work.join("best");
    for entry in std::fs::read_dir(&parent).with_context(|| format!("cannot list `{}`", parent.display()))? {
        let path = entry.with_context(|| format!("cannot list `{}`", parent.display()))?.path();
        if path != dir {
            std::fs::remove_dir_all(&path).with_context(|| format!("cannot remove `{}`", path.display()))?;
        }
    }
    Ok(())
}
