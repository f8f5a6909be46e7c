//! `forbidden-import`: a task plugin that imports `wasi:http` (`outgoing-handler` and
//! `types`, at the WASI version of the `wasip2` crate), which the host does not grant.
//! The host must refuse it when loading, naming the import, before any of its code runs.
//!
//! The import is the real one, through `wasip2`, rather than a stand-in WIT: the
//! `wasm32-wasip2` standard library already embeds `wasi:http`'s WIT, and the component
//! linker merges the two, so a stand-in of another shape cannot link. `format-example`
//! sends a request, so the import is used and kept (unused imports are dropped when the
//! component is made); everything else is a trivial valid plugin.

use rapha_task_sdk::{
    Example, ExampleScore, FormattedExample, GenerationHints, Message, Metric, MetricInfo, Role,
    Task, TaskError, TaskInfo, Violation,
};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, OutgoingRequest};

/// The `forbidden-import` task.
pub struct ForbiddenImport;

impl Task for ForbiddenImport {
    fn info() -> TaskInfo {
        TaskInfo {
            id: "forbidden-import".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Imports `wasi:http`; for the task host's tests".to_owned(),
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
            system_prompt: "Fetch the page.".to_owned(),
        }
    }

    fn format_example(_example: &Example) -> Result<FormattedExample, TaskError> {
        let sent = outgoing_handler::handle(OutgoingRequest::new(Fields::new()), None);
        Ok(FormattedExample {
            messages: vec![Message {
                role: Role::User,
                content: "Fetch the page.".to_owned(),
            }],
            completion: format!("\"sent: {}\"", sent.is_ok()),
        })
    }

    fn score(_prediction: &str, _example: &Example) -> Result<ExampleScore, TaskError> {
        Ok(ExampleScore {
            metrics: vec![Metric {
                name: "accuracy".to_owned(),
                value: 1.0,
            }],
            counts: vec![],
        })
    }

    fn aggregate(_scores: &[ExampleScore]) -> Result<Vec<Metric>, TaskError> {
        Ok(vec![Metric {
            name: "accuracy".to_owned(),
            value: 1.0,
        }])
    }

    fn reward(_prediction: &str, _example: &Example) -> Result<f64, TaskError> {
        Ok(1.0)
    }

    fn validate(_prediction: &str) -> Result<(), Violation> {
        Ok(())
    }
}

rapha_task_sdk::register_task!(ForbiddenImport);
