//! The `{{id}}` task plugin for rapha-host.
//!
//! Every function of the contract is here; `info` is a valid declaration to edit, and the
//! others fail with "not implemented" until you fill them in. The contract, with an
//! example of each function, is PLUGINS.md in the rapha-host repository; the WIT files in
//! `wit/` (from `rapha-host plugin wit`) are its reference.

wit_bindgen::generate!({ path: "wit", world: "task-plugin" });

use exports::rapha::task::task::Guest;
use rapha::task::types::{
    ExampleScore, FormattedExample, GenerationHints, Metric, MetricInfo, TaskError, TaskInfo,
    Violation,
};

struct Plugin;

/// The error every unfinished function returns, naming itself.
fn not_implemented(function: &str) -> TaskError {
    TaskError::Other(format!("not implemented: fill in `{function}` in src/lib.rs"))
}

impl Guest for Plugin {
    fn info() -> TaskInfo {
        TaskInfo {
            id: "{{id}}".to_owned(),
            version: "0.1.0".to_owned(),
            description: "Describe the task in one line.".to_owned(),
            metrics: vec![MetricInfo {
                name: "placeholder".to_owned(),
                higher_is_better: true,
                description: "Replace with the task's metrics.".to_owned(),
            }],
            output_schema: r#"{"type":"string"}"#.to_owned(),
            generation: GenerationHints {
                max_new_tokens: 256,
                stop: Vec::new(),
            },
            system_prompt: "Describe what the model should do.".to_owned(),
        }
    }

    fn format_example(_example: String) -> Result<FormattedExample, TaskError> {
        Err(not_implemented("format_example"))
    }

    fn score(_prediction: String, _example: String) -> Result<ExampleScore, TaskError> {
        Err(not_implemented("score"))
    }

    fn aggregate(_scores: Vec<ExampleScore>) -> Result<Vec<Metric>, TaskError> {
        Err(not_implemented("aggregate"))
    }

    fn reward(_prediction: String, _example: String) -> Result<f64, TaskError> {
        Err(not_implemented("reward"))
    }

    fn validate(_prediction: String) -> Result<(), Violation> {
        Err(Violation {
            path: String::new(),
            reason: "not implemented: fill in `validate` in src/lib.rs".to_owned(),
        })
    }
}

export!(Plugin);
