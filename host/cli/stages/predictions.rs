//! Evaluation on generated text: the model answers each record's prompt, the task plugin
//! scores every answer against its record and aggregates the scores ([`scoring`]). The answers are
//! patient-derived text, so they are written only to the work folder.

use std::path::Path;

use anyhow::Context;
use rapha_constrain::SchemaDecoding;
use rapha_engine::{FinishReason, GenerateConfig, Model, Sampling, TokenConstraint, Tokenizer, generate_constrained};
use rapha_task_host::{TaskInfo, TaskPlugin};
use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::progress::EvalBar;
use crate::stages::data::{Dataset, Prepared};
use crate::stages::scoring::{self, Item, Scored};

/// How answers are decoded: `predict --decoding`, a recipe's `eval.decoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Decoding {
    /// The model's own choice of tokens.
    Free,
    /// Only tokens that keep the answer compact JSON fitting the plugin's output schema.
    Schema,
}

impl std::fmt::Display for Decoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = clap::ValueEnum::to_possible_value(self).expect("no decoding is skipped");
        f.write_str(value.get_name())
    }
}

/// The plugin's output schema compiled into a mask over the vocabulary of a model whose
/// logits are `vocab_size` wide, for [`Decoding::Schema`]; `None` for free decoding.
pub fn schema_decoding(
    decoding: Decoding,
    plugin: &TaskPlugin,
    tokenizer: &Tokenizer,
    vocab_size: usize,
) -> anyhow::Result<Option<SchemaDecoding>> {
    if decoding == Decoding::Free {
        return Ok(None);
    }
    let schema: serde_json::Value =
        serde_json::from_str(&plugin.info().output_schema).context("the plugin's output schema is not JSON")?;
    let compiled = SchemaDecoding::new(&schema, tokenizer, vocab_size)
        .with_context(|| format!("schema decoding with the plugin `{}`", plugin.info().id))?;
    Ok(Some(compiled))
}

/// One generated answer, as written to `predictions/*.jsonl` (the format `plugin score` reads).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Prediction {
    /// The record's id.
    pub id: String,
    /// The answer, cut before any stop string.
    pub prediction: String,
    /// Why generation ended: `eos`, `stop` or `length`.
    pub finish: String,
}

/// Generates answers with one model and decoding setting.
pub struct Generator<'a> {
    /// The model, with whatever adapter it holds now.
    pub model: &'a Model,
    /// Its tokenizer.
    pub tokenizer: &'a Tokenizer,
    /// Decoding.
    pub config: GenerateConfig,
    /// Prompts per generation batch.
    pub batch: usize,
    /// The plugin's output schema as a token mask (`decoding = "schema"`), or free decoding.
    pub schema: Option<&'a SchemaDecoding>,
}

impl Generator<'_> {
    /// Answer every record's prompt, in order, `batch` prompts at a time.
    pub fn answer(&self, records: &[Prepared], bar: &EvalBar) -> anyhow::Result<Vec<Prediction>> {
        let mut predictions = Vec::with_capacity(records.len());
        self.answer_each(records, bar, |batch| {
            predictions.extend_from_slice(batch);
            Ok(())
        })?;
        Ok(predictions)
    }

    /// Answer every record's prompt, in order, `batch` prompts at a time, handing each
    /// batch's answers to `done` as soon as they are made; an error from `done` ends it.
    pub fn answer_each(
        &self,
        records: &[Prepared],
        bar: &EvalBar,
        mut done: impl FnMut(&[Prediction]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        for chunk in records.chunks(self.batch.max(1)) {
            let prompts: Vec<Vec<u32>> = chunk.iter().map(|r| r.example.prompt.clone()).collect();
            let mut constraints = match self.schema {
                Some(schema) => chunk.iter().map(|_| Ok(Box::new(schema.constraint()?) as Box<dyn TokenConstraint>)).collect::<anyhow::Result<_>>()?,
                None => Vec::new(),
            };
            let generations = generate_constrained(self.model, self.tokenizer, &prompts, &self.config, &mut constraints)
                .context("generation failed")?;
            let answers: Vec<Prediction> = chunk
                .iter()
                .zip(generations)
                .map(|(record, generation)| {
                    let finish = match generation.finish {
                        FinishReason::Eos => "eos",
                        FinishReason::Stop => "stop",
                        FinishReason::Length => "length",
                    };
                    Prediction { id: record.record.id.clone(), prediction: generation.text, finish: finish.into() }
                })
                .collect();
            done(&answers)?;
            bar.inc(chunk.len() as u64);
        }
        Ok(())
    }
}

/// Greedy decoding of a task's answers: at most `max_new_tokens` new tokens (the plugin's
/// hint when `None`), the plugin's stop strings, the tokenizer's EOS ids.
pub fn greedy(task: &TaskInfo, max_new_tokens: Option<u32>, seed: u64, eos_token_ids: Vec<u32>, pad_id: u32) -> GenerateConfig {
    GenerateConfig {
        max_new_tokens: max_new_tokens.unwrap_or(task.generation.max_new_tokens) as usize,
        sampling: Sampling::Greedy,
        seed,
        stop_strings: task.generation.stop.clone(),
        eos_token_ids,
        pad_id,
        kv_cache: true,
    }
}

/// Score `predictions` (one per record of `set`, in order) with the plugin.
pub fn score(plugin: &mut TaskPlugin, set: &Dataset, predictions: &[Prediction]) -> anyhow::Result<Scored> {
    let items = set.records.iter().zip(predictions).map(|(prepared, prediction)| Item {
        id: &prepared.record.id,
        line: prepared.record.line,
        record: &prepared.record.json,
        prediction: &prediction.prediction,
    });
    scoring::score(plugin, &set.path, items)
}

/// Write predictions as JSONL to `path`, atomically.
pub fn save(path: &Path, predictions: &[Prediction]) -> anyhow::Result<()> {
    let mut text = String::new();
    for prediction in predictions {
        text.push_str(&serde_json::to_string(prediction).expect("a prediction always serialises"));
        text.push('\n');
    }
    atomic::write(path, text.as_bytes())
}

/// Read predictions written by [`save`], checking they belong to `records`, in order.
pub fn load(path: &Path, records: &[Prepared]) -> anyhow::Result<Vec<Prediction>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let predictions: Vec<Prediction> = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).with_context(|| format!("{}:{}: expected a saved prediction", path.display(), i + 1))
        })
        .collect::<anyhow::Result<_>>()?;
    let same = predictions.len() == records.len() && predictions.iter().zip(records).all(|(p, r)| p.id == r.record.id);
    anyhow::ensure!(same, "`{}`: expected one prediction per evaluated record, in order", path.display());
    Ok(predictions)
}
