//! An ICD coding record as a training pair: the system prompt and the note as
//! messages, and the gold codes as a compact JSON array as the completion.

use rapha_task_sdk::serde_json;
use rapha_task_sdk::{Example, FormattedExample, TaskError};

use crate::codes::dotted;
use crate::record;

/// The system prompt used when a recipe sets none.
pub const SYSTEM_PROMPT: &str = "You are a clinical coder. Read the clinical note you are given and list the \
ICD-10-CM codes of the diagnoses it documents, each at the most specific level the note supports. Answer with a \
JSON array of code strings and nothing else, for example [\"E11.9\",\"I10\"]; answer [] when no code applies.";

/// Messages `[system, user]`, the system one being [`SYSTEM_PROMPT`], and the
/// completion: the gold codes in record order, each once, in their dotted
/// upper-case form, as a JSON array without spaces (`["E11.9","I10"]`), so the
/// model learns one canonical notation whatever the dataset's spelling.
pub fn format_example(example: &Example) -> Result<FormattedExample, TaskError> {
    let note = record::note(example)?;
    let codes: Vec<String> = record::gold_codes(example)?
        .iter()
        .map(|code| dotted(code))
        .collect();
    let completion = serde_json::to_string(&codes).expect("a list of strings serialises");
    Ok(FormattedExample::chat(
        SYSTEM_PROMPT,
        format!("Assign the ICD-10-CM codes for this clinical note.\n\nNote:\n{}", note.trim()),
        completion,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapha_task_sdk::Role;
    use crate::prediction::validate;
    use crate::score::score;
    use rapha_task_sdk::parse_example;

    #[test]
    fn completion_is_the_canonical_compact_code_array() {
        let example = parse_example(
            r#"{"id": "c1", "note": " T2DM, HTN.\n", "codes": ["e11.9", "I10", "E119", "s72.001a"]}"#,
        )
        .expect("an object");
        let formatted = format_example(&example).expect("valid record");
        assert_eq!(formatted.completion, r#"["E11.9","I10","S72.001A"]"#);
        assert!(matches!(formatted.messages[0].role, Role::System));
        assert_eq!(formatted.messages[0].content, SYSTEM_PROMPT);
        assert!(matches!(formatted.messages[1].role, Role::User));
        assert_eq!(
            formatted.messages[1].content,
            "Assign the ICD-10-CM codes for this clinical note.\n\nNote:\nT2DM, HTN."
        );
    }

    /// The WIT contract: the completion is a perfect prediction for its record.
    #[test]
    fn completion_validates_and_scores_perfectly() {
        for codes in [r#"["I10", "E11.9"]"#, "[]"] {
            let example =
                parse_example(&format!(r#"{{"note": "n", "codes": {codes}}}"#)).expect("an object");
            let completion = format_example(&example).expect("valid record").completion;
            assert!(validate(&completion).is_ok(), "{completion}");
            let score = score(&completion, &example).expect("valid record");
            for name in ["micro_f1", "exact_match", "category_f1", "schema_valid"] {
                let value = score
                    .metrics
                    .iter()
                    .find(|m| m.name == name)
                    .expect("metric")
                    .value;
                assert_eq!(value, 1.0, "`{name}` of {completion}");
            }
        }
    }

    #[test]
    fn refuses_a_record_without_codes() {
        let example = parse_example(r#"{"id": "c1", "note": "n"}"#).expect("an object");
        let error = format_example(&example).expect_err("should be refused");
        assert!(
            matches!(&error, TaskError::MissingField(field) if field == "/codes"),
            "{error:?}"
        );
    }
}
