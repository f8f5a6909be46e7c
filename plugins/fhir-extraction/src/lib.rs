//! `fhir-extraction`: turn a clinical note into a `ClinicalNoteExtract`, a
//! FHIR-like resource of a type no base model has seen, so a good score shows
//! the format was learned.
//!
//! Where to look: [`extract`] (the resource and its structural check),
//! [`schema`] (the declared JSON Schema), [`rules`] (what `validate` adds),
//! [`format`](mod@format) (prompt and completion), [`score`] (exact metric definitions).

pub mod extract;
pub mod format;
pub mod record;
pub mod rules;
pub mod schema;
pub mod score;

use rapha_task_sdk::{
    Example, ExampleScore, FormattedExample, GenerationHints, Metric, Task, TaskError, TaskInfo,
    Violation, parse_prediction_json,
};

use crate::extract::ClinicalNoteExtract;
use crate::record::Record;

/// Room for a long extract: about 25 tokens per medication and a few per
/// complaint or condition, well under 512 for the notes of this task.
const MAX_NEW_TOKENS: u32 = 512;

/// The task, as registered with the SDK.
pub struct FhirExtraction;

impl Task for FhirExtraction {
    fn info() -> TaskInfo {
        TaskInfo {
            id: "fhir-extraction".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Extract patient, complaints, conditions and medications from a clinical note as a ClinicalNoteExtract JSON resource".to_owned(),
            metrics: score::metric_infos(),
            output_schema: schema::OUTPUT_SCHEMA.to_owned(),
            generation: GenerationHints {
                max_new_tokens: MAX_NEW_TOKENS,
                // A blank line cannot occur inside compact JSON (a string
                // cannot hold a raw newline), only in chatter after it.
                stop: vec!["\n\n".to_owned()],
            },
            system_prompt: format::SYSTEM_PROMPT.to_owned(),
        }
    }

    fn format_example(example: &Example) -> Result<FormattedExample, TaskError> {
        Ok(format::format_example(&Record::from_example(example)?))
    }

    fn score(prediction: &str, example: &Example) -> Result<ExampleScore, TaskError> {
        let record = Record::from_example(example)?;
        Ok(score::score(prediction, &record.extract).to_example_score())
    }

    fn aggregate(scores: &[ExampleScore]) -> Result<Vec<Metric>, TaskError> {
        Ok(score::aggregate(scores))
    }

    fn reward(prediction: &str, example: &Example) -> Result<f64, TaskError> {
        let record = Record::from_example(example)?;
        Ok(score::score(prediction, &record.extract).reward())
    }

    /// Not JSON, then the structure, then the task rules: the first violation.
    fn validate(prediction: &str) -> Result<(), Violation> {
        let value = parse_prediction_json(prediction).ok_or_else(|| Violation {
            path: String::new(),
            reason: "expected a JSON object, found text that is not JSON".to_owned(),
        })?;
        let extract = ClinicalNoteExtract::from_value(&value).map_err(|e| Violation {
            reason: e.reason(),
            path: e.path,
        })?;
        rules::check(&extract).map_err(|v| Violation {
            path: v.path,
            reason: v.reason,
        })
    }
}

rapha_task_sdk::register_task!(FhirExtraction);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn example() -> Example {
        json!({
            "id": "fx-1",
            "note": "Pt 61M c/o cough. Hx COPD. Tiotropium 18 mcg daily.",
            "extract": {
                "resourceType": "ClinicalNoteExtract",
                "patient": {"name": null, "ageYears": 61, "sex": "male"},
                "complaints": ["cough"],
                "conditions": ["COPD"],
                "medications": [{"name": "tiotropium", "dose": {"value": 18, "unit": "mcg"}}]
            }
        })
        .as_object()
        .expect("object")
        .clone()
    }

    #[test]
    fn the_completion_validates_and_scores_perfectly() {
        let formatted = FhirExtraction::format_example(&example()).expect("usable record");
        assert!(FhirExtraction::validate(&formatted.completion).is_ok());
        assert_eq!(
            FhirExtraction::reward(&formatted.completion, &example()).expect("scored"),
            1.0
        );
        let score = FhirExtraction::score(&formatted.completion, &example()).expect("scored");
        let metrics = FhirExtraction::aggregate(&[score]).expect("aggregated");
        assert!(metrics.iter().all(|m| m.value == 1.0), "{metrics:?}");
    }

    #[test]
    fn validate_reports_the_first_violation_with_its_path() {
        let not_json = FhirExtraction::validate("Sure! Here it is").expect_err("not JSON");
        assert_eq!(
            (not_json.path.as_str(), not_json.reason.as_str()),
            ("", "expected a JSON object, found text that is not JSON")
        );

        let formatted = FhirExtraction::format_example(&example()).expect("usable record");
        let mut value: serde_json::Value =
            serde_json::from_str(&formatted.completion).expect("json");
        value["resourceType"] = json!("Observation");
        let wrong_type = FhirExtraction::validate(&value.to_string()).expect_err("wrong type");
        assert_eq!(wrong_type.path, "/resourceType");
        assert_eq!(
            wrong_type.reason,
            "expected `ClinicalNoteExtract`, found `Observation`"
        );

        value["resourceType"] = json!("ClinicalNoteExtract");
        value["medications"][0]["dose"]["value"] = json!(-18);
        let fenced = format!("```json\n{value}\n```");
        let negative = FhirExtraction::validate(&fenced).expect_err("negative dose");
        assert_eq!(negative.path, "/medications/0/dose/value");
        assert_eq!(negative.reason, "expected a positive dose, found `-18`");
    }

    #[test]
    fn info_declares_the_task() {
        let info = FhirExtraction::info();
        assert_eq!(info.id, "fhir-extraction");
        assert!(serde_json::from_str::<serde_json::Value>(&info.output_schema).is_ok());
        assert_eq!(info.system_prompt, format::SYSTEM_PROMPT);
        assert!(info.metrics.len() <= 32);
    }
}
