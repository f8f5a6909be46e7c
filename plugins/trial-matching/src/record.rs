//! A dataset record:
//!
//! ```json
//! {"id": "tm-1",
//!  "patient": "free-text description of the patient",
//!  "trial": {"id": "T-01", "title": "…", "inclusion": ["…"], "exclusion": ["…"]},
//!  "criteria": [{"index": 1, "kind": "inclusion", "met": true}, …],
//!  "eligible": true}
//! ```
//!
//! Criteria are numbered from 1 across the inclusion list, then the exclusion
//! list: with 2 inclusion and 1 exclusion criteria, indices 1 and 2 are the
//! inclusion ones and 3 the exclusion one. `criteria` lists one entry per
//! criterion, in index order, and its `kind` must agree with that numbering.
//! `met` is true when the criterion's statement is true of the patient; for an
//! exclusion criterion that means the exclusion applies. `eligible` must be
//! true exactly when every inclusion criterion is met and no exclusion
//! criterion is. Checking all this here catches a generator bug before it
//! becomes a training target. `id` and `trial.id` are not read.

use rapha_task_sdk::{Example, FieldError, TaskError, json_kind, required_str};
use serde_json::{Map, Value};

/// Which list a criterion comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Inclusion,
    Exclusion,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Inclusion => "inclusion",
            Kind::Exclusion => "exclusion",
        }
    }
}

/// One criterion of the trial with its gold decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criterion<'a> {
    /// From 1, across inclusion then exclusion.
    pub index: u32,
    pub kind: Kind,
    pub text: &'a str,
    pub met: bool,
}

/// The fields of a record that the task uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub patient: &'a str,
    pub title: &'a str,
    /// Every criterion, in index order.
    pub criteria: Vec<Criterion<'a>>,
    pub eligible: bool,
}

impl<'a> Record<'a> {
    /// Read and cross-check the record, or name the field that is unusable.
    pub fn from_example(example: &'a Example) -> Result<Self, TaskError> {
        let patient = non_blank(required_str(example, "patient")?, "/patient")?;
        let trial = object(example, "trial", "")?;
        let title = non_blank(
            required_str(trial, "title").map_err(under("/trial"))?,
            "/trial/title",
        )?;
        let mut texts = Vec::new();
        for kind in [Kind::Inclusion, Kind::Exclusion] {
            let field = kind.name();
            let list = array(trial, field, "/trial")?;
            for (i, item) in list.iter().enumerate() {
                let path = format!("/trial/{field}/{i}");
                let text = item.as_str().ok_or_else(|| {
                    invalid(
                        &path,
                        format!("expected a string, found {}", json_kind(item)),
                    )
                })?;
                texts.push((kind, non_blank(text, &path)?));
            }
        }
        if texts.is_empty() {
            return Err(invalid(
                "/trial",
                "expected at least one inclusion or exclusion criterion, found none".into(),
            ));
        }
        let gold = array(example, "criteria", "")?;
        if gold.len() != texts.len() {
            return Err(invalid(
                "/criteria",
                format!(
                    "expected {} entries, one per criterion of the trial, found {}",
                    texts.len(),
                    gold.len()
                ),
            ));
        }
        let criteria = texts
            .into_iter()
            .zip(gold)
            .enumerate()
            .map(|(j, ((kind, text), entry))| criterion(j, kind, text, entry))
            .collect::<Result<Vec<_>, _>>()?;
        let eligible = match example.get("eligible") {
            None => return Err(TaskError::MissingField("/eligible".into())),
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(invalid(
                    "/eligible",
                    format!("expected a boolean, found {}", json_kind(other)),
                ));
            }
        };
        let implied = criteria
            .iter()
            .all(|c| c.met == (c.kind == Kind::Inclusion));
        if eligible != implied {
            return Err(invalid(
                "/eligible",
                format!(
                    "expected `{implied}` (all inclusion criteria met and no exclusion criterion met), found `{eligible}`"
                ),
            ));
        }
        Ok(Self {
            patient,
            title,
            criteria,
            eligible,
        })
    }
}

/// Entry `j` of `criteria`: `{"index": j + 1, "kind": <kind>, "met": bool}`.
fn criterion<'a>(
    j: usize,
    kind: Kind,
    text: &'a str,
    entry: &Value,
) -> Result<Criterion<'a>, TaskError> {
    let path = format!("/criteria/{j}");
    let entry = entry.as_object().ok_or_else(|| {
        invalid(
            &path,
            format!("expected an object, found {}", json_kind(entry)),
        )
    })?;
    let index = u32::try_from(j + 1)
        .expect("a criteria list parsed from a WIT string has fewer than 2^32 entries");
    let given = entry
        .get("index")
        .ok_or_else(|| TaskError::MissingField(format!("{path}/index")))?;
    if given.as_f64() != Some(f64::from(index)) {
        return Err(invalid(
            &format!("{path}/index"),
            format!(
                "expected `{index}` (criteria are numbered from 1, inclusion then exclusion, and listed in order), found {}",
                describe(given)
            ),
        ));
    }
    let given = entry
        .get("kind")
        .ok_or_else(|| TaskError::MissingField(format!("{path}/kind")))?;
    if given.as_str() != Some(kind.name()) {
        return Err(invalid(
            &format!("{path}/kind"),
            format!("expected `{}`, found {}", kind.name(), describe(given)),
        ));
    }
    let met = match entry.get("met") {
        None => return Err(TaskError::MissingField(format!("{path}/met"))),
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(invalid(
                &format!("{path}/met"),
                format!("expected a boolean, found {}", json_kind(other)),
            ));
        }
    };
    Ok(Criterion {
        index,
        kind,
        text,
        met,
    })
}

