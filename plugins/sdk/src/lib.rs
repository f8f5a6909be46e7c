//! `rapha-task-sdk`: write a rapha-host task plugin in Rust.
//!
//! The contract is the WIT world `rapha:task/task-plugin@0.1.0` (in `wit/` at the
//! repository root); this crate is a convenience over it for Rust authors. It owns
//! the generated bindings, parses each record's JSON once, and turns a type that
//! implements [`Task`] into the component's export with [`register_task!`].
//!
//! ```ignore
//! struct MyTask;
//! impl rapha_task_sdk::Task for MyTask { /* … */ }
//! rapha_task_sdk::register_task!(MyTask);
//! ```
//!
//! A plugin has no I/O: it must compute everything from its arguments, and any
//! table it needs is compiled in. See `PLUGINS.md` for the language-neutral guide,
//! and this crate's `README.md` for building and checking a plugin.

#![warn(missing_docs)]

mod metrics;
mod prediction;

pub use metrics::{f1, precision, recall, sum_count};
pub use prediction::{Parsed, json_text, parse_prediction_json};

/// The bindings generated from `wit/`, for [`register_task!`]; use the re-exports.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "task-plugin",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_task",
        default_bindings_module: "rapha_task_sdk::bindings",
    });
}

pub use bindings::rapha::task::types::{
    Count, ExampleScore, FieldError, FormattedExample, GenerationHints, Message, Metric,
    MetricInfo, Role, TaskError, TaskInfo, Violation,
};
pub use serde_json;

impl MetricInfo {
    /// A metric declaration for `info`.
    pub fn new(name: &str, higher_is_better: bool, description: &str) -> Self {
        Self {
            name: name.to_owned(),
            higher_is_better,
            description: description.to_owned(),
        }
    }
}

impl Metric {
    /// A named value, for `score` and `aggregate`.
    pub fn new(name: &str, value: f64) -> Self {
        Self {
            name: name.to_owned(),
            value,
        }
    }
}

impl FormattedExample {
    /// The usual training pair: a system message, one user message, the completion.
    pub fn chat(system: &str, user: String, completion: String) -> Self {
        Self {
            messages: vec![
                Message {
                    role: Role::System,
                    content: system.to_owned(),
                },
                Message {
                    role: Role::User,
                    content: user,
                },
            ],
            completion,
        }
    }
}

/// A dataset record, parsed: a JSON object.
pub type Example = serde_json::Map<String, serde_json::Value>;

/// A task, as a Rust author writes it. Each method mirrors the WIT function of the
/// same name; the SDK parses the record's JSON before calling them and reports a
/// record that is not a JSON object as [`TaskError::InvalidJson`].
pub trait Task {
    /// Describe the task: id, version, metrics, output schema, hints.
    fn info() -> TaskInfo;
    /// Turn one record into prompt messages and the target completion.
    fn format_example(example: &Example) -> Result<FormattedExample, TaskError>;
    /// Score a raw prediction against its record.
    fn score(prediction: &str, example: &Example) -> Result<ExampleScore, TaskError>;
    /// Combine per-record scores, in dataset order, into corpus metrics.
    fn aggregate(scores: &[ExampleScore]) -> Result<Vec<Metric>, TaskError>;
    /// A reward in [0, 1] for the prediction.
    fn reward(prediction: &str, example: &Example) -> Result<f64, TaskError>;
    /// Task rules beyond the JSON Schema; the first violation found.
    fn validate(prediction: &str) -> Result<(), Violation>;
}

/// Parse a record's JSON text into an object, or say why it is not one.
pub fn parse_example(text: &str) -> Result<Example, TaskError> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(other) => Err(TaskError::InvalidJson(format!(
            "record: expected a JSON object, found {}",
            json_kind(&other)
        ))),
        Err(e) => Err(TaskError::InvalidJson(format!("record: {e}"))),
    }
}

/// The JSON type name of a value, for error messages.
pub fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A required string field of a record, or the error that names it.
pub fn required_str<'a>(example: &'a Example, field: &str) -> Result<&'a str, TaskError> {
    match example.get(field) {
        None => Err(TaskError::MissingField(format!("/{field}"))),
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(other) => Err(TaskError::InvalidField(FieldError {
            field: format!("/{field}"),
            reason: format!("expected a string, found {}", json_kind(other)),
        })),
    }
}

