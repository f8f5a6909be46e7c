//! `trial-matching`: decide, criterion by criterion, whether a patient is
//! eligible for a clinical trial, and score it as the n2c2 2018 cohort-selection
//! track does.
//!
//! Where to look: [`record`] (the dataset record and how criteria are
//! numbered), [`format`](mod@format) (prompt and completion), [`answer`] and [`schema`]
//! (the output and its structural check), [`rules`] (what `validate` adds),
//! [`score`] (exact metric definitions).

pub mod answer;
pub mod format;
pub mod record;
pub mod rules;
pub mod schema;
pub mod score;

use rapha_task_sdk::{
    Example, ExampleScore, FormattedExample, GenerationHints, Metric, Task, TaskError, TaskInfo,
    Violation, parse_prediction_json,
};

use crate::answer::Answer;
use crate::record::Record;

/// About 10 tokens per `{"index":12,"met":false},`: room for 36 criteria.
const MAX_NEW_TOKENS: u32 = 384;

/// The task, as registered with the SDK.
pub struct TrialMatching;

impl Task for TrialMatching {
    fn info() -> TaskInfo {
        TaskInfo {
            id: "trial-matching".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Decide each inclusion and exclusion criterion of a clinical trial for a patient, and the patient's eligibility".to_owned(),
            metrics: score::metric_infos(),
            output_schema: schema::OUTPUT_SCHEMA.to_owned(),
            generation: GenerationHints {
                max_new_tokens: MAX_NEW_TOKENS,
                // A blank line cannot occur inside compact JSON, only in chatter after it.
                stop: vec!["\n\n".to_owned()],
            },
            system_prompt: format::SYSTEM_PROMPT.to_owned(),
        }
    }

    fn format_example(example: &Example) -> Result<FormattedExample, TaskError> {
        Ok(format::format_example(&Record::from_example(example)?))
    }

    fn score(prediction: &str, example: &Example) -> Result<ExampleScore, TaskError> {
        Ok(score::score(prediction, &Record::from_example(example)?).to_example_score())
    }

    fn aggregate(scores: &[ExampleScore]) -> Result<Vec<Metric>, TaskError> {
        Ok(score::aggregate(scores))
    }

    fn reward(prediction: &str, example: &Example) -> Result<f64, TaskError> {
        Ok(score::score(prediction, &Record::from_example(example)?).reward())
    }

    /// Not JSON, then the structure, then the task rules: the first violation.
    fn validate(prediction: &str) -> Result<(), Violation> {
        let value = parse_prediction_json(prediction).ok_or_else(|| Violation {
            path: String::new(),
            reason: "expected a JSON object, found text that is not JSON".to_owned(),
        })?;
        let answer = Answer::from_value(&value).map_err(|e| Violation {
            path: e.path,
            reason: e.reason,
        })?;
        rules::check(&answer).map_err(|v| Violation {
            path: v.path,
            reason: v.reason,
        })
    }
}

rapha_task_sdk::register_task!(TrialMatching);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn example() -> Example {
        json!({
            "id": "tm-9",
            "patient": "45-year-old man with asthma, non-smoker, on inhaled budesonide.",
            "trial": {"id": "T-3", "title": "Biologic add-on in asthma",
                      "inclusion": ["Age 18 to 65", "Diagnosis of asthma", "Blood eosinophils above 300/uL"],
                      "exclusion": ["Current smoker"]},
            "criteria": [
                {"index": 1, "kind": "inclusion", "met": true},
                {"index": 2, "kind": "inclusion", "met": true},
                {"index": 3, "kind": "inclusion", "met": false},
                {"index": 4, "kind": "exclusion", "met": false}
            ],
            "eligible": false
        })
        .as_object()
        .expect("object")
        .clone()
    }

    #[test]
    fn the_completion_validates_and_scores_perfectly() {
        let formatted = TrialMatching::format_example(&example()).expect("usable record");
        assert!(TrialMatching::validate(&formatted.completion).is_ok());
        assert_eq!(
            TrialMatching::reward(&formatted.completion, &example()).expect("scored"),
            1.0
        );
        let score = TrialMatching::score(&formatted.completion, &example()).expect("scored");
        let metrics = TrialMatching::aggregate(&[score]).expect("aggregated");
        assert!(metrics.iter().all(|m| m.value == 1.0), "{metrics:?}");
    }

    #[test]
    fn validate_reports_structure_then_rules() {
        let not_json =
            TrialMatching::validate("I think the patient is eligible.").expect_err("not JSON");
        assert_eq!(not_json.path, "");
        let missing = TrialMatching::validate(r#"{"criteria":[]}"#).expect_err("no eligible");
        assert_eq!(
            (missing.path.as_str(), missing.reason.as_str()),
            ("/eligible", "missing required key")
        );
        let duplicate = TrialMatching::validate(
            "```json\n{\"eligible\":true,\"criteria\":[{\"index\":2,\"met\":true},{\"index\":2,\"met\":true}]}\n```",
        )
        .expect_err("duplicate");
        assert_eq!(duplicate.path, "/criteria/1/index");
    }

    #[test]
    fn info_declares_the_task() {
        let info = TrialMatching::info();
        assert_eq!(info.id, "trial-matching");
        assert_eq!(info.system_prompt, format::SYSTEM_PROMPT);
        assert!(info.metrics.len() <= 32);
    }
}
