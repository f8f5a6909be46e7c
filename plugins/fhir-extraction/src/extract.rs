//! The `ClinicalNoteExtract` resource: its typed form, and the structural check
//! that turns a JSON value into it.
//!
//! [`ClinicalNoteExtract::from_value`] accepts exactly the values that the
//! declared JSON Schema ([`crate::schema::OUTPUT_SCHEMA`]) accepts, so the
//! `schema_valid` metric needs no schema engine inside the plugin. A test runs
//! both over the same values to keep them in step. Task rules that the schema
//! does not state (age range, positive doses, …) live in [`crate::rules`].
//!
//! Serialising the typed form writes the keys in the schema's order (serde's
//! derive follows field order, whatever `serde_json`'s map ordering is), which
//! makes it the training completion.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// The only `resourceType` the task accepts; a base model cannot know it.
pub const RESOURCE_TYPE: &str = "ClinicalNoteExtract";

/// Keys of the top-level object, in schema order.
pub const EXTRACT_KEYS: [&str; 5] = [
    "resourceType",
    "patient",
    "complaints",
    "conditions",
    "medications",
];
/// Keys of `patient`, in schema order.
pub const PATIENT_KEYS: [&str; 3] = ["name", "ageYears", "sex"];
/// Keys of a medication, in schema order.
pub const MEDICATION_KEYS: [&str; 2] = ["name", "dose"];
/// Keys of a dose, in schema order.
pub const DOSE_KEYS: [&str; 2] = ["value", "unit"];

/// One extract, as the task defines it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClinicalNoteExtract {
    #[serde(rename = "resourceType")]
    pub resource_type: ResourceType,
    pub patient: Patient,
    /// Presenting symptoms, as written in the note.
    pub complaints: Vec<String>,
    /// Diagnoses and history.
    pub conditions: Vec<String>,
    /// In order of appearance in the note.
    pub medications: Vec<Medication>,
}

/// The constant `resourceType`; it serialises as [`RESOURCE_TYPE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType;

impl Serialize for ResourceType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(RESOURCE_TYPE)
    }
}

/// Who the note is about. `None` is the JSON `null` the note calls for when it
/// does not state the value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Patient {
    pub name: Option<String>,
    /// An integer-valued number (JSON Schema's `integer` admits `42.0`).
    #[serde(rename = "ageYears", serialize_with = "serialize_optional_number")]
    pub age_years: Option<f64>,
    pub sex: Option<Sex>,
}

/// The two values the schema allows besides `null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Male,
    Female,
}

/// One medication; `dose` is `None` when the note gives none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Medication {
    pub name: String,
    pub dose: Option<Dose>,
}

/// A dose split into its number and its unit (`500mg` → 500, `mg`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dose {
    #[serde(serialize_with = "serialize_number")]
    pub value: f64,
    pub unit: String,
}

/// Where a value breaks the output schema, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// JSON Pointer to the offending value, or to the missing key.
    pub path: String,
    pub kind: SchemaErrorKind,
}

/// The two ways a value can break the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaErrorKind {
    /// A required key is absent.
    Missing,
    /// The value is there but not allowed; the text says what was expected.
    Invalid(String),
}

impl SchemaError {
    fn invalid(path: &str, reason: String) -> Self {
        Self {
            path: path.to_owned(),
            kind: SchemaErrorKind::Invalid(reason),
        }
    }

    /// The rule broken, in the "expected X, found Y" form.
    pub fn reason(&self) -> String {
        match &self.kind {
            SchemaErrorKind::Missing => "missing required key".to_owned(),
            SchemaErrorKind::Invalid(reason) => reason.clone(),
        }
    }
}

impl ClinicalNoteExtract {
    /// Check `value` against the output schema and return its typed form, or the
    /// first violation. Checks run in a fixed order so that the violation reported
    /// is reproducible: at each object its type, then missing keys in schema
    /// order, then the smallest unexpected key (byte order), then each property
    /// in schema order; list items in index order.
    pub fn from_value(value: &Value) -> Result<Self, SchemaError> {
        let object = object_with_keys(value, "", &EXTRACT_KEYS)?;
        let resource_type = &object["resourceType"];
        if resource_type.as_str() != Some(RESOURCE_TYPE) {
            return Err(SchemaError::invalid(
                "/resourceType",
                format!(
                    "expected `{RESOURCE_TYPE}`, found {}",
                    describe(resource_type)
                ),
            ));
        }
        Ok(Self {
            resource_type: ResourceType,
            patient: Patient::from_value(&object["patient"], "/patient")?,
            complaints: strings(&object["complaints"], "/complaints")?,
            conditions: strings(&object["conditions"], "/conditions")?,
            medications: medications(&object["medications"], "/medications")?,
        })
    }
}

