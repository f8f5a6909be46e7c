//! The output JSON Schema (draft 2020-12) that `info` declares.
//!
//! It states the structure only, strictly: every key required, no other keys,
//! `resourceType` fixed. Rules a reader would call clinical sense (an age from 0
//! to 130, a positive dose) are task rules checked by `validate`
//! ([`crate::rules`]), so that `schema_valid` means the same thing here and in
//! the host's validator. [`crate::extract::ClinicalNoteExtract::from_value`]
//! mirrors this text; the tests below hold the two together.

/// The schema, as `info` returns it.
pub const OUTPUT_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "ClinicalNoteExtract",
  "description": "Structured facts from one clinical note.",
  "type": "object",
  "additionalProperties": false,
  "required": ["resourceType", "patient", "complaints", "conditions", "medications"],
  "properties": {
    "resourceType": {"const": "ClinicalNoteExtract"},
    "patient": {
      "type": "object",
      "additionalProperties": false,
      "required": ["name", "ageYears", "sex"],
      "properties": {
        "name": {"type": ["string", "null"]},
        "ageYears": {"type": ["integer", "null"]},
        "sex": {"enum": ["male", "female", null]}
      }
    },
    "complaints": {"type": "array", "items": {"type": "string"}},
    "conditions": {"type": "array", "items": {"type": "string"}},
    "medications": {
      "type": "array",
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "dose"],
        "properties": {
          "name": {"type": "string"},
          "dose": {
            "type": ["object", "null"],
            "additionalProperties": false,
            "required": ["value", "unit"],
            "properties": {
              "value": {"type": "number"},
              "unit": {"type": "string"}
            }
          }
        }
      }
    }
  }
}"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{
        ClinicalNoteExtract, DOSE_KEYS, EXTRACT_KEYS, MEDICATION_KEYS, PATIENT_KEYS,
    };
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
        let items = &schema["properties"]["medications"]["items"];
        assert_eq!(required(&schema), EXTRACT_KEYS);
        assert_eq!(required(&schema["properties"]["patient"]), PATIENT_KEYS);
        assert_eq!(required(items), MEDICATION_KEYS);
        assert_eq!(required(&items["properties"]["dose"]), DOSE_KEYS);
    }

    /// The host validates with the `jsonschema` crate; `schema_valid` uses the
    /// typed check. They must agree on every value, valid or not.
    #[test]
    fn typed_check_agrees_with_a_json_schema_validator() {
        let validator = jsonschema::draft202012::new(&schema()).expect("compiles");
        let valid = json!({
            "resourceType": "ClinicalNoteExtract",
            "patient": {"name": null, "ageYears": 7, "sex": null},
            "complaints": [],
            "conditions": ["asthma"],
            "medications": [{"name": "salbutamol", "dose": {"value": 0.1, "unit": "mg"}},
                            {"name": "prednisolone", "dose": null}]
        });
        let with = |pointer: &str, new: Value| {
            let mut value = valid.clone();
            *value.pointer_mut(pointer).expect("pointer exists") = new;
            value
        };
        let without = |pointer: &str, key: &str| {
            let mut value = valid.clone();
            value
                .pointer_mut(pointer)
                .and_then(Value::as_object_mut)
                .expect("object")
                .remove(key);
            value
        };
        let cases = [
            valid.clone(),
            with("/patient/ageYears", json!(7.0)),
            with("/patient/ageYears", json!(7.5)),
            with("/patient/ageYears", json!(-3)),
            with("/patient/ageYears", json!(1e300)),
            with("/patient/ageYears", json!("7")),
            with("/patient/sex", json!("male")),
            with("/patient/sex", json!("Male")),
            with("/patient/name", json!(3)),
            with("/resourceType", json!("clinicalnoteextract")),
            with("/complaints", json!(["a", null])),
            with("/complaints", json!("cough")),
            with("/medications/0/dose/value", json!(-1)),
            with("/medications/0/dose/value", json!("1")),
            with("/medications/0/dose/unit", json!(null)),
            with("/medications/0/dose", json!([])),
            with(
                "/medications/0/dose",
                json!({"value": 1, "unit": "mg", "route": "po"}),
            ),
            with("/medications/0/name", json!(null)),
            with("/patient", json!(null)),
            without("", "complaints"),
            without("/patient", "sex"),
            without("/medications/0/dose", "unit"),
            json!({"resourceType": "ClinicalNoteExtract"}),
            json!([valid.clone()]),
            json!(null),
            json!("text"),
        ];
        for case in &cases {
            assert_eq!(
                ClinicalNoteExtract::from_value(case).is_ok(),
                validator.is_valid(case),
                "disagreement on {case}"
            );
        }
    }
}
