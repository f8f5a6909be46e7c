//! The predictions file of `predict`, written a batch at a time and synced, so that a killed
//! command continues where it stopped: no record answered twice, none lost.
//!
//! Beside `NAME.jsonl` lies `NAME.inputs.json`, what the answers were made from (hashes of
//! model, adapter, plugin and records; the decoding). A rerun continues the file only when
//! they are the same, since answers made from other inputs or in other batches would not be
//! those of an uninterrupted command.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::stages::predictions::Prediction;

/// What a predictions file is made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// sha256 of the base model.
    pub model: String,
    /// Frozen weights: `nf4` or `none`.
    pub quantization: String,
    /// sha256 of the adapter folder, if any.
    pub adapter: Option<String>,
    /// sha256 of the plugin.
    pub plugin: String,
    /// sha256 of the records file.
    pub records: String,
    /// The system message replacing the plugin's, if any.
    pub system_prompt: Option<String>,
    /// Cap on new tokens.
    pub max_new_tokens: usize,
    /// `free` or `schema`.
    pub decoding: String,
    /// Prompts per generation batch (padding within a batch changes the arithmetic).
    pub batch: usize,
}

/// A predictions file open for appending.
pub struct Output {
    path: PathBuf,
    file: File,
    /// Records answered so far, earlier runs included.
    pub done: usize,
}

impl Output {
    /// Open `path` for the answers to the records `ids` (in order) made from `inputs`: a new
    /// file, its inputs saved beside it first, or one an earlier `predict` with the same inputs
    /// began. Its complete lines are kept, a line torn by a kill is cut off, and the lines must
    /// answer the first records in order.
    pub fn open(path: &Path, inputs: &Inputs, ids: &[&str]) -> anyhow::Result<Output> {
        let saved = inputs_path(path);
        if saved.exists() {
            check_same(path, &saved, inputs)?;
        } else if path.exists() {
            bail!(
                "`{}` exists but was not written by `predict` (no `{}` beside it): choose another `--name`",
                path.display(),
                saved.display()
            );
        } else {
            let text = serde_json::to_string_pretty(inputs).expect("inputs serialise") + "\n";
            atomic::write(&saved, text.as_bytes())?;
        }
        let done = keep_complete_lines(path, ids)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open `{}` for appending", path.display()))?;
        Ok(Output { path: path.to_owned(), file, done })
    }

    /// Append `batch`'s lines in one write, synced to disk before returning.
    pub fn append(&mut self, batch: &[Prediction]) -> anyhow::Result<()> {
        let mut text = String::new();
        for prediction in batch {
            text.push_str(&serde_json::to_string(prediction).expect("a prediction always serialises"));
            text.push('\n');
        }
        self.file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("cannot write `{}`", self.path.display()))?;
        self.done += batch.len();
        Ok(())
    }
}

/// `NAME.inputs.json` beside `NAME.jsonl`.
pub fn inputs_path(path: &Path) -> PathBuf {
    path.with_extension("inputs.json")
}

/// An error unless the inputs saved at `saved` (beside `path`) equal `inputs`, naming the
/// fields that differ.
fn check_same(path: &Path, saved: &Path, inputs: &Inputs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(saved).with_context(|| format!("cannot read `{}`", saved.display()))?;
    let before: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("`{}`: expected the inputs `predict` saved", saved.display()))?;
    let now = serde_json::to_value(inputs).expect("inputs serialise");
    let (Some(before), Some(now)) = (before.as_object(), now.as_object()) else {
        bail!("`{}`: expected a JSON object of inputs", saved.display());
    };
    let differ: Vec<&str> = now.iter().filter(|(key, value)| before.get(*key) != Some(value)).map(|(key, _)| key.as_str()).collect();
    if !differ.is_empty() {
        bail!(
            "`{}` holds answers made from other inputs ({} changed): continue with the same ones, or choose another `--name`",
            path.display(),
            differ.join(", ")
        );
    }
    Ok(())
}

