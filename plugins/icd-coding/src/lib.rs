//! `rapha-plugin-icd-coding`: the `icd-coding` task of rapha-host.
//!
//! A record is `{"id", "note", "codes": [..]}`; the model answers with a JSON
//! array of ICD-10-CM codes, compared with the gold codes as sets after
//! normalisation. Metrics: micro precision, recall and F1, macro-F1 over the
//! corpus's gold codes, micro F1 at the 3-character category level, exact set
//! match, the rate of codes that do not exist, and JSON and schema validity. The
//! reward is the record's micro F1. The FY2026 code list is compiled in.
//!
//! Modules: `codes` (the code list and normal form), `record` and `prediction`
//! (reading each side), `score` (the metrics and their corpus values), `format`
//! (the training pair), `info` (the declaration).

mod codes;
mod format;
mod info;
mod prediction;
mod record;
mod score;

use rapha_task_sdk::{
    Example, ExampleScore, FormattedExample, Metric, Task, TaskError, TaskInfo, Violation,
};

/// The ICD coding task; registered as the component's export, and callable
/// natively through [`Task`].
#[derive(Debug)]
pub struct IcdCoding;

impl Task for IcdCoding {
    fn info() -> TaskInfo {
        info::info()
    }

    fn format_example(example: &Example) -> Result<FormattedExample, TaskError> {
        format::format_example(example)
    }

    fn score(prediction: &str, example: &Example) -> Result<ExampleScore, TaskError> {
        score::score(prediction, example)
    }

    fn aggregate(scores: &[ExampleScore]) -> Result<Vec<Metric>, TaskError> {
        score::aggregate(scores)
    }

    fn reward(prediction: &str, example: &Example) -> Result<f64, TaskError> {
        score::reward(prediction, example)
    }

    fn validate(prediction: &str) -> Result<(), Violation> {
        prediction::validate(prediction)
    }
}

rapha_task_sdk::register_task!(IcdCoding);