/// Register `$task` (a type implementing [`Task`]) as the component's export.
///
/// Use it once, in the plugin's `lib.rs`. On `wasm32` it emits the component's
/// exports; on the native target it only type-checks the glue, so the plugin's
/// crate can also be linked into native tests and benchmarks next to other plugins.
#[macro_export]
macro_rules! register_task {
    ($task:ty) => {
        #[doc(hidden)]
        pub struct __RaphaTaskExport;

        impl $crate::bindings::exports::rapha::task::task::Guest for __RaphaTaskExport {
            fn info() -> $crate::TaskInfo {
                <$task as $crate::Task>::info()
            }
            fn format_example(
                example: ::std::string::String,
            ) -> ::std::result::Result<$crate::FormattedExample, $crate::TaskError> {
                <$task as $crate::Task>::format_example(&$crate::parse_example(&example)?)
            }
            fn score(
                prediction: ::std::string::String,
                example: ::std::string::String,
            ) -> ::std::result::Result<$crate::ExampleScore, $crate::TaskError> {
                <$task as $crate::Task>::score(&prediction, &$crate::parse_example(&example)?)
            }
            fn aggregate(
                scores: ::std::vec::Vec<$crate::ExampleScore>,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::Metric>, $crate::TaskError> {
                <$task as $crate::Task>::aggregate(&scores)
            }
            fn reward(
                prediction: ::std::string::String,
                example: ::std::string::String,
            ) -> ::std::result::Result<f64, $crate::TaskError> {
                <$task as $crate::Task>::reward(&prediction, &$crate::parse_example(&example)?)
            }
            fn validate(
                prediction: ::std::string::String,
            ) -> ::std::result::Result<(), $crate::Violation> {
                <$task as $crate::Task>::validate(&prediction)
            }
        }

        // The export glue defines fixed symbol names (`rapha:task/task@0.1.0#info`, …).
        // Only the component needs them; natively, a test binary that links several
        // plugins' rlibs would get each name once per plugin.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export_task!(__RaphaTaskExport with_types_in $crate::bindings);
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::exports::rapha::task::task::Guest;

    /// A task whose completion is the record's `note`.
    struct Echo;

    impl Task for Echo {
        fn info() -> TaskInfo {
            TaskInfo {
                id: "echo".to_owned(),
                version: "0.1.0".to_owned(),
                description: "Repeats the note".to_owned(),
                metrics: vec![],
                output_schema: r#"{"type": "string"}"#.to_owned(),
                generation: GenerationHints {
                    max_new_tokens: 8,
                    stop: vec![],
                },
                system_prompt: String::new(),
            }
        }
        fn format_example(example: &Example) -> Result<FormattedExample, TaskError> {
            Ok(FormattedExample {
                messages: vec![],
                completion: required_str(example, "note")?.to_owned(),
            })
        }
        fn score(_prediction: &str, _example: &Example) -> Result<ExampleScore, TaskError> {
            Ok(ExampleScore {
                metrics: vec![],
                counts: vec![],
            })
        }
        fn aggregate(_scores: &[ExampleScore]) -> Result<Vec<Metric>, TaskError> {
            Ok(vec![])
        }
        fn reward(prediction: &str, example: &Example) -> Result<f64, TaskError> {
            let note = required_str(example, "note")?;
            Ok(if prediction == note { 1.0 } else { 0.0 })
        }
        fn validate(_prediction: &str) -> Result<(), Violation> {
            Ok(())
        }
    }

    register_task!(Echo);

    #[test]
    fn registered_glue_parses_the_record_before_calling_the_task() {
        let formatted = __RaphaTaskExport::format_example(r#"{"note": "hi"}"#.to_owned())
            .expect("a record with a note formats");
        assert_eq!(formatted.completion, "hi");
        let reward = __RaphaTaskExport::reward("hi".to_owned(), r#"{"note": "hi"}"#.to_owned());
        assert_eq!(reward.expect("rewards"), 1.0);
        match __RaphaTaskExport::format_example("[1]".to_owned()) {
            Err(TaskError::InvalidJson(reason)) => {
                assert_eq!(reason, "record: expected a JSON object, found an array");
            }
            other => panic!("expected TaskError::InvalidJson, found {other:?}"),
        }
        assert!(matches!(
            __RaphaTaskExport::score(String::new(), "{".to_owned()),
            Err(TaskError::InvalidJson(_))
        ));
    }

    #[test]
    fn required_str_names_the_missing_or_mistyped_field() {
        let example = parse_example(r#"{"note": 3}"#).expect("a JSON object");
        match required_str(&example, "summary") {
            Err(TaskError::MissingField(field)) => assert_eq!(field, "/summary"),
            other => panic!("expected TaskError::MissingField, found {other:?}"),
        }
        match required_str(&example, "note") {
            Err(TaskError::InvalidField(error)) => {
                assert_eq!(error.field, "/note");
                assert_eq!(error.reason, "expected a string, found a number");
            }
            other => panic!("expected TaskError::InvalidField, found {other:?}"),
        }
    }
}
