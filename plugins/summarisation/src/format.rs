//! A summarisation record as a training pair: the system prompt and the note as
//! messages, and the reference summary as the completion.

use rapha_task_sdk::{Example, FormattedExample, TaskError};

use crate::record;

/// The system prompt used when a recipe sets none.
pub const SYSTEM_PROMPT: &str = "You are a clinical documentation assistant. Summarise the clinical note you are \
given in a few plain sentences: the presenting problem, the key findings, the diagnoses, the treatment and the plan. \
Use only facts stated in the note and do not add advice. Answer with the summary alone.";

/// Messages `[system, user]`, the system one being [`SYSTEM_PROMPT`], and the
/// completion: the reference summary without surrounding whitespace (which ROUGE
/// ignores and the model need not learn).
pub fn format_example(example: &Example) -> Result<FormattedExample, TaskError> {
    let note = record::note(example)?;
    let (summary, _) = record::summary(example)?;
    Ok(FormattedExample::chat(
        SYSTEM_PROMPT,
        format!("Summarise this clinical note.\n\nNote:\n{}", note.trim()),
        summary.trim().to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapha_task_sdk::Role;
    use rapha_task_sdk::parse_example;

    #[test]
    fn builds_system_and_user_messages_and_the_trimmed_summary() {
        let example = parse_example(
            r#"{"id": "s1", "note": "  72M, chest pain x2d. Trop neg.\n", "summary": " Chest pain; troponin negative.\n"}"#,
        )
        .expect("object");
        let formatted = format_example(&example).expect("valid record");
        assert_eq!(formatted.messages.len(), 2);
        assert!(matches!(formatted.messages[0].role, Role::System));
        assert_eq!(formatted.messages[0].content, SYSTEM_PROMPT);
        assert!(matches!(formatted.messages[1].role, Role::User));
        assert_eq!(
            formatted.messages[1].content,
            "Summarise this clinical note.\n\nNote:\n72M, chest pain x2d. Trop neg."
        );
        assert_eq!(formatted.completion, "Chest pain; troponin negative.");
    }

    #[test]
    fn refuses_a_record_without_a_note() {
        let example = parse_example(r#"{"id": "s1", "summary": "ok"}"#).expect("object");
        let error = format_example(&example).expect_err("should be refused");
        assert!(
            matches!(&error, TaskError::MissingField(field) if field == "/note"),
            "{error:?}"
        );
    }
}