impl Patient {
    fn from_value(value: &Value, path: &str) -> Result<Self, SchemaError> {
        let object = object_with_keys(value, path, &PATIENT_KEYS)?;
        let name = match &object["name"] {
            Value::Null => None,
            Value::String(name) => Some(name.clone()),
            other => {
                return Err(SchemaError::invalid(
                    &format!("{path}/name"),
                    format!("expected a string or null, found {}", describe(other)),
                ));
            }
        };
        let age_path = format!("{path}/ageYears");
        let age_years = match &object["ageYears"] {
            Value::Null => None,
            other => Some(integer(other).ok_or_else(|| {
                SchemaError::invalid(
                    &age_path,
                    format!("expected an integer or null, found {}", describe(other)),
                )
            })?),
        };
        let sex = match &object["sex"] {
            Value::Null => None,
            Value::String(s) if s == "male" => Some(Sex::Male),
            Value::String(s) if s == "female" => Some(Sex::Female),
            other => {
                return Err(SchemaError::invalid(
                    &format!("{path}/sex"),
                    format!(
                        "expected `male`, `female` or null, found {}",
                        describe(other)
                    ),
                ));
            }
        };
        Ok(Self {
            name,
            age_years,
            sex,
        })
    }
}

fn medications(value: &Value, path: &str) -> Result<Vec<Medication>, SchemaError> {
    array(value, path)?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let item_path = format!("{path}/{i}");
            let object = object_with_keys(item, &item_path, &MEDICATION_KEYS)?;
            let name = match &object["name"] {
                Value::String(name) => name.clone(),
                other => {
                    return Err(SchemaError::invalid(
                        &format!("{item_path}/name"),
                        format!("expected a string, found {}", describe(other)),
                    ));
                }
            };
            let dose = match &object["dose"] {
                Value::Null => None,
                dose => Some(Dose::from_value(dose, &format!("{item_path}/dose"))?),
            };
            Ok(Medication { name, dose })
        })
        .collect()
}

impl Dose {
    fn from_value(value: &Value, path: &str) -> Result<Self, SchemaError> {
        if !value.is_object() {
            return Err(SchemaError::invalid(
                path,
                format!("expected an object or null, found {}", describe(value)),
            ));
        }
        let object = object_with_keys(value, path, &DOSE_KEYS)?;
        let number = &object["value"];
        let value = number.as_f64().filter(|v| v.is_finite()).ok_or_else(|| {
            SchemaError::invalid(
                &format!("{path}/value"),
                format!("expected a number, found {}", describe(number)),
            )
        })?;
        let unit = match &object["unit"] {
            Value::String(unit) => unit.clone(),
            other => {
                return Err(SchemaError::invalid(
                    &format!("{path}/unit"),
                    format!("expected a string, found {}", describe(other)),
                ));
            }
        };
        Ok(Self { value, unit })
    }
}

fn strings(value: &Value, path: &str) -> Result<Vec<String>, SchemaError> {
    array(value, path)?
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) => Ok(s.clone()),
            other => Err(SchemaError::invalid(
                &format!("{path}/{i}"),
                format!("expected a string, found {}", describe(other)),
            )),
        })
        .collect()
}

fn array<'a>(value: &'a Value, path: &str) -> Result<&'a Vec<Value>, SchemaError> {
    value.as_array().ok_or_else(|| {
        SchemaError::invalid(
            path,
            format!("expected an array, found {}", describe(value)),
        )
    })
}

/// An object with exactly `keys` (all required, no others: the schema's
/// `required` plus `additionalProperties: false`).
fn object_with_keys<'a>(
    value: &'a Value,
    path: &str,
    keys: &[&str],
) -> Result<&'a Map<String, Value>, SchemaError> {
    let object = value.as_object().ok_or_else(|| {
        SchemaError::invalid(
            path,
            format!("expected an object, found {}", describe(value)),
        )
    })?;
    if let Some(missing) = keys.iter().find(|key| !object.contains_key(**key)) {
        return Err(SchemaError {
            path: format!("{path}/{}", escape_pointer(missing)),
            kind: SchemaErrorKind::Missing,
        });
    }
    // The map's iteration order depends on serde_json's features; the minimum does not.
    if let Some(extra) = object
        .keys()
        .filter(|key| !keys.contains(&key.as_str()))
        .min()
    {
        return Err(SchemaError::invalid(
            &format!("{path}/{}", escape_pointer(extra)),
            format!(
                "unexpected key `{extra}`: expected only {}",
                list_keys(keys)
            ),
        ));
    }
    Ok(object)
}

/// The value of a JSON Schema `integer`: any number with no fractional part.
fn integer(value: &Value) -> Option<f64> {
    value.as_f64().filter(|v| v.is_finite() && v.fract() == 0.0)
}

