//! Prompt and completion for one record.
//!
//! - system: [`SYSTEM_PROMPT`] (a recipe may replace it);
//! - user: `Clinical note:\n` followed by the note, unchanged;
//! - completion: the record's extract as compact JSON, keys in schema order
//!   (`resourceType`, `patient` {`name`, `ageYears`, `sex`}, `complaints`,
//!   `conditions`, `medications` [{`name`, `dose` {`value`, `unit`}}]), strings
//!   as the record has them, integer-valued numbers written without a fraction.

use rapha_task_sdk::FormattedExample;

use crate::record::Record;

/// The default system prompt: the output format and the extraction rules.
pub const SYSTEM_PROMPT: &str = r#"You extract structured facts from a clinical note. Reply with one JSON object and nothing else, in this form:
{"resourceType":"ClinicalNoteExtract","patient":{"name":<string or null>,"ageYears":<integer or null>,"sex":<"male", "female" or null>},"complaints":[<string>, ...],"conditions":[<string>, ...],"medications":[{"name":<string>,"dose":{"value":<number>,"unit":<string>} or null}, ...]}
Rules:
- "resourceType" is always "ClinicalNoteExtract".
- Use null for a name, age or sex that the note does not state; never guess an age.
- "complaints": the presenting symptoms, as written in the note.
- "conditions": diagnoses and medical history.
- "medications": in order of appearance in the note. Split a dose into its number and its unit: 500mg is {"value":500,"unit":"mg"}. Use null for the dose when the note gives none.
- Use [] for a list with no entries."#;

/// The messages and completion for `record`.
pub fn format_example(record: &Record<'_>) -> FormattedExample {
    FormattedExample::chat(
        SYSTEM_PROMPT,
        format!("Clinical note:\n{}", record.note),
        serde_json::to_string(&record.extract)
            .expect("an extract has string keys and finite numbers, so it serialises"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapha_task_sdk::Role;
    use rapha_task_sdk::Example;
    use serde_json::json;

    #[test]
    fn builds_system_and_user_messages_and_a_compact_completion() {
        // Keys deliberately out of schema order in the record.
        let example: Example = json!({
            "id": "r7",
            "note": "54F, chest pain. On metformin 500mg and aspirin.",
            "extract": {
                "medications": [{"dose": {"unit": "mg", "value": 500}, "name": "metformin"},
                                {"name": "aspirin", "dose": null}],
                "conditions": [],
                "complaints": ["chest pain"],
                "patient": {"sex": "female", "ageYears": 54, "name": null},
                "resourceType": "ClinicalNoteExtract"
            }
        })
        .as_object()
        .expect("object")
        .clone();
        let formatted = format_example(&Record::from_example(&example).expect("usable"));
        assert_eq!(formatted.messages.len(), 2);
        assert!(matches!(formatted.messages[0].role, Role::System));
        assert_eq!(formatted.messages[0].content, SYSTEM_PROMPT);
        assert!(matches!(formatted.messages[1].role, Role::User));
        assert_eq!(
            formatted.messages[1].content,
            "Clinical note:\n54F, chest pain. On metformin 500mg and aspirin."
        );
        assert_eq!(
            formatted.completion,
            r#"{"resourceType":"ClinicalNoteExtract","patient":{"name":null,"ageYears":54,"sex":"female"},"complaints":["chest pain"],"conditions":[],"medications":[{"name":"metformin","dose":{"value":500,"unit":"mg"}},{"name":"aspirin","dose":null}]}"#
        );
    }
}
