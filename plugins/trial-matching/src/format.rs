//! Prompt and completion for one record.
//!
//! - system: [`SYSTEM_PROMPT`] (a recipe may replace it);
//! - user: the patient, the trial title and the criteria, each labelled with
//!   its index in square brackets, numbered from 1 across inclusion then
//!   exclusion criteria (an empty list reads `(none)`):
//!   ```text
//!   Patient:
//!   <patient>
//!
//!   Trial: <title>
//!
//!   Inclusion criteria:
//!   [1] <inclusion 1>
//!   [2] <inclusion 2>
//!
//!   Exclusion criteria:
//!   [3] <exclusion 1>
//!   ```
//! - completion: `{"eligible":<bool>,"criteria":[{"index":1,"met":<bool>},…]}`,
//!   compact, keys in this order, every criterion once in index order.

use rapha_task_sdk::FormattedExample;
use serde::Serialize;

use crate::record::{Kind, Record};

/// The default system prompt: what `met` and `eligible` mean, and the format.
pub const SYSTEM_PROMPT: &str = r#"You decide whether a patient is eligible for a clinical trial. You are given a description of the patient and the trial's criteria, each labelled with its index in square brackets: [1], [2], ... across the inclusion criteria and then the exclusion criteria.
For every criterion, decide whether its statement is true of the patient: "met" is true when the description shows that it holds, and false otherwise, including when the description does not mention it. For an exclusion criterion, "met": true means the exclusion applies to the patient.
The patient is eligible when every inclusion criterion is met and no exclusion criterion is met.
Reply with one JSON object and nothing else, giving every criterion once, in index order:
{"eligible":<true or false>,"criteria":[{"index":1,"met":<true or false>},{"index":2,"met":<true or false>},...]}"#;

/// The completion's shape; field order is the key order written.
#[derive(Serialize)]
struct Target {
    eligible: bool,
    criteria: Vec<TargetCriterion>,
}

#[derive(Serialize)]
struct TargetCriterion {
    index: u32,
    met: bool,
}

/// The messages and completion for `record`.
pub fn format_example(record: &Record<'_>) -> FormattedExample {
    let mut user = format!("Patient:\n{}\n\nTrial: {}\n", record.patient, record.title);
    for (kind, heading) in [
        (Kind::Inclusion, "Inclusion criteria"),
        (Kind::Exclusion, "Exclusion criteria"),
    ] {
        user.push_str(&format!("\n{heading}:\n"));
        let mut listed = record.criteria.iter().filter(|c| c.kind == kind).peekable();
        if listed.peek().is_none() {
            user.push_str("(none)\n");
        }
        for criterion in listed {
            user.push_str(&format!("[{}] {}\n", criterion.index, criterion.text));
        }
    }
    let target = Target {
        eligible: record.eligible,
        criteria: record
            .criteria
            .iter()
            .map(|c| TargetCriterion {
                index: c.index,
                met: c.met,
            })
            .collect(),
    };
    FormattedExample::chat(
        SYSTEM_PROMPT,
        user.trim_end().to_owned(),
        serde_json::to_string(&target).expect("booleans and integers always serialise"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapha_task_sdk::Role;
    use rapha_task_sdk::Example;
    use serde_json::json;

    fn example(
        exclusion: serde_json::Value,
        criteria: serde_json::Value,
        eligible: bool,
    ) -> Example {
        json!({
            "id": "tm-2",
            "patient": "70M, COPD, on home oxygen.",
            "trial": {"id": "T-9", "title": "Rehab in COPD",
                      "inclusion": ["Diagnosis of COPD", "Age over 40"], "exclusion": exclusion},
            "criteria": criteria,
            "eligible": eligible
        })
        .as_object()
        .expect("object")
        .clone()
    }

    #[test]
    fn shows_every_index_and_writes_a_compact_target() {
        let example = example(
            json!(["Home oxygen"]),
            json!([{"index": 1, "kind": "inclusion", "met": true},
                   {"index": 2, "kind": "inclusion", "met": true},
                   {"index": 3, "kind": "exclusion", "met": true}]),
            false,
        );
        let formatted = format_example(&Record::from_example(&example).expect("usable"));
        assert!(matches!(formatted.messages[0].role, Role::System));
        assert_eq!(formatted.messages[0].content, SYSTEM_PROMPT);
        assert!(matches!(formatted.messages[1].role, Role::User));
        assert_eq!(
            formatted.messages[1].content,
            "Patient:\n70M, COPD, on home oxygen.\n\nTrial: Rehab in COPD\n\n\
             Inclusion criteria:\n[1] Diagnosis of COPD\n[2] Age over 40\n\n\
             Exclusion criteria:\n[3] Home oxygen"
        );
        assert_eq!(
            formatted.completion,
            r#"{"eligible":false,"criteria":[{"index":1,"met":true},{"index":2,"met":true},{"index":3,"met":true}]}"#
        );
    }

    #[test]
    fn an_empty_list_reads_none() {
        let example = example(
            json!([]),
            json!([{"index": 1, "kind": "inclusion", "met": true},
                   {"index": 2, "kind": "inclusion", "met": false}]),
            false,
        );
        let formatted = format_example(&Record::from_example(&example).expect("usable"));
        assert!(
            formatted.messages[1]
                .content
                .ends_with("[2] Age over 40\n\nExclusion criteria:\n(none)")
        );
    }
}
