//! `wrong-version`: a trivial task plugin built against `rapha:task@0.3.0`, a copy of the
//! WIT in `wit/` that differs from the host's only in its version. It exports
//! `rapha:task/task@0.3.0`; the host, which supports 0.1.x, must refuse it naming both
//! versions.

wit_bindgen::generate!({
    world: "task-plugin",
    path: "wit",
});

use exports::rapha::task::task::Guest;
use rapha::task::types::{
    ExampleScore, FormattedExample, GenerationHints, Message, Metric, MetricInfo, Role, TaskError,
    TaskInfo, Violation,
};

struct WrongVersion;

impl Guest for WrongVersion {
    fn info() -> TaskInfo {
        TaskInfo {
            id: "wrong-version".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Built against `rapha:task@0.3.0`; for the task host's tests".to_owned(),
            metrics: vec![MetricInfo {
                name: "accuracy".to_owned(),
                higher_is_better: true,
                description: "Always 1".to_owned(),
            }],
            output_schema: r#"{"type": "string"}"#.to_owned(),
            generation: GenerationHints {
                max_new_tokens: 16,
                stop: vec![],
            },
            system_prompt: "Answer ok.".to_owned(),
        }
    }

    fn format_example(example: String) -> Result<FormattedExample, TaskError> {
        Ok(FormattedExample {
            messages: vec![Message {
                role: Role::User,
                content: example,
            }],
            completion: r#""ok""#.to_owned(),
        })
    }

    fn score(_prediction: String, _example: String) -> Result<ExampleScore, TaskError> {
        Ok(ExampleScore {
            metrics: vec![Metric {
                name: "accuracy".to_owned(),
                value: 1.0,
            }],
            counts: vec![],
        })
    }

    fn aggregate(_scores: Vec<ExampleScore>) -> Result<Vec<Metric>, TaskError> {
        Ok(vec![Metric {
            name: "accuracy".to_owned(),
            value: 1.0,
        }])
    }

    fn reward(_prediction: String, _example: String) -> Result<f64, TaskError> {
        Ok(1.0)
    }

    fn validate(_prediction: String) -> Result<(), Violation> {
        Ok(())
    }
}

export!(WrongVersion);
