//! The `{{id}}` task plugin for rapha-host: the contract's glue around [`task`].
//!
//! The contract, with an example of each function, is PLUGINS.md in the rapha-host
//! repository; the WIT files in `wit/` (from `rapha-host plugin wit`) are its reference.
//! Keep every function pure (PLUGINS.md, "Determinism"): no state between calls, no
//! clock, no randomness; the plugin gets no I/O.

mod task;

wit_bindgen::generate!({ path: "wit", world: "task-plugin" });

use exports::rapha::task::task::Guest;
use rapha::task::types::{
    ExampleScore, FieldError, FormattedExample, GenerationHints, Message, Metric, MetricInfo, Role,
    TaskError, TaskInfo, Violation,
};

struct Plugin;

/// The record, or the contract's error naming what is wrong with it.
fn record(example: &str) -> Result<task::Record, TaskError> {
    task::parse_record(example).map_err(|error| match error {
        task::RecordError::Invalid(reason) => TaskError::InvalidJson(reason),
        task::RecordError::Missing(field) => TaskError::MissingField(field.to_owned()),
        task::RecordError::Unusable(field, reason) => TaskError::InvalidField(FieldError {
            field: field.to_owned(),
            reason: reason.to_owned(),
        }),
    })
}

fn metrics(values: Vec<(&str, f64)>) -> Vec<Metric> {
    values
        .into_iter()
        .map(|(name, value)| Metric {
            name: name.to_owned(),
            value,
        })
        .collect()
}

impl Guest for Plugin {
    fn info() -> TaskInfo {
        let metrics = task::METRICS.iter().map(|metric| MetricInfo {
            name: metric.name.to_owned(),
            higher_is_better: metric.higher_is_better,
            description: metric.description.to_owned(),
        });
        TaskInfo {
            id: "{{id}}".to_owned(),
            version: "0.1.0".to_owned(),
            description: "Label a clinical note (the skeleton's task: replace it with yours)."
                .to_owned(),
            metrics: metrics.collect(),
            output_schema: task::output_schema(),
            generation: GenerationHints {
                max_new_tokens: 32,
                stop: Vec::new(),
            },
            system_prompt: task::SYSTEM_PROMPT.to_owned(),
        }
    }

    fn format_example(example: String) -> Result<FormattedExample, TaskError> {
        let record = record(&example)?;
        Ok(FormattedExample {
            completion: task::target(&record),
            messages: vec![Message {
                role: Role::User,
                content: record.note,
            }],
        })
    }

    fn score(prediction: String, example: String) -> Result<ExampleScore, TaskError> {
        let metrics = metrics(task::score(&prediction, &record(&example)?));
        Ok(ExampleScore {
            metrics,
            counts: Vec::new(),
        })
    }

    fn aggregate(scores: Vec<ExampleScore>) -> Result<Vec<Metric>, TaskError> {
        let values: Vec<Vec<(String, f64)>> = scores
            .into_iter()
            .map(|s| s.metrics.into_iter().map(|m| (m.name, m.value)).collect())
            .collect();
        Ok(metrics(task::aggregate(&values)))
    }

    fn reward(prediction: String, example: String) -> Result<f64, TaskError> {
        Ok(task::reward(&prediction, &record(&example)?))
    }

    fn validate(prediction: String) -> Result<(), Violation> {
        match task::violation(&prediction) {
            None => Ok(()),
            Some((path, reason)) => Err(Violation {
                path: path.to_owned(),
                reason: reason.to_owned(),
            }),
        }
    }
}

export!(Plugin);
