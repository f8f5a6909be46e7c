//! The task itself, in plain Rust: no bindings, so `cargo test` runs it natively.
//!
//! The skeleton's task labels a clinical note (`{"id", "note", "label"}` records; the
//! answer is `{"label": "..."}`): small enough to read in a minute, complete enough to
//! build, check and score. Replace it with yours.
//!
//! To add a metric, add an entry to [`METRICS`]: `info` declares it, `score` computes it
//! for every record and `aggregate` averages it; nothing else changes.

use serde_json::{Value, json};

pub const SYSTEM_PROMPT: &str =
    r#"Read the clinical note and answer with its label as JSON: {"label": "..."}."#;

pub fn output_schema() -> String {
    json!({
        "type": "object",
        "properties": {"label": {"type": "string", "minLength": 1}},
        "required": ["label"],
        "additionalProperties": false,
    })
    .to_string()
}

/// A record the task cannot use.
#[derive(Debug, PartialEq)]
pub enum RecordError {
    /// Not JSON, or not an object.
    Invalid(String),
    /// The field (a JSON Pointer) is absent.
    Missing(&'static str),
    /// The field (a JSON Pointer) is present but unusable, and why.
    Unusable(&'static str, &'static str),
}

pub struct Record {
    pub note: String,
    pub label: String,
}

/// A per-record metric: `compute(predicted_label, record)`, where the label is `None` when
/// the prediction is not a JSON object with a string `label`.
pub struct Metric {
    pub name: &'static str,
    pub higher_is_better: bool,
    pub description: &'static str,
    pub compute: fn(Option<&str>, &Record) -> f64,
}

pub const METRICS: &[Metric] = &[
    Metric {
        name: "exact_match",
        higher_is_better: true,
        description: "1 when the predicted label equals the record's, else 0",
        compute: |predicted, record| f64::from(u8::from(predicted == Some(record.label.as_str()))),
    },
    // A new metric: one more entry here.
];

pub fn parse_record(text: &str) -> Result<Record, RecordError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|error| RecordError::Invalid(format!("not JSON: {error}")))?;
    let Value::Object(object) = value else {
        return Err(RecordError::Invalid("expected a JSON object".to_owned()));
    };
    let field = |name: &'static str, pointer: &'static str| match object.get(name) {
        None => Err(RecordError::Missing(pointer)),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(RecordError::Unusable(pointer, "expected a string")),
    };
    Ok(Record {
        note: field("note", "/note")?,
        label: field("label", "/label")?,
    })
}

/// The completion a run trains on: the answer a perfect model gives.
pub fn target(record: &Record) -> String {
    json!({"label": record.label}).to_string()
}

/// The label of a prediction, or `None` when it is not `{"label": "..."}` JSON.
pub fn predicted_label(prediction: &str) -> Option<String> {
    match serde_json::from_str::<Value>(prediction).ok()? {
        Value::Object(mut object) => match object.remove("label")? {
            Value::String(label) => Some(label),
            _ => None,
        },
        _ => None,
    }
}

/// Every metric's value for one prediction, in [`METRICS`] order.
pub fn score(prediction: &str, record: &Record) -> Vec<(&'static str, f64)> {
    let label = predicted_label(prediction);
    METRICS
        .iter()
        .map(|metric| (metric.name, (metric.compute)(label.as_deref(), record)))
        .collect()
}

/// Each metric's mean over the records' scores (0 for none); a score is what [`score`]
/// returned for one record.
pub fn aggregate(scores: &[Vec<(String, f64)>]) -> Vec<(&'static str, f64)> {
    let mean = |name: &str| {
        let values = scores
            .iter()
            .filter_map(|s| s.iter().find(|(n, _)| n == name).map(|(_, v)| *v));
        if scores.is_empty() {
            0.0
        } else {
            values.sum::<f64>() / scores.len() as f64
        }
    };
    METRICS
        .iter()
        .map(|metric| (metric.name, mean(metric.name)))
        .collect()
}

pub fn reward(prediction: &str, record: &Record) -> f64 {
    f64::from(u8::from(
        predicted_label(prediction).as_deref() == Some(record.label.as_str()),
    ))
}

/// The first rule the prediction breaks, as (JSON Pointer, reason), or `None`.
pub fn violation(prediction: &str) -> Option<(&'static str, &'static str)> {
    predicted_label(prediction)
        .is_none()
        .then_some(("", r#"expected a JSON object with a string "label""#))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            note: "Chest pain.".to_owned(),
            label: "urgent".to_owned(),
        }
    }

    fn exact_match(prediction: &str) -> f64 {
        score(prediction, &record())
            .into_iter()
            .find(|(name, _)| *name == "exact_match")
            .expect("scored")
            .1
    }

    #[test]
    fn the_target_is_the_records_label_as_json() {
        for line in include_str!("../data/val.jsonl").lines() {
            let expected: Value = serde_json::from_str(line).expect("a JSON record");
            let target: Value =
                serde_json::from_str(&target(&parse_record(line).expect("usable"))).expect("JSON");
            assert_eq!(target, json!({"label": expected["label"]}));
        }
    }

    #[test]
    fn a_record_without_a_label_names_the_field() {
        assert!(matches!(
            parse_record(r#"{"id": "x", "note": "text"}"#),
            Err(RecordError::Missing("/label"))
        ));
        assert!(matches!(
            parse_record("note: text"),
            Err(RecordError::Invalid(_))
        ));
    }

    #[test]
    fn every_metric_is_scored_in_order() {
        let names: Vec<_> = score(&target(&record()), &record())
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            names,
            METRICS.iter().map(|metric| metric.name).collect::<Vec<_>>()
        );
    }

    #[test]
    fn exact_match_is_one_only_for_the_records_label() {
        assert_eq!(exact_match(&target(&record())), 1.0);
        assert_eq!(exact_match(r#"{"label": "routine"}"#), 0.0);
        assert_eq!(exact_match("urgent"), 0.0);
    }

    #[test]
    fn the_target_earns_a_perfect_reward_and_passes_validate() {
        assert_eq!(reward(&target(&record()), &record()), 1.0);
        assert_eq!(violation(&target(&record())), None);
        assert_eq!(violation("[]").map(|(path, _)| path), Some(""));
    }

    #[test]
    fn aggregate_is_each_metrics_mean() {
        let owned = |s: Vec<(&str, f64)>| {
            s.into_iter()
                .map(|(n, v)| (n.to_owned(), v))
                .collect::<Vec<_>>()
        };
        let scores = [
            owned(score(&target(&record()), &record())),
            owned(score("no", &record())),
        ];
        assert_eq!(aggregate(&scores)[0], ("exact_match", 0.5));
        assert_eq!(aggregate(&[])[0], ("exact_match", 0.0));
    }
}
