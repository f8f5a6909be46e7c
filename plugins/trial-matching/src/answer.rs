//! A prediction's typed form, and the structural check that mirrors the
//! declared schema ([`crate::schema::OUTPUT_SCHEMA`]).
//!
//! [`Answer::from_value`] accepts exactly the values the schema accepts; a test
//! runs both over the same values. Uniqueness of indices, which the schema
//! cannot state, is a task rule ([`crate::rules`]).

use serde_json::{Map, Value};

/// Keys of the answer object, in schema order.
pub const ANSWER_KEYS: [&str; 2] = ["eligible", "criteria"];
/// Keys of one criterion decision, in schema order.
pub const CRITERION_KEYS: [&str; 2] = ["index", "met"];

/// The model's answer for one patient and one trial.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub eligible: bool,
    /// In the order given; indices may repeat or be out of the trial's range.
    pub criteria: Vec<CriterionAnswer>,
}

/// One criterion decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CriterionAnswer {
    /// An integer-valued number ≥ 1 (JSON Schema's `integer` admits `3.0`).
    pub index: f64,
    pub met: bool,
}

/// Where a value breaks the output schema, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// JSON Pointer to the offending value, or to the missing key.
    pub path: String,
    pub reason: String,
}

impl Answer {
    /// Check `value` against the output schema and return its typed form, or the
    /// first violation: at each object its type, then missing keys in schema
    /// order, then the smallest unexpected key (byte order), then each property
    /// in schema order; list items in index order.
    pub fn from_value(value: &Value) -> Result<Self, SchemaError> {
        let object = object_with_keys(value, "", &ANSWER_KEYS)?;
        let eligible = boolean(&object["eligible"], "/eligible")?;
        let list = &object["criteria"];
        let items = list.as_array().ok_or_else(|| SchemaError {
            path: "/criteria".into(),
            reason: format!("expected an array, found {}", describe(list)),
        })?;
        let criteria = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let path = format!("/criteria/{i}");
                let object = object_with_keys(item, &path, &CRITERION_KEYS)?;
                let index = &object["index"];
                let index = index
                    .as_f64()
                    .filter(|v| v.is_finite() && v.fract() == 0.0 && *v >= 1.0)
                    .ok_or_else(|| SchemaError {
                        path: format!("{path}/index"),
                        reason: format!("expected an integer from 1, found {}", describe(index)),
                    })?;
                Ok(CriterionAnswer {
                    index,
                    met: boolean(&object["met"], &format!("{path}/met"))?,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { eligible, criteria })
    }

    /// The decision for criterion `index`: the first entry that names it.
    pub fn met(&self, index: u32) -> Option<bool> {
        self.criteria
            .iter()
            .find(|c| c.index == f64::from(index))
            .map(|c| c.met)
    }
}

fn boolean(value: &Value, path: &str) -> Result<bool, SchemaError> {
    value.as_bool().ok_or_else(|| SchemaError {
        path: path.to_owned(),
        reason: format!("expected a boolean, found {}", describe(value)),
    })
}

/// An object with exactly `keys` (all required, no others: the schema's
/// `required` plus `additionalProperties: false`).
fn object_with_keys<'a>(
    value: &'a Value,
    path: &str,
    keys: &[&str],
) -> Result<&'a Map<String, Value>, SchemaError> {
    let object = value.as_object().ok_or_else(|| SchemaError {
        path: path.to_owned(),
        reason: format!("expected an object, found {}", describe(value)),
    })?;
    if let Some(missing) = keys.iter().find(|key| !object.contains_key(**key)) {
        return Err(SchemaError {
            path: format!("{path}/{missing}"),
            reason: "missing required key".into(),
        });
    }
    // The map's iteration order depends on serde_json's features; the minimum does not.
    if let Some(extra) = object
        .keys()
        .filter(|key| !keys.contains(&key.as_str()))
        .min()
    {
        let expected = keys
            .iter()
            .map(|key| format!("`{key}`"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(SchemaError {
            path: format!("{path}/{}", extra.replace('~', "~0").replace('/', "~1")),
            reason: format!("unexpected key `{extra}`: expected only {expected}"),
        });
    }
    Ok(object)
}

/// A value for an error message: strings and numbers in backticks, others by kind.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::Null => "null".to_owned(),
        other => rapha_task_sdk::json_kind(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error_of(value: Value) -> (String, String) {
        let e = Answer::from_value(&value).expect_err("should be rejected");
        (e.path, e.reason)
    }

    #[test]
    fn reads_an_answer_and_keeps_the_first_of_duplicate_indices() {
        let answer = Answer::from_value(&json!({
            "eligible": false,
            "criteria": [{"index": 2, "met": true}, {"index": 1.0, "met": false}, {"index": 2, "met": false}]
        }))
        .expect("valid");
        assert!(!answer.eligible);
        assert_eq!(answer.met(1), Some(false));
        assert_eq!(answer.met(2), Some(true));
        assert_eq!(answer.met(3), None);
    }

    #[test]
    fn reports_the_first_structural_violation() {
        assert_eq!(
            error_of(json!({"criteria": []})),
            ("/eligible".into(), "missing required key".into())
        );
        assert_eq!(
            error_of(json!({"eligible": "yes", "criteria": []})),
            ("/eligible".into(), "expected a boolean, found `yes`".into())
        );
        assert_eq!(
            error_of(json!({"eligible": true, "criteria": [{"index": 0, "met": true}]})),
            (
                "/criteria/0/index".into(),
                "expected an integer from 1, found `0`".into()
            )
        );
        assert_eq!(
            error_of(
                json!({"eligible": true, "criteria": [{"index": 1, "met": true, "why": "x"}]})
            ),
            (
                "/criteria/0/why".into(),
                "unexpected key `why`: expected only `index`, `met`".into()
            )
        );
        assert_eq!(
            error_of(json!({"eligible": true, "criteria": {"1": true}})),
            (
                "/criteria".into(),
                "expected an array, found an object".into()
            )
        );
        assert_eq!(
            error_of(json!(true)),
            ("".into(), "expected an object, found a boolean".into())
        );
    }
}
