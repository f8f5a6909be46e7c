//! The plugin's output JSON Schema: checked once at load, then used to validate
//! predictions. The host is the authority on the schema, so a plugin in C or JavaScript
//! needs no schema engine of its own.
//!
//! Draft 2020-12 only, through the `jsonschema` crate built without its HTTP and file
//! resolvers: a schema whose `$ref` points outside itself fails to load rather than make
//! the host reach for the network.
//!
//! A prediction is raw generated text; the schema describes its JSON value, taken as
//! follows (through `rapha_task_sdk::json_text`, the function the SDK's plugins read
//! predictions with, so the host and a Rust plugin agree on what is valid):
//! - a schema whose top-level `type` is `"string"` describes plain-text output (a summary):
//!   the value is the text itself, a JSON string, without parsing;
//! - any other schema describes JSON output: surrounding whitespace and one Markdown code
//!   fence (```` ```json … ``` ````) are removed, and the rest must parse as JSON.

use std::fmt;

use serde_json::Value;

/// The 2020-12 meta-schema's URI, the only `$schema` accepted.
const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// A plugin's output schema, validated against the draft 2020-12 meta-schema.
pub struct OutputSchema {
    text: String,
    plain_text: bool,
    validator: jsonschema::Validator,
}

impl fmt::Debug for OutputSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputSchema").field("text", &self.text).finish_non_exhaustive()
    }
}

/// The first place a prediction breaks the output schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaViolation {
    /// JSON Pointer into the prediction (`""` for the whole value).
    pub path: String,
    /// What rule was broken. Values of the prediction are masked as `value`, so the
    /// reason can be shown and logged; property names it lists are the prediction's.
    pub reason: String,
}

impl fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at `{}`: {}", self.path, self.reason)
    }
}

impl OutputSchema {
    /// Parse `text` as a draft 2020-12 JSON Schema; the reason it is not one.
    pub(crate) fn new(text: &str) -> Result<Self, String> {
        let duplicate = crate::duplicate_keys::first_duplicate(text).map_err(|error| format!("not JSON: {error}"))?;
        if let Some(pointer) = duplicate {
            return Err(format!("`{pointer}`: a key that appears twice in its object (parsers disagree on which counts)"));
        }
        let schema: Value =
            serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
        if let Some(declared) = schema.get("$schema") {
            let declared = declared.as_str().unwrap_or_default();
            if declared.trim_end_matches('#') != DRAFT_2020_12 {
                return Err(format!(
                    "`$schema`: expected `{DRAFT_2020_12}`, found `{declared}`"
                ));
            }
        }
        jsonschema::draft202012::meta::validate(&schema).map_err(|error| {
            format!(
                "breaks the draft 2020-12 meta-schema at `{}`: {}",
                error.instance_path(),
                error.masked()
            )
        })?;
        let validator = jsonschema::draft202012::new(&schema)
            .map_err(|error| format!("cannot be compiled: {}", error.masked()))?;
        Ok(OutputSchema {
            text: text.to_owned(),
            plain_text: schema.get("type") == Some(&Value::from("string")),
            validator,
        })
    }

    /// The schema as the plugin declared it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the schema describes plain-text output (top-level `type` `"string"`).
    pub fn is_plain_text(&self) -> bool {
        self.plain_text
    }

    /// The JSON value of `prediction`, read as the module documentation says.
    pub fn value_of(&self, prediction: &str) -> Result<Value, SchemaViolation> {
        if self.plain_text {
            return Ok(Value::String(prediction.to_owned()));
        }
        serde_json::from_str(rapha_task_sdk::json_text(prediction)).map_err(|error| SchemaViolation {
            path: String::new(),
            // serde_json's message names the line, column and category only, not the text.
            reason: format!("not JSON: {error}"),
        })
    }

    /// Check that the value of `prediction` satisfies the schema.
    pub fn validate(&self, prediction: &str) -> Result<(), SchemaViolation> {
        let value = self.value_of(prediction)?;
        self.validator
            .validate(&value)
            .map_err(|error| SchemaViolation {
                path: error.instance_path().to_string(),
                reason: error.masked().to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODES: &str = r#"{"$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "array", "items": {"type": "string", "pattern": "^[A-Z][0-9]"}}"#;

    #[test]
    fn validates_predictions_and_names_the_first_violation() {
        let schema = OutputSchema::new(CODES).expect("valid schema");
        assert_eq!(schema.validate(r#"["E11.9", "I10"]"#), Ok(()));
        let violation = schema.validate(r#"["E11.9", 4]"#).expect_err("4 is not a string");
        assert_eq!(violation.path, "/1");
        assert!(violation.reason.contains("string"), "reason: {}", violation.reason);
        let not_json = schema.validate("E11.9").expect_err("not JSON");
        assert_eq!(not_json.path, "");
        assert!(not_json.reason.starts_with("not JSON"), "reason: {}", not_json.reason);
        assert_eq!(schema.validate(" ```json\n[\"I10\"]\n``` "), Ok(()), "one fence is removed");
        assert!(schema.validate("codes: [\"I10\"]").is_err(), "text around the value is not");
    }

    #[test]
    fn a_string_schema_takes_the_text_itself() {
        let schema = OutputSchema::new(r#"{"type": "string", "minLength": 1}"#).expect("valid schema");
        assert!(schema.is_plain_text());
        assert_eq!(schema.validate("Pneumonia, treated, discharged home."), Ok(()));
        assert_eq!(schema.validate("42"), Ok(()), "a summary that looks like JSON is still text");
        assert!(schema.validate("").is_err(), "minLength applies to the text");
    }

    #[test]
    fn masks_the_predictions_values_in_reasons() {
        let schema = OutputSchema::new(CODES).expect("valid schema");
        let violation = schema
            .validate(r#"["Mrs Smith"]"#)
            .expect_err("does not match the pattern");
        assert!(!violation.reason.contains("Smith"), "reason: {}", violation.reason);
    }

    #[test]
    fn refuses_a_schema_with_a_duplicate_key() {
        let twice = OutputSchema::new(r#"{"type": "array", "items": {"type": "string", "type": "number"}}"#)
            .expect_err("a duplicate key");
        assert_eq!(twice, "`/items/type`: a key that appears twice in its object (parsers disagree on which counts)");
    }

    #[test]
    fn refuses_schemas_that_break_the_meta_schema_or_another_draft() {
        let invalid = OutputSchema::new(r#"{"type": "strng"}"#).expect_err("not a type");
        assert!(invalid.contains("meta-schema"), "reason: {invalid}");
        let draft7 = OutputSchema::new(r#"{"$schema": "http://json-schema.org/draft-07/schema#"}"#)
            .expect_err("draft 7");
        assert!(draft7.starts_with("`$schema`: expected"), "reason: {draft7}");
        let not_json = OutputSchema::new("{").expect_err("not JSON");
        assert!(not_json.starts_with("not JSON"), "reason: {not_json}");
    }
}