/// Cut `path` after its last complete line and check those lines answer the first `ids`, in
/// order; how many there are. A missing file has none.
fn keep_complete_lines(path: &Path, ids: &[&str]) -> anyhow::Result<usize> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error).with_context(|| format!("cannot read `{}`", path.display())),
    };
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |last| last + 1);
    if complete < bytes.len() {
        tracing::warn!(file = %path.display(), "cut a line left incomplete by a stopped `predict`");
        let file = OpenOptions::new().write(true).open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
        file.set_len(complete as u64)
            .and_then(|()| file.sync_data())
            .with_context(|| format!("cannot cut `{}`", path.display()))?;
    }
    let text = std::str::from_utf8(&bytes[..complete]).with_context(|| format!("`{}`: expected UTF-8", path.display()))?;
    for (index, line) in text.lines().enumerate() {
        let at = || format!("{}:{}", path.display(), index + 1);
        let prediction: Prediction = serde_json::from_str(line).with_context(|| format!("{}: expected a prediction", at()))?;
        match ids.get(index) {
            Some(id) if *id == prediction.id => {}
            Some(id) => bail!("{}: expected the answer to record `{id}`, found one to `{}`", at(), prediction.id),
            None => bail!("{}: more answers than the {} records", at(), ids.len()),
        }
    }
    Ok(text.lines().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            model: "m".into(),
            quantization: "nf4".into(),
            adapter: None,
            plugin: "p".into(),
            records: "r".into(),
            system_prompt: None,
            max_new_tokens: 8,
            decoding: "free".into(),
            batch: 2,
        }
    }

    fn answer(id: &str) -> Prediction {
        Prediction { id: id.into(), prediction: format!("answer {id}"), finish: "eos".into() }
    }

    #[test]
    fn a_reopened_file_continues_after_its_complete_lines_and_cuts_a_torn_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.jsonl");
        let ids = ["a", "b", "c", "d"];
        let mut output = Output::open(&path, &inputs(), &ids).expect("new");
        assert_eq!(output.done, 0);
        output.append(&[answer("a"), answer("b")]).expect("append");
        drop(output);
        let mut file = OpenOptions::new().append(true).open(&path).expect("open");
        file.write_all(br#"{"id":"c","predi"#).expect("torn line");

        let mut output = Output::open(&path, &inputs(), &ids).expect("reopen");
        assert_eq!(output.done, 2);
        output.append(&[answer("c"), answer("d")]).expect("append");
        let lines: Vec<Prediction> = std::fs::read_to_string(&path)
            .expect("read")
            .lines()
            .map(|line| serde_json::from_str(line).expect("a whole prediction"))
            .collect();
        assert_eq!(lines.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ids);
    }

    #[test]
    fn other_inputs_or_foreign_files_are_refused_by_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.jsonl");
        drop(Output::open(&path, &inputs(), &["a"]).expect("new"));
        let other = Inputs { batch: 4, plugin: "q".into(), ..inputs() };
        let error = format!("{:#}", Output::open(&path, &other, &["a"]).err().expect("refused"));
        let changed = error.split_once('(').and_then(|(_, rest)| rest.split_once(" changed)")).map(|(names, _)| names);
        let mut changed: Vec<&str> = changed.expect("the changed fields named").split(", ").collect();
        changed.sort_unstable();
        assert_eq!(changed, ["batch", "plugin"], "{error}");

        let foreign = dir.path().join("test-base.jsonl");
        std::fs::write(&foreign, "{}\n").expect("write");
        let error = format!("{:#}", Output::open(&foreign, &inputs(), &["a"]).err().expect("refused"));
        assert!(error.contains("was not written by `predict`"), "{error}");
    }

    #[test]
    fn lines_that_answer_other_records_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.jsonl");
        let mut output = Output::open(&path, &inputs(), &["a", "b"]).expect("new");
        output.append(&[answer("b")]).expect("append");
        let error = format!("{:#}", Output::open(&path, &inputs(), &["a", "b"]).err().expect("refused"));
        assert!(error.ends_with("p.jsonl:1: expected the answer to record `a`, found one to `b`"), "{error}");
    }
}
