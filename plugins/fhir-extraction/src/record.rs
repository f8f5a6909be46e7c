//! A dataset record: `{"id": …, "note": string, "extract": ClinicalNoteExtract}`.
//!
//! The target must itself be a valid output (schema and task rules), since it is
//! the completion the model learns and the reference `score` compares against.
//! `id` is not read.

use rapha_task_sdk::{Example, FieldError, TaskError, json_kind, required_str};

use crate::extract::{ClinicalNoteExtract, SchemaErrorKind};
use crate::rules;

/// The fields of a record that the task uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    /// The clinical note, as the prompt shows it.
    pub note: &'a str,
    /// The gold extract.
    pub extract: ClinicalNoteExtract,
}

impl<'a> Record<'a> {
    /// Read `note` and `extract`, or name the field that is missing or unusable.
    pub fn from_example(example: &'a Example) -> Result<Self, TaskError> {
        let note = required_str(example, "note")?;
        if note.trim().is_empty() {
            return Err(invalid(
                "/note",
                "expected a non-blank string, found a blank one".into(),
            ));
        }
        let value = example
            .get("extract")
            .ok_or_else(|| TaskError::MissingField("/extract".into()))?;
        if !value.is_object() {
            return Err(invalid(
                "/extract",
                format!("expected an object, found {}", json_kind(value)),
            ));
        }
        let extract = ClinicalNoteExtract::from_value(value).map_err(|e| match &e.kind {
            SchemaErrorKind::Missing => TaskError::MissingField(format!("/extract{}", e.path)),
            SchemaErrorKind::Invalid(reason) => {
                invalid(&format!("/extract{}", e.path), reason.clone())
            }
        })?;
        rules::check(&extract).map_err(|v| invalid(&format!("/extract{}", v.path), v.reason))?;
        Ok(Self { note, extract })
    }
}

fn invalid(field: &str, reason: String) -> TaskError {
    TaskError::InvalidField(FieldError {
        field: field.to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn example(value: serde_json::Value) -> Example {
        value.as_object().expect("an object").clone()
    }

    fn valid_extract() -> serde_json::Value {
        json!({
            "resourceType": "ClinicalNoteExtract",
            "patient": {"name": null, "ageYears": null, "sex": "male"},
            "complaints": ["cough"], "conditions": [], "medications": []
        })
    }

    #[test]
    fn reads_note_and_extract() {
        let example = example(json!({"id": "r1", "note": "Cough.", "extract": valid_extract()}));
        let record = Record::from_example(&example).expect("usable");
        assert_eq!(record.note, "Cough.");
        assert_eq!(record.extract.complaints, ["cough"]);
    }

    /// `TaskError` has no `PartialEq` (generated bindings); compare its text.
    fn error_of(example: &Example) -> String {
        match Record::from_example(example).expect_err("unusable") {
            TaskError::MissingField(field) => format!("missing {field}"),
            TaskError::InvalidField(e) => format!("invalid {}: {}", e.field, e.reason),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn names_the_missing_or_invalid_field() {
        assert_eq!(
            error_of(&example(json!({"extract": valid_extract()}))),
            "missing /note"
        );
        assert_eq!(
            error_of(&example(json!({"note": "  ", "extract": valid_extract()}))),
            "invalid /note: expected a non-blank string, found a blank one"
        );

        let mut extract = valid_extract();
        extract["patient"]
            .as_object_mut()
            .expect("object")
            .remove("sex");
        assert_eq!(
            error_of(&example(json!({"note": "x", "extract": extract}))),
            "missing /extract/patient/sex"
        );

        let mut extract = valid_extract();
        extract["patient"]["ageYears"] = json!(140);
        assert_eq!(
            error_of(&example(json!({"note": "x", "extract": extract}))),
            "invalid /extract/patient/ageYears: expected an age from 0 to 130 years, found `140`"
        );

        assert_eq!(
            error_of(&example(json!({"note": "x", "extract": "{}"}))),
            "invalid /extract: expected an object, found a string"
        );
        assert_eq!(error_of(&example(json!({"note": "x"}))), "missing /extract");
    }
}
