//! The fields of an ICD coding record: `{"id", "note", "codes": [..]}`.

use rapha_task_sdk::serde_json::Value;
use rapha_task_sdk::{Example, FieldError, TaskError, json_kind, required_str};

use crate::codes::{exists, normalise};

fn invalid(field: String, reason: String) -> TaskError {
    TaskError::InvalidField(FieldError { field, reason })
}

/// The clinical note to code: a string with at least one non-space character.
pub fn note(example: &Example) -> Result<&str, TaskError> {
    let note = required_str(example, "note")?;
    if note.trim().is_empty() {
        return Err(invalid(
            "/note".into(),
            "expected a non-empty string, found only whitespace".into(),
        ));
    }
    Ok(note)
}

/// The gold codes, normalised, in record order, each once (a repeated code
/// keeps its first place). Every code must exist in ICD-10-CM: a gold set the
/// model could never match exactly is a data error, named by its element.
/// An empty array is a valid record (a note that supports no code).
pub fn gold_codes(example: &Example) -> Result<Vec<String>, TaskError> {
    let items = match example.get("codes") {
        None => return Err(TaskError::MissingField("/codes".into())),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(invalid(
                "/codes".into(),
                format!(
                    "expected an array of ICD-10-CM code strings, found {}",
                    json_kind(other)
                ),
            ));
        }
    };
    let mut codes: Vec<String> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Value::String(code) = item else {
            return Err(invalid(
                format!("/codes/{index}"),
                format!("expected a string, found {}", json_kind(item)),
            ));
        };
        let normalised = normalise(code);
        if !exists(&normalised) {
            return Err(invalid(
                format!("/codes/{index}"),
                format!("code `{code}` does not exist in ICD-10-CM"),
            ));
        }
        if !codes.contains(&normalised) {
            codes.push(normalised);
        }
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapha_task_sdk::parse_example;

    fn field_error(error: TaskError) -> (String, String) {
        match error {
            TaskError::MissingField(field) => (field, "missing".into()),
            TaskError::InvalidField(FieldError { field, reason }) => (field, reason),
            other => panic!("expected a field error, found {other:?}"),
        }
    }

    fn codes_of(json: &str) -> Result<Vec<String>, (String, String)> {
        gold_codes(&parse_example(json).expect("an object")).map_err(field_error)
    }

    #[test]
    fn normalises_and_deduplicates_gold_codes_in_order() {
        assert_eq!(
            codes_of(r#"{"codes": ["i10", " E11.9", "I10", "E119"]}"#),
            Ok(vec!["I10".into(), "E119".into()])
        );
        assert_eq!(codes_of(r#"{"codes": []}"#), Ok(vec![]));
    }

    #[test]
    fn names_the_unusable_gold_field() {
        assert_eq!(
            codes_of(r#"{"note": "x"}"#),
            Err(("/codes".into(), "missing".into()))
        );
        assert_eq!(
            codes_of(r#"{"codes": "E11.9"}"#),
            Err((
                "/codes".into(),
                "expected an array of ICD-10-CM code strings, found a string".into()
            ))
        );
        assert_eq!(
            codes_of(r#"{"codes": ["E11.9", 250.0]}"#),
            Err((
                "/codes/1".into(),
                "expected a string, found a number".into()
            ))
        );
        assert_eq!(
            codes_of(r#"{"codes": ["E11.9", "I10", "E11.99"]}"#),
            Err((
                "/codes/2".into(),
                "code `E11.99` does not exist in ICD-10-CM".into()
            ))
        );
        let example = parse_example(r#"{"note": " \n", "codes": []}"#).expect("an object");
        assert_eq!(
            field_error(note(&example).expect_err("should be refused")).0,
            "/note"
        );
    }
}
