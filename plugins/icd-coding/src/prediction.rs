//! A model's output read as a set of ICD-10-CM codes.
//!
//! The output must be one JSON array of strings, optionally inside a Markdown
//! code fence (see `rapha_task_sdk::parse_prediction_json`). Each string is a
//! predicted code after [`normalise`]; a code predicted twice counts once. Empty
//! or unknown strings are kept as predicted codes: they are false positives and
//! count as invalid codes.

use std::collections::BTreeSet;

use rapha_task_sdk::serde_json::Value;
use rapha_task_sdk::{Violation, json_kind, parse_prediction_json};

use crate::codes::{exists, normalise};

/// What a prediction turned out to be.
#[derive(Debug, PartialEq)]
pub enum Prediction {
    /// Not JSON at all.
    NotJson,
    /// JSON, but not an array of strings.
    NotCodeList,
    /// The predicted codes, normalised and unique.
    Codes(BTreeSet<String>),
}

impl Prediction {
    pub fn parse(text: &str) -> Self {
        match parse_prediction_json(text) {
            None => Self::NotJson,
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(normalise))
                .collect::<Option<BTreeSet<String>>>()
                .map_or(Self::NotCodeList, Self::Codes),
            Some(_) => Self::NotCodeList,
        }
    }
}

/// The first rule the output breaks: it must be a JSON array of strings, each
/// an ICD-10-CM code (at any level) once normalised.
pub fn validate(text: &str) -> Result<(), Violation> {
    let violation = |path: String, reason: String| Err(Violation { path, reason });
    let Some(value) = parse_prediction_json(text) else {
        return violation(
            String::new(),
            "expected a JSON array of ICD-10-CM code strings, found text that is not JSON".into(),
        );
    };
    let Value::Array(items) = &value else {
        return violation(
            String::new(),
            format!(
                "expected a JSON array of ICD-10-CM code strings, found {}",
                json_kind(&value)
            ),
        );
    };
    for (index, item) in items.iter().enumerate() {
        let Value::String(code) = item else {
            return violation(
                format!("/{index}"),
                format!("expected a string, found {}", json_kind(item)),
            );
        };
        if !exists(&normalise(code)) {
            return violation(
                format!("/{index}"),
                format!("code `{code}` does not exist in ICD-10-CM"),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(list: &[&str]) -> Prediction {
        Prediction::Codes(list.iter().map(|c| c.to_string()).collect())
    }

    #[test]
    fn reads_plain_and_fenced_arrays_counting_duplicates_once() {
        assert_eq!(
            Prediction::parse(r#"["E11.9","I10"]"#),
            codes(&["E119", "I10"])
        );
        assert_eq!(
            Prediction::parse("```json\n[\"e11.9\", \"E119\", \" i10 \"]\n```"),
            codes(&["E119", "I10"])
        );
        assert_eq!(Prediction::parse("[]"), codes(&[]));
        assert_eq!(Prediction::parse(r#"["", "U99"]"#), codes(&["", "U99"]));
    }

    #[test]
    fn tells_invalid_json_from_the_wrong_shape() {
        assert_eq!(Prediction::parse("E11.9, I10"), Prediction::NotJson);
        assert_eq!(
            Prediction::parse(r#"Codes: ["E11.9"]"#),
            Prediction::NotJson
        );
        assert_eq!(
            Prediction::parse(r#"{"codes": ["E11.9"]}"#),
            Prediction::NotCodeList
        );
        assert_eq!(
            Prediction::parse(r#"["E11.9", 5]"#),
            Prediction::NotCodeList
        );
        assert_eq!(Prediction::parse(r#""E11.9""#), Prediction::NotCodeList);
    }

    fn violation(text: &str) -> (String, String) {
        let v = validate(text).expect_err("should be refused");
        (v.path, v.reason)
    }

    #[test]
    fn validates_and_names_the_first_violation() {
        assert!(validate(r#"["E11.9", "i10", "E11", "S72.001A"]"#).is_ok());
        assert!(validate("[]").is_ok());
        assert_eq!(
            violation(r#"["E11.9", "I10", "E11.99", "nope"]"#),
            (
                "/2".into(),
                "code `E11.99` does not exist in ICD-10-CM".into()
            )
        );
        assert_eq!(
            violation(r#"["E11.9", null]"#),
            ("/1".into(), "expected a string, found null".into())
        );
        assert_eq!(
            violation(r#"{"codes": []}"#),
            (
                "".into(),
                "expected a JSON array of ICD-10-CM code strings, found an object".into()
            )
        );
        assert_eq!(
            violation("E11.9"),
            (
                "".into(),
                "expected a JSON array of ICD-10-CM code strings, found text that is not JSON"
                    .into()
            )
        );
    }
}