fn object<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<&'a Map<String, Value>, TaskError> {
    let path = format!("{at}/{key}");
    match parent.get(key) {
        None => Err(TaskError::MissingField(path)),
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(invalid(
            &path,
            format!("expected an object, found {}", json_kind(other)),
        )),
    }
}

fn array<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<&'a Vec<Value>, TaskError> {
    let path = format!("{at}/{key}");
    match parent.get(key) {
        None => Err(TaskError::MissingField(path)),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(invalid(
            &path,
            format!("expected an array, found {}", json_kind(other)),
        )),
    }
}

fn non_blank<'a>(text: &'a str, path: &str) -> Result<&'a str, TaskError> {
    if text.trim().is_empty() {
        Err(invalid(
            path,
            "expected a non-blank string, found a blank one".into(),
        ))
    } else {
        Ok(text)
    }
}

/// Prefix the field of an error from a nested object with that object's pointer.
fn under(prefix: &str) -> impl Fn(TaskError) -> TaskError + '_ {
    move |error| match error {
        TaskError::MissingField(field) => TaskError::MissingField(format!("{prefix}{field}")),
        TaskError::InvalidField(e) => invalid(&format!("{prefix}{}", e.field), e.reason),
        other => other,
    }
}

fn invalid(field: &str, reason: String) -> TaskError {
    TaskError::InvalidField(FieldError {
        field: field.to_owned(),
        reason,
    })
}

/// A value for an error message: strings and numbers in backticks, others by kind.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::Null => "null".to_owned(),
        other => json_kind(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn example(edit: impl FnOnce(&mut Value)) -> Example {
        let mut value = json!({
            "id": "tm-1",
            "patient": "58-year-old woman with type 2 diabetes; HbA1c 8.1%; no insulin.",
            "trial": {"id": "T-7", "title": "Drug X in type 2 diabetes",
                      "inclusion": ["Age 18 to 75", "Type 2 diabetes"],
                      "exclusion": ["Current insulin therapy"]},
            "criteria": [
                {"index": 1, "kind": "inclusion", "met": true},
                {"index": 2, "kind": "inclusion", "met": true},
                {"index": 3, "kind": "exclusion", "met": false}
            ],
            "eligible": true
        });
        edit(&mut value);
        value.as_object().expect("object").clone()
    }

    /// `TaskError` has no `PartialEq` (generated bindings); compare its text.
    fn error_of(example: &Example) -> String {
        match Record::from_example(example).expect_err("unusable") {
            TaskError::MissingField(field) => format!("missing {field}"),
            TaskError::InvalidField(e) => format!("invalid {}: {}", e.field, e.reason),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn numbers_criteria_across_inclusion_then_exclusion() {
        let example = example(|_| {});
        let record = Record::from_example(&example).expect("usable");
        let summary: Vec<_> = record
            .criteria
            .iter()
            .map(|c| (c.index, c.kind, c.text, c.met))
            .collect();
        assert_eq!(
            summary,
            [
                (1, Kind::Inclusion, "Age 18 to 75", true),
                (2, Kind::Inclusion, "Type 2 diabetes", true),
                (3, Kind::Exclusion, "Current insulin therapy", false),
            ]
        );
        assert!(record.eligible);
    }

    #[test]
    fn rejects_records_whose_parts_disagree() {
        assert_eq!(
            error_of(&example(|v| v["eligible"] = json!(false))),
            "invalid /eligible: expected `true` (all inclusion criteria met and no exclusion criterion met), found `false`"
        );
        assert_eq!(
            error_of(&example(|v| v["criteria"][2]["kind"] = json!("inclusion"))),
            "invalid /criteria/2/kind: expected `exclusion`, found `inclusion`"
        );
        assert_eq!(
            error_of(&example(|v| v["criteria"][0]["index"] = json!(0))),
            "invalid /criteria/0/index: expected `1` (criteria are numbered from 1, inclusion then exclusion, and listed in order), found `0`"
        );
        assert_eq!(
            error_of(&example(|v| v["criteria"]
                .as_array_mut()
                .expect("array")
                .truncate(2))),
            "invalid /criteria: expected 3 entries, one per criterion of the trial, found 2"
        );
    }

    #[test]
    fn names_missing_and_mistyped_fields() {
        assert_eq!(
            error_of(&example(|v| {
                v.as_object_mut().expect("object").remove("trial");
            })),
            "missing /trial"
        );
        assert_eq!(
            error_of(&example(|v| {
                v["trial"].as_object_mut().expect("object").remove("title");
            })),
            "missing /trial/title"
        );
        assert_eq!(
            error_of(&example(|v| v["trial"]["exclusion"] = json!("none"))),
            "invalid /trial/exclusion: expected an array, found a string"
        );
        assert_eq!(
            error_of(&example(|v| v["trial"]["inclusion"][1] = json!(" "))),
            "invalid /trial/inclusion/1: expected a non-blank string, found a blank one"
        );
        assert_eq!(
            error_of(&example(|v| {
                v["trial"]["inclusion"] = json!([]);
                v["trial"]["exclusion"] = json!([]);
            })),
            "invalid /trial: expected at least one inclusion or exclusion criterion, found none"
        );
        assert_eq!(
            error_of(&example(|v| {
                v["criteria"][1]
                    .as_object_mut()
                    .expect("object")
                    .remove("met");
            })),
            "missing /criteria/1/met"
        );
        assert_eq!(
            error_of(&example(|v| {
                v.as_object_mut().expect("object").remove("eligible");
            })),
            "missing /eligible"
        );
    }
}
