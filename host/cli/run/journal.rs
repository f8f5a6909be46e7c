//! The run's history in the work folder: one line per optimizer step and one per
//! evaluation, appended as they happen. A resumed run keeps the lines up to its
//! checkpoint and drops the rest, so its history reads as one uninterrupted run.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::atomic;

/// One optimizer step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepLine {
    /// Steps done, this one included.
    pub step: u64,
    /// Mean loss over the step's completion tokens; `None` for a private step that sampled
    /// no unit.
    pub loss: Option<f64>,
    /// Learning rate of the update.
    pub learning_rate: f64,
    /// Real tokens processed.
    pub tokens: u64,
    /// Wall time of the step.
    pub seconds: f64,
}

/// One evaluation on the validation records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalLine {
    /// The step evaluated.
    pub step: u64,
    /// Mean loss per completion token.
    pub eval_loss: f64,
    /// The plugin's aggregate metrics on the generated answers, by name.
    pub metrics: Vec<(String, f64)>,
    /// Records evaluated.
    pub records: usize,
}

/// The two append-only files, `steps.jsonl` and `evals.jsonl`, and what they hold.
pub struct Journal {
    steps_path: PathBuf,
    evals_path: PathBuf,
    steps: Vec<StepLine>,
    evals: Vec<EvalLine>,
}

impl Journal {
    /// Open the journal in `dir`, keeping only lines up to `step` (the checkpoint the run
    /// starts from; 0 for a fresh run).
    pub fn open(dir: &Path, step: u64) -> anyhow::Result<Journal> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        let steps_path = dir.join("steps.jsonl");
        let evals_path = dir.join("evals.jsonl");
        let steps: Vec<StepLine> = keep_until(&steps_path, step, |line: &StepLine| line.step)?;
        let evals: Vec<EvalLine> = keep_until(&evals_path, step, |line: &EvalLine| line.step)?;
        Ok(Journal { steps_path, evals_path, steps, evals })
    }

    /// Steps so far, in order.
    pub fn steps(&self) -> &[StepLine] {
        &self.steps
    }

    /// Evaluations so far, in order.
    pub fn evals(&self) -> &[EvalLine] {
        &self.evals
    }

    /// Append a step.
    pub fn push_step(&mut self, line: StepLine) -> anyhow::Result<()> {
        append(&self.steps_path, &line)?;
        self.steps.push(line);
        Ok(())
    }

    /// Append an evaluation.
    pub fn push_eval(&mut self, line: EvalLine) -> anyhow::Result<()> {
        append(&self.evals_path, &line)?;
        self.evals.push(line);
        Ok(())
    }
}

/// The lines of `path` (absent = none) whose step is at most `step`; the file is rewritten
/// when lines were dropped.
fn keep_until<T: Serialize + DeserializeOwned>(path: &Path, step: u64, step_of: impl Fn(&T) -> u64) -> anyhow::Result<Vec<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error).with_context(|| format!("cannot read `{}`", path.display())),
    };
    let mut kept = Vec::new();
    let mut dropped = false;
    for (index, line) in text.lines().enumerate() {
        // A crash can cut the last line short: everything after the checkpoint is redone anyway.
        let Ok(value) = serde_json::from_str::<T>(line) else {
            dropped = true;
            continue;
        };
        if step_of(&value) <= step && kept.last().is_none_or(|last| step_of(last) < step_of(&value)) {
            kept.push(value);
        } else {
            dropped = true;
            tracing::debug!(file = %path.display(), line = index + 1, "journal line after the checkpoint dropped");
        }
    }
    if dropped {
        let mut text = String::new();
        for value in &kept {
            text.push_str(&serde_json::to_string(value).expect("a journal line always serialises"));
            text.push('\n');
        }
        atomic::write(path, text.as_bytes())?;
    }
    Ok(kept)
}

fn append<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let mut line = serde_json::to_vec(value).expect("a journal line always serialises");
    line.push(b'\n');
    let mut file: File = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open `{}`", path.display()))?;
    file.write_all(&line)
        .and_then(|()| file.sync_data())
        .with_context(|| format!("cannot append to `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step: u64) -> StepLine {
        StepLine { step, loss: Some(1.0 / step as f64), learning_rate: 1e-3, tokens: 10, seconds: 0.5 }
    }

    #[test]
    fn reopening_at_a_checkpoint_drops_later_lines_and_a_torn_tail() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut journal = Journal::open(dir.path(), 0).expect("open");
        for s in 1..=5 {
            journal.push_step(step(s)).expect("append");
        }
        journal.push_eval(EvalLine { step: 2, eval_loss: 0.5, metrics: vec![("f1".into(), 0.25)], records: 12 }).expect("eval");
        journal.push_eval(EvalLine { step: 4, eval_loss: 0.4, metrics: vec![], records: 12 }).expect("eval");
        let mut file = OpenOptions::new().append(true).open(dir.path().join("steps.jsonl")).expect("open");
        file.write_all(b"{\"step\":6,\"lo").expect("torn line");

        let journal = Journal::open(dir.path(), 3).expect("reopen");
        assert_eq!(journal.steps(), &[step(1), step(2), step(3)]);
        assert_eq!(journal.evals().len(), 1);
        assert_eq!(journal.evals()[0].metrics, vec![("f1".to_owned(), 0.25)]);
        let again = Journal::open(dir.path(), 3).expect("reopen twice");
        assert_eq!(again.steps().len(), 3, "the rewritten file holds exactly the kept lines");
    }
}
