//! What the plugin declares about itself: metrics, output schema, hints.

use rapha_task_sdk::{GenerationHints, MetricInfo, TaskInfo};

use crate::format::SYSTEM_PROMPT;
use crate::score::{LENGTH_RATIO, ROUGE1, ROUGE2, ROUGEL};

/// The prediction is the summary itself, plain text rather than JSON; as a JSON
/// value it is one string, which is what this schema describes.
pub const OUTPUT_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Clinical note summary",
  "description": "The summary as plain text. The prediction is the generated text itself, not JSON: its value is this string.",
  "type": "string",
  "minLength": 1
}"#;

pub fn info() -> TaskInfo {
    TaskInfo {
        id: "summarisation".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        description:
            "Summarise a clinical note; scored with ROUGE as Google's rouge-score computes it."
                .into(),
        metrics: vec![
            MetricInfo::new(
                ROUGE1,
                true,
                "ROUGE-1 F-measure as rouge-score 0.1.2 computes `rouge1` with use_stemmer=True; corpus: mean over records.",
            ),
            MetricInfo::new(
                ROUGE2,
                true,
                "ROUGE-2 F-measure as rouge-score 0.1.2 computes `rouge2` with use_stemmer=True; corpus: mean over records.",
            ),
            MetricInfo::new(
                ROUGEL,
                true,
                "ROUGE-L F-measure (sentence-level LCS, not rougeLsum) as rouge-score 0.1.2 computes `rougeL` with use_stemmer=True; corpus: mean over records.",
            ),
            MetricInfo::new(
                LENGTH_RATIO,
                false,
                "Prediction tokens / reference tokens (rouge-score tokens); corpus: total prediction tokens / total reference tokens; 1 is ideal, neither direction is better.",
            ),
        ],
        output_schema: OUTPUT_SCHEMA.into(),
        generation: GenerationHints {
            max_new_tokens: 256,
            stop: Vec::new(),
        },
        system_prompt: SYSTEM_PROMPT.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapha_task_sdk::serde_json::{self, Value};

    #[test]
    fn declares_valid_metric_names_and_a_string_schema() {
        let info = info();
        assert_eq!(info.id, "summarisation");
        for metric in &info.metrics {
            let valid = !metric.name.is_empty()
                && metric.name.len() <= 48
                && metric.name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            assert!(valid, "metric name `{}`", metric.name);
        }
        let schema: Value = serde_json::from_str(&info.output_schema).expect("schema is JSON");
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(schema["type"], "string");
    }
}
