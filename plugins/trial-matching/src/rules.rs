//! Task rules beyond the output schema, checked by `validate`.
//!
//! `validate` sees the prediction only, not the trial, so it checks what holds
//! for every trial, in this order:
//! 1. `criteria` lists at least one decision (every trial has a criterion);
//! 2. no index appears twice (`score` would keep only the first).
//!
//! Whether each index exists in the trial can only be judged with the record;
//! `score` ignores indices no criterion has and counts absent ones as wrong.

use crate::answer::Answer;

/// The first rule an answer breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleViolation {
    /// JSON Pointer to the offending value.
    pub path: String,
    pub reason: String,
}

/// Check the task rules in the documented order.
pub fn check(answer: &Answer) -> Result<(), RuleViolation> {
    if answer.criteria.is_empty() {
        return Err(RuleViolation {
            path: "/criteria".into(),
            reason: "expected a decision for every criterion of the trial, found none".into(),
        });
    }
    for (j, later) in answer.criteria.iter().enumerate() {
        if let Some(first) = answer.criteria[..j]
            .iter()
            .position(|c| c.index == later.index)
        {
            return Err(RuleViolation {
                path: format!("/criteria/{j}/index"),
                reason: format!(
                    "expected each index once, found `{}` again (first at `/criteria/{first}`)",
                    later.index
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(criteria: serde_json::Value) -> Answer {
        Answer::from_value(&json!({"eligible": false, "criteria": criteria})).expect("schema-valid")
    }

    #[test]
    fn accepts_unique_indices_in_any_order() {
        assert_eq!(
            check(&answer(
                json!([{"index": 3, "met": true}, {"index": 1, "met": false}])
            )),
            Ok(())
        );
    }

    #[test]
    fn rejects_an_empty_list_and_duplicate_indices() {
        assert_eq!(
            check(&answer(json!([]))),
            Err(RuleViolation {
                path: "/criteria".into(),
                reason: "expected a decision for every criterion of the trial, found none".into()
            })
        );
        let duplicate = answer(json!([
            {"index": 1, "met": true}, {"index": 2, "met": true}, {"index": 1.0, "met": false}
        ]));
        assert_eq!(
            check(&duplicate),
            Err(RuleViolation {
                path: "/criteria/2/index".into(),
                reason: "expected each index once, found `1` again (first at `/criteria/0`)".into()
            })
        );
    }
}