fn list_keys(keys: &[&str]) -> String {
    keys.iter()
        .map(|key| format!("`{key}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A key as one JSON Pointer reference token (RFC 6901: `~` → `~0`, `/` → `~1`).
pub fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A value for an error message: strings quoted in backticks, others by kind.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        Value::Null => "null".to_owned(),
        other => rapha_task_sdk::json_kind(other).to_owned(),
    }
}

/// Integer-valued numbers as JSON integers (`42`, not `42.0`), others as floats,
/// so that a completion reads the way the note writes the number.
fn serialize_number<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53
    if value.fract() == 0.0 && value.abs() < EXACT_INTEGER_LIMIT {
        // Exact: the value is integral and below 2^53 in magnitude.
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f64(*value)
    }
}

fn serialize_optional_number<S: Serializer>(
    value: &Option<f64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => serialize_number(v, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "resourceType": "ClinicalNoteExtract",
            "patient": {"name": "Ann Lee", "ageYears": 54, "sex": "female"},
            "complaints": ["chest pain"],
            "conditions": ["hypertension"],
            "medications": [
                {"name": "metformin", "dose": {"value": 500, "unit": "mg"}},
                {"name": "aspirin", "dose": null}
            ]
        })
    }

    fn error_of(value: &Value) -> (String, String) {
        let e = ClinicalNoteExtract::from_value(value).expect_err("should be rejected");
        (e.path.clone(), e.reason())
    }

    #[test]
    fn accepts_a_well_formed_extract() {
        let extract = ClinicalNoteExtract::from_value(&sample()).expect("valid");
        assert_eq!(extract.patient.age_years, Some(54.0));
        assert_eq!(extract.patient.sex, Some(Sex::Female));
        assert_eq!(
            extract.medications[0].dose,
            Some(Dose {
                value: 500.0,
                unit: "mg".into()
            })
        );
        assert_eq!(extract.medications[1].dose, None);
    }

    #[test]
    fn serialises_keys_in_schema_order_and_integers_without_fraction() {
        let mut value = sample();
        value["patient"]["ageYears"] = json!(54.0);
        value["medications"][1]["dose"] = json!({"unit": "mg", "value": 2.5});
        let extract = ClinicalNoteExtract::from_value(&value).expect("valid");
        assert_eq!(
            serde_json::to_string(&extract).expect("serialise"),
            r#"{"resourceType":"ClinicalNoteExtract","patient":{"name":"Ann Lee","ageYears":54,"sex":"female"},"complaints":["chest pain"],"conditions":["hypertension"],"medications":[{"name":"metformin","dose":{"value":500,"unit":"mg"}},{"name":"aspirin","dose":{"value":2.5,"unit":"mg"}}]}"#
        );
    }

    #[test]
    fn reports_the_missing_key_by_its_pointer() {
        let mut value = sample();
        value["patient"]
            .as_object_mut()
            .expect("object")
            .remove("ageYears");
        assert_eq!(
            error_of(&value),
            ("/patient/ageYears".into(), "missing required key".into())
        );
    }

    #[test]
    fn rejects_unexpected_keys_reporting_the_smallest() {
        let mut value = sample();
        value["medications"][0]["zz"] = json!(1);
        value["medications"][0]["route/oral"] = json!("po");
        assert_eq!(
            error_of(&value),
            (
                "/medications/0/route~1oral".into(),
                "unexpected key `route/oral`: expected only `name`, `dose`".into()
            )
        );
    }

    #[test]
    fn rejects_a_wrong_resource_type_and_wrong_types() {
        let mut value = sample();
        value["resourceType"] = json!("Patient");
        assert_eq!(
            error_of(&value),
            (
                "/resourceType".into(),
                "expected `ClinicalNoteExtract`, found `Patient`".into()
            )
        );
        let mut value = sample();
        value["patient"]["ageYears"] = json!(54.5);
        assert_eq!(
            error_of(&value),
            (
                "/patient/ageYears".into(),
                "expected an integer or null, found a number".into()
            )
        );
        let mut value = sample();
        value["patient"]["sex"] = json!("F");
        assert_eq!(
            error_of(&value),
            (
                "/patient/sex".into(),
                "expected `male`, `female` or null, found `F`".into()
            )
        );
        let mut value = sample();
        value["medications"][0]["dose"] = json!("500mg");
        assert_eq!(
            error_of(&value),
            (
                "/medications/0/dose".into(),
                "expected an object or null, found `500mg`".into()
            )
        );
        let mut value = sample();
        value["complaints"] = json!(["cough", 3]);
        assert_eq!(
            error_of(&value),
            (
                "/complaints/1".into(),
                "expected a string, found a number".into()
            )
        );
        assert_eq!(
            error_of(&json!([])),
            ("".into(), "expected an object, found an array".into())
        );
    }
}
