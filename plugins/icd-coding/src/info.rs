//! What the plugin declares about itself: metrics, output schema, hints.

use rapha_task_sdk::{GenerationHints, MetricInfo, TaskInfo};

use crate::format::SYSTEM_PROMPT;
use crate::score::{
    CATEGORY_F1, EXACT_MATCH, INVALID_CODE_RATE, JSON_VALID, MACRO_F1, MICRO_F1, MICRO_PRECISION,
    MICRO_RECALL, SCHEMA_VALID,
};

/// A JSON array of strings. Whether each string is a code is a task rule
/// (`validate`), since codes are matched after normalisation.
pub const OUTPUT_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "ICD-10-CM codes",
  "description": "The ICD-10-CM codes the note supports, e.g. [\"E11.9\",\"I10\"]; [] when none. Codes are compared after trimming, upper-casing and removing the dot; a repeated code counts once.",
  "type": "array",
  "items": { "type": "string" }
}"#;

pub fn info() -> TaskInfo {
    TaskInfo {
        id: "icd-coding".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        description: "Assign ICD-10-CM (FY2026) codes to a clinical note; set-based precision, recall and F1.".into(),
        metrics: vec![
            MetricInfo::new(MICRO_PRECISION, true, "Correct codes / predicted codes, counts pooled over records (micro)."),
            MetricInfo::new(MICRO_RECALL, true, "Correct codes / gold codes, counts pooled over records (micro)."),
            MetricInfo::new(
                MICRO_F1,
                true,
                "2tp / (2tp + fp + fn) over code sets, counts pooled over records (micro); per record 0 when the output is not a JSON array of strings.",
            ),
            MetricInfo::new(
                MACRO_F1,
                true,
                "Corpus only: mean over the codes in any gold set of each code's F1 from its pooled counts.",
            ),
            MetricInfo::new(CATEGORY_F1, true, "Micro F1 over sets of 3-character categories (e.g. E11), counts pooled over records."),
            MetricInfo::new(EXACT_MATCH, true, "Share of records whose predicted code set equals the gold set."),
            MetricInfo::new(
                INVALID_CODE_RATE,
                false,
                "Predicted codes that exist at no level of ICD-10-CM / predicted codes, counts pooled over records.",
            ),
            MetricInfo::new(JSON_VALID, true, "Share of records whose output parses as JSON (a Markdown code fence allowed)."),
            MetricInfo::new(SCHEMA_VALID, true, "Share of records whose output is a JSON array of strings."),
        ],
        output_schema: OUTPUT_SCHEMA.into(),
        generation: GenerationHints { max_new_tokens: 128, stop: vec!["\n\n".into()] },
        system_prompt: SYSTEM_PROMPT.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapha_task_sdk::serde_json::{self, Value};

    #[test]
    fn declares_valid_metric_names_and_an_array_schema() {
        let info = info();
        assert_eq!(info.id, "icd-coding");
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
        assert_eq!(schema["type"], "array");
        assert_eq!(schema["items"]["type"], "string");
    }
}
