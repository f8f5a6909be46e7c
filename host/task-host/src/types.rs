//! The host's view of the values in `wit/types.wit`, independent of the bindings of any
//! one WIT version (so a second version can be added without changing callers). Each type
//! is documented in the WIT; the host guarantees what is listed here on top.

use serde::{Deserialize, Serialize};

/// What a plugin declares about itself; checked at load (see [`crate::TaskPlugin::load`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    /// Task id, `[a-z0-9-]+`.
    pub id: String,
    /// The plugin's own version.
    pub version: String,
    /// One line describing the task.
    pub description: String,
    /// Every metric `score` and `aggregate` may return; names are unique and valid.
    pub metrics: Vec<MetricInfo>,
    /// The output JSON Schema, as declared (it is a valid draft 2020-12 schema).
    pub output_schema: String,
    /// Decoding settings suited to the task.
    pub generation: GenerationHints,
    /// The system prompt used when a recipe sets none.
    pub system_prompt: String,
}

impl TaskInfo {
    /// The declared metric called `name`.
    pub fn metric(&self, name: &str) -> Option<&MetricInfo> {
        self.metrics.iter().find(|metric| metric.name == name)
    }
}

/// A declared metric.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricInfo {
    /// 1 to 48 characters of `[a-z0-9_-]`.
    pub name: String,
    /// Whether a larger value is better.
    pub higher_is_better: bool,
    /// What the metric measures.
    pub description: String,
}

/// Decoding settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationHints {
    /// Upper bound on new tokens per prediction.
    pub max_new_tokens: u32,
    /// Strings that end generation.
    pub stop: Vec<String>,
}

/// Who speaks in a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions.
    System,
    /// The request.
    User,
}

/// One prompt message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// The text.
    pub content: String,
}

/// A record turned into a training pair. The host guarantees at most one system message,
/// first if present, then at least one user message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormattedExample {
    /// The prompt.
    pub messages: Vec<Message>,
    /// The target completion.
    pub completion: String,
}

/// A named value; the name is declared in [`TaskInfo::metrics`] and the value finite.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// The metric's name.
    pub name: String,
    /// Its value.
    pub value: f64,
}

/// An additive statistic handed back to `aggregate`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Count {
    /// At most 128 bytes.
    pub key: String,
    /// Finite.
    pub value: f64,
}

/// The score of one prediction.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct ExampleScore {
    /// Per-record metrics.
    pub metrics: Vec<Metric>,
    /// Statistics for `aggregate`.
    pub counts: Vec<Count>,
}

/// The first task rule a prediction breaks, as the plugin's `validate` reports it.
///
/// The reason is the plugin's text and may quote the prediction: show it only where
/// patient text may go. The host also writes it to the plugin's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// JSON Pointer into the prediction.
    pub path: String,
    /// The rule broken.
    pub reason: String,
}
