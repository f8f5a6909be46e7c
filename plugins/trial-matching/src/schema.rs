//! The output JSON Schema (draft 2020-12) that `info` declares.
//!
//! Strict structure only. That indices are unique is a task rule
//! ([`crate::rules`]); that they stay within the trial's range needs the record,
//! so `score` ignores an index no criterion has. [`crate::answer::Answer::from_value`]
//! mirrors this text; the tests below hold the two together.

/// The schema, as `info` returns it.
pub const OUTPUT_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "TrialEligibility",
  "description": "Whether a patient is eligible for a trial, and each criterion's decision.",
  "type": "object",
  "additionalProperties": false,
  "required": ["eligible", "criteria"],
  "properties": {
    "eligible": {"type": "boolean"},
    "criteria": {
      "type": "array",
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["index", "met"],
        "properties": {
          "index": {"type": "integer", "minimum": 1},
          "met": {"type": "boolean"}
        }
      }
    }
  }
}"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::{ANSWER_KEYS, Answer, CRITERION_KEYS};
    use serde_json::{Value, json};

    fn schema() -> Value {
        serde_json::from_str(OUTPUT_SCHEMA).expect("the schema is JSON")
    }

    fn required(at: &Value) -> Vec<String> {
        serde_json::from_value(at["required"].clone()).expect("a list of keys")
    }

    #[test]
    fn schema_is_a_valid_draft_2020_12_schema() {
        assert!(jsonschema::meta::is_valid(&schema()));
    }

    #[test]
    fn required_keys_match_the_typed_check_in_order() {
        let schema = schema();
        assert_eq!(required(&schema), ANSWER_KEYS);
        assert_eq!(
            required(&schema["properties"]["criteria"]["items"]),
            CRITERION_KEYS
        );
    }

    /// The host validates with the `jsonschema` crate; `schema_valid` uses the
    /// typed check. They must agree on every value, valid or not.
    #[test]
    fn typed_check_agrees_with_a_json_schema_validator() {
        let validator = jsonschema::draft202012::new(&schema()).expect("compiles");
        let answer = |criteria: Value| json!({"eligible": true, "criteria": criteria});
        let cases = [
            answer(json!([])),
            answer(json!([{"index": 1, "met": true}, {"index": 1, "met": false}])),
            answer(json!([{"index": 2.0, "met": true}])),
            answer(json!([{"index": 1.5, "met": true}])),
            answer(json!([{"index": 0, "met": true}])),
            answer(json!([{"index": -1, "met": true}])),
            answer(json!([{"index": 1e300, "met": true}])),
            answer(json!([{"index": "1", "met": true}])),
            answer(json!([{"index": 1, "met": "true"}])),
            answer(json!([{"index": 1}])),
            answer(json!([{"index": 1, "met": true, "note": ""}])),
            answer(json!([[1, true]])),
            answer(json!({"1": true})),
            json!({"eligible": null, "criteria": []}),
            json!({"eligible": true}),
            json!({"eligible": true, "criteria": [], "reason": "x"}),
            json!([]),
            json!(null),
        ];
        for case in &cases {
            assert_eq!(
                Answer::from_value(case).is_ok(),
                validator.is_valid(case),
                "disagreement on {case}"
            );
        }
    }
}
