//! The fields of a summarisation record: `{"id", "note", "summary"}`.

use rapha_task_sdk::{Example, FieldError, TaskError, required_str};

use crate::tokenize::tokenize;

/// The clinical note to summarise: a string with at least one non-space character.
pub fn note(example: &Example) -> Result<&str, TaskError> {
    let note = required_str(example, "note")?;
    if note.trim().is_empty() {
        return Err(TaskError::InvalidField(FieldError {
            field: "/note".into(),
            reason: "expected a non-empty string, found only whitespace".into(),
        }));
    }
    Ok(note)
}

/// The reference summary and its ROUGE tokens. A reference without a single
/// `[a-z0-9]` run is refused: ROUGE and the length ratio are undefined against it.
pub fn summary(example: &Example) -> Result<(&str, Vec<String>), TaskError> {
    let summary = required_str(example, "summary")?;
    let tokens = tokenize(summary);
    if tokens.is_empty() {
        return Err(TaskError::InvalidField(FieldError {
            field: "/summary".into(),
            reason: "expected a summary with at least one word (a run of `[a-z0-9]` after lowercasing), found none"
                .into(),
        }));
    }
    Ok((summary, tokens))
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

    #[test]
    fn names_the_missing_or_unusable_field() {
        let example = parse_example(r#"{"id": "1", "note": "Seen today."}"#).expect("object");
        assert_eq!(
            field_error(summary(&example).expect_err("should be refused")),
            ("/summary".into(), "missing".into())
        );

        let example =
            parse_example(r#"{"id": "1", "note": "  ", "summary": "— !"}"#).expect("object");
        assert_eq!(
            field_error(note(&example).expect_err("should be refused")).0,
            "/note"
        );
        let (field, reason) = field_error(summary(&example).expect_err("should be refused"));
        assert_eq!(field, "/summary");
        assert!(
            reason.starts_with("expected a summary with at least one word"),
            "{reason}"
        );

        let example = parse_example(r#"{"note": 3}"#).expect("object");
        assert_eq!(
            field_error(note(&example).expect_err("should be refused")),
            ("/note".into(), "expected a string, found a number".into())
        );
    }
}
