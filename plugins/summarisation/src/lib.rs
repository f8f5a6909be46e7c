//! `rapha-plugin-summarisation`: the `summarisation` task of rapha-host.
//!
//! A record is `{"id", "note", "summary"}`; the model writes a summary of the
//! note, and the plugin scores it with ROUGE-1, ROUGE-2 and ROUGE-L F-measures
//! computed exactly as Google's `rouge-score` 0.1.2 computes them with
//! `use_stemmer=True` (its tokenizer and NLTK's Porter stemmer in default mode),
//! plus a length ratio. The reward is the ROUGE-L F-measure.
//!
//! Modules: `tokenize` and `porter` produce the tokens, `rouge` compares
//! them, `score` defines the metrics and their corpus values, `format`
//! builds the training pair, `info` declares it all to the host.

mod format;
mod info;
mod porter;
mod record;
mod rouge;
mod score;
mod tokenize;

use rapha_task_sdk::{
    Example, ExampleScore, FormattedExample, Metric, Task, TaskError, TaskInfo, Violation,
};

/// The summarisation task; registered as the component's export, and callable
/// natively through [`Task`].
#[derive(Debug)]
pub struct Summarisation;

impl Task for Summarisation {
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
        score::validate(prediction)
    }
}

rapha_task_sdk::register_task!(Summarisation);
