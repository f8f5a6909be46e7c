//! Scoring predictions with a task plugin: the one path `run`'s evaluations and `plugin
//! score` share, so both compute the same numbers.
//!
//! For every record: the plugin's `score` and `reward`, the host's check of the declared
//! output schema and, where the schema holds, the plugin's `validate`. Then the plugin's
//! `aggregate` over the scores, in record order, and three figures the host computes itself:
//! the schema-valid rate, the validate pass rate and the mean reward.

use std::path::Path;

use anyhow::Context;
use rapha_task_host::{ExampleScore, Metric, TaskPlugin};
use serde_json::{Value, json};

/// One record and the prediction made for it.
pub struct Item<'a> {
    /// The record's id.
    pub id: &'a str,
    /// Its 1-based line in `file`: errors name it, and the plugin's calls are seeded by it.
    pub line: u64,
    /// The record's JSON text.
    pub record: &'a str,
    /// The prediction.
    pub prediction: &'a str,
}

/// What scoring one record found.
#[derive(Debug, Clone)]
pub struct RecordScore {
    /// The record's id.
    pub id: String,
    /// Its line.
    pub line: u64,
    /// The plugin's per-record metrics and counts.
    pub score: ExampleScore,
    /// The plugin's reward, in [0, 1].
    pub reward: f64,
    /// The output schema's verdict: `Err` holds the violation.
    pub schema: Result<(), String>,
    /// `validate`'s verdict (`Err` holds the violation's path); `None` when the schema did
    /// not hold, so `validate` was not called.
    pub validate: Option<Result<(), String>>,
}

/// The host's own figures over a scored set, each in [0, 1].
pub const HOST_METRICS: [(&str, &str); 3] = [
    ("schema_valid_rate", "predictions that satisfy the output schema"),
    ("validate_pass_rate", "predictions that satisfy the schema and `validate`"),
    ("mean_reward", "mean of `reward` over the records"),
];

/// A scored set of predictions.
#[derive(Debug, Clone)]
pub struct Scored {
    /// The plugin's aggregate metrics.
    pub metrics: Vec<Metric>,
    /// Every record's outcome, in order.
    pub records: Vec<RecordScore>,
}

impl Scored {
    /// The value of the plugin's metric `name`, if `aggregate` returned it.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.metrics.iter().find(|metric| metric.name == name).map(|metric| metric.value)
    }

    /// The [`HOST_METRICS`], in their order (0 for an empty set).
    pub fn host_metrics(&self) -> [f64; 3] {
        let n = self.records.len().max(1) as f64;
        let schema_valid = self.records.iter().filter(|r| r.schema.is_ok()).count();
        let rules_valid = self.records.iter().filter(|r| matches!(r.validate, Some(Ok(())))).count();
        let reward: f64 = self.records.iter().map(|r| r.reward).sum();
        [schema_valid as f64 / n, rules_valid as f64 / n, reward / n]
    }

    /// Each record's outcome as JSON: id, line, metrics, reward, schema and `validate`.
    pub fn per_record_json(&self) -> Vec<Value> {
        self.records.iter().map(RecordScore::to_json).collect()
    }
}

impl RecordScore {
    fn to_json(&self) -> Value {
        let metrics: serde_json::Map<String, Value> =
            self.score.metrics.iter().map(|m| (m.name.clone(), json!(m.value))).collect();
        let schema = self.schema.as_ref().map_or_else(|violation| json!(violation), |()| json!("satisfied"));
        let validate = match &self.validate {
            None => json!("not called: the schema is not satisfied"),
            Some(Ok(())) => json!("passed"),
            Some(Err(path)) => json!(format!("violation at `{path}`")),
        };
        json!({
            "id": self.id,
            "line": self.line,
            "metrics": metrics,
            "reward": self.reward,
            "schema": schema,
            "validate": validate,
        })
    }
}

/// Score every item of `items` (records of `file`) with `plugin`, then aggregate.
pub fn score<'a>(plugin: &mut TaskPlugin, file: &Path, items: impl IntoIterator<Item = Item<'a>>) -> anyhow::Result<Scored> {
    let mut records = Vec::new();
    for item in items {
        let at = || format!("`{}`:{} (record `{}`)", file.display(), item.line, item.id);
        let score = plugin.score(item.line, item.prediction, item.record).with_context(at)?;
        let reward = plugin.reward(item.line, item.prediction, item.record).with_context(at)?;
        let schema = plugin.validate_output(item.prediction).map_err(|violation| violation.to_string());
        let validate = match schema {
            Ok(()) => Some(plugin.validate(item.line, item.prediction).with_context(at)?.map_err(|v| v.path)),
            Err(_) => None,
        };
        records.push(RecordScore { id: item.id.to_owned(), line: item.line, score, reward, schema, validate });
    }
    let scores: Vec<ExampleScore> = records.iter().map(|r| r.score.clone()).collect();
    let metrics = plugin.aggregate(&scores).with_context(|| format!("cannot aggregate the scores of `{}`", file.display()))?;
    Ok(Scored { metrics, records })
}
