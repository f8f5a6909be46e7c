//! Task rules beyond the output schema, checked by `validate` and applied to
//! every dataset target.
//!
//! A schema-valid extract can still be wrong in ways the note's reader would
//! reject at once; the rules below catch those, in this order, and the first
//! one broken is reported:
//! 1. `patient.name`, when a string, is not blank;
//! 2. `patient.ageYears`, when a number, lies in 0..=130;
//! 3. every complaint and every condition is not blank;
//! 4. for each medication in order: the name is not blank, the dose value is
//!    positive, and the unit is not blank and does not start with a digit, a
//!    sign or a decimal point (the number was split off into `value`).
//!
//! "Blank" means empty after trimming Unicode white space.

use crate::extract::ClinicalNoteExtract;

/// The largest age in years the task accepts.
pub const MAX_AGE_YEARS: f64 = 130.0;

/// The first rule an extract breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleViolation {
    /// JSON Pointer to the offending value.
    pub path: String,
    pub reason: String,
}

/// Check the task rules in the documented order.
pub fn check(extract: &ClinicalNoteExtract) -> Result<(), RuleViolation> {
    let violation = |path: String, reason: String| Err(RuleViolation { path, reason });
    let patient = &extract.patient;
    if let Some(name) = &patient.name
        && is_blank(name)
    {
        return violation("/patient/name".into(), blank("a name or null", name));
    }
    if let Some(age) = patient.age_years
        && !(0.0..=MAX_AGE_YEARS).contains(&age)
    {
        return violation(
            "/patient/ageYears".into(),
            format!("expected an age from 0 to {MAX_AGE_YEARS} years, found `{age}`"),
        );
    }
    for (field, items) in [
        ("complaints", &extract.complaints),
        ("conditions", &extract.conditions),
    ] {
        if let Some(i) = items.iter().position(|item| is_blank(item)) {
            return violation(
                format!("/{field}/{i}"),
                blank("a non-blank string", &items[i]),
            );
        }
    }
    for (i, medication) in extract.medications.iter().enumerate() {
        if is_blank(&medication.name) {
            return violation(
                format!("/medications/{i}/name"),
                blank("a medication name", &medication.name),
            );
        }
        let Some(dose) = &medication.dose else {
            continue;
        };
        if dose.value <= 0.0 {
            return violation(
                format!("/medications/{i}/dose/value"),
                format!("expected a positive dose, found `{}`", dose.value),
            );
        }
        if is_blank(&dose.unit) {
            return violation(
                format!("/medications/{i}/dose/unit"),
                blank("a unit", &dose.unit),
            );
        }
        if dose
            .unit
            .trim_start()
            .starts_with(|c: char| c.is_ascii_digit() || "+-.".contains(c))
        {
            return violation(
                format!("/medications/{i}/dose/unit"),
                format!(
                    "expected the unit alone, its number in `value` (`500mg` is value 500, unit `mg`), found `{}`",
                    dose.unit
                ),
            );
        }
    }
    Ok(())
}

fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

fn blank(expected: &str, found: &str) -> String {
    format!("expected {expected}, found a blank string `{found}`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn extract(edit: impl FnOnce(&mut Value)) -> ClinicalNoteExtract {
        let mut value = json!({
            "resourceType": "ClinicalNoteExtract",
            "patient": {"name": "Ann Lee", "ageYears": 54, "sex": "female"},
            "complaints": ["chest pain"],
            "conditions": ["hypertension"],
            "medications": [{"name": "metformin", "dose": {"value": 500, "unit": "mg"}},
                            {"name": "aspirin", "dose": null}]
        });
        edit(&mut value);
        ClinicalNoteExtract::from_value(&value).expect("schema-valid")
    }

    fn violation(edit: impl FnOnce(&mut Value)) -> (String, String) {
        let v = check(&extract(edit)).expect_err("a rule is broken");
        (v.path, v.reason)
    }

    #[test]
    fn accepts_a_sensible_extract_and_the_age_bounds() {
        assert_eq!(check(&extract(|_| {})), Ok(()));
        assert_eq!(
            check(&extract(|v| v["patient"]["ageYears"] = json!(0))),
            Ok(())
        );
        assert_eq!(
            check(&extract(|v| v["patient"]["ageYears"] = json!(130))),
            Ok(())
        );
        assert_eq!(
            check(&extract(|v| v["patient"]["ageYears"] = json!(null))),
            Ok(())
        );
        assert_eq!(
            check(&extract(
                |v| v["medications"][0]["dose"]["unit"] = json!("mg/m2")
            )),
            Ok(())
        );
    }

    #[test]
    fn rejects_an_age_out_of_range() {
        assert_eq!(
            violation(|v| v["patient"]["ageYears"] = json!(131)),
            (
                "/patient/ageYears".into(),
                "expected an age from 0 to 130 years, found `131`".into()
            )
        );
        assert_eq!(
            violation(|v| v["patient"]["ageYears"] = json!(-1)).0,
            "/patient/ageYears"
        );
    }

    #[test]
    fn rejects_non_positive_doses_and_unsplit_units() {
        assert_eq!(
            violation(|v| v["medications"][0]["dose"]["value"] = json!(0)),
            (
                "/medications/0/dose/value".into(),
                "expected a positive dose, found `0`".into()
            )
        );
        assert_eq!(
            violation(|v| v["medications"][0]["dose"]["unit"] = json!(" ")),
            (
                "/medications/0/dose/unit".into(),
                "expected a unit, found a blank string ` `".into()
            )
        );
        assert_eq!(
            violation(|v| v["medications"][0]["dose"]["unit"] = json!("500mg")),
            (
                "/medications/0/dose/unit".into(),
                "expected the unit alone, its number in `value` (`500mg` is value 500, unit `mg`), found `500mg`".into()
            )
        );
    }

    #[test]
    fn rejects_blank_strings_and_reports_the_first_rule_broken() {
        assert_eq!(
            violation(|v| v["conditions"] = json!(["a", "\t"])).0,
            "/conditions/1"
        );
        assert_eq!(
            violation(|v| v["medications"][1]["name"] = json!("")).0,
            "/medications/1/name"
        );
        // Both the name and the age break a rule; the name comes first.
        assert_eq!(
            violation(|v| {
                v["patient"]["name"] = json!("");
                v["patient"]["ageYears"] = json!(200);
            })
            .0,
            "/patient/name"
        );
    }
}
