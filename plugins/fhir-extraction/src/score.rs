//! Metrics of the `fhir-extraction` task, defined exactly so that a plugin in
//! another language can reproduce them.
//!
//! **Validity.** A prediction is *JSON-valid* when
//! [`rapha_task_sdk::parse_prediction_json`] reads it (surrounding white space
//! and one Markdown code fence are ignored), and *schema-valid* when it also
//! passes [`ClinicalNoteExtract::from_value`], the structural check that mirrors
//! the declared schema. Task rules (`validate`) do not affect any metric.
//!
//! **Leaves.** An extract is compared as a bag of leaves; `resourceType` is a
//! constant and is not one. The leaves are:
//! - `patient.name`, `patient.ageYears`, `patient.sex`: always three, `null`
//!   included. Equal values are a true positive; different values are one false
//!   positive (the predicted leaf) and one false negative (the gold leaf).
//! - each string of `complaints` and of `conditions`: each list is compared as a
//!   multiset; tp = the size of the multiset intersection, fp = predicted − tp,
//!   fn = gold − tp.
//! - each medication: its `name`, plus either `dose.value` and `dose.unit` (dose
//!   an object) or a single `dose` leaf (dose `null`): 3 or 2 leaves.
//!   Medications are paired by name. For each gold medication in order, the
//!   first unpaired predicted medication with the same name *and* the same dose
//!   (both null, or equal value and unit) is paired with it; then, for each gold
//!   medication still unpaired, the first unpaired prediction with the same
//!   name. In a pair the name is a tp, and the doses compare as leaves: both
//!   null is 1 tp; value and unit each count a tp when equal and an fp plus an fn
//!   when not; a null dose against an object counts the null leaf as an fn or fp
//!   and the object's two leaves as fps or fns. An unpaired medication counts all
//!   its leaves as fps (predicted) or fns (gold).
//!
//! Strings compare after trimming Unicode white space and full Unicode
//! lower-casing (Rust's `str::trim` and `str::to_lowercase`); numbers compare by
//! value (`500` = `500.0`); `null` equals only `null`. A prediction that is not
//! schema-valid has no leaves: every gold leaf is an fn.
//!
//! **Metrics.** Per record and over the corpus (counts pooled, so corpus values
//! are micro averages or rates over records):
//! - `json_valid`, `schema_valid`: share of predictions that are JSON-valid,
//!   schema-valid;
//! - `field_precision`, `field_recall`, `field_f1`: from the leaf counts, with
//!   the SDK's conventions for empty denominators;
//! - `exact_match`: share of predictions that are schema-valid with no fp and no
//!   fn leaf (so case, surrounding space and list order are ignored);
//! - `age_null_accuracy`: over records whose gold `ageYears` is `null`, the share
//!   whose prediction is schema-valid with `ageYears` `null`; absent for other
//!   records, and from the corpus when no record qualifies;
//! - `medication_count_accuracy`: share of predictions that are schema-valid and
//!   list as many medications as the gold.
//!
//! A rate over an empty set is not reported: `aggregate` of no records returns
//! no metrics. **Reward:** the record's `field_f1`, 0 when not schema-valid.

use std::collections::BTreeMap;
use std::ops::AddAssign;

use rapha_task_sdk::{
    Count, ExampleScore, Metric, MetricInfo, f1, Parsed, precision, recall,
    sum_count,
};

use crate::extract::{ClinicalNoteExtract, Dose, Medication};

/// Every metric `score` and `aggregate` may return, as `info` declares them.
pub fn metric_infos() -> Vec<MetricInfo> {
    let info = |name: &str, description: &str| MetricInfo::new(name, true, description);
    vec![
        info(
            "json_valid",
            "share of predictions that parse as JSON (one code fence allowed)",
        ),
        info(
            "schema_valid",
            "share of predictions that match the output schema",
        ),
        info(
            "field_precision",
            "leaf-level precision, counts pooled over records (micro)",
        ),
        info(
            "field_recall",
            "leaf-level recall, counts pooled over records (micro)",
        ),
        info(
            "field_f1",
            "leaf-level F1, counts pooled over records (micro); the reward",
        ),
        info(
            "exact_match",
            "share of predictions with every leaf right and none extra",
        ),
        info(
            "age_null_accuracy",
            "over records whose note gives no age: share predicting a null age",
        ),
        info(
            "medication_count_accuracy",
            "share of predictions listing as many medications as the gold",
        ),
    ]
}

/// True positive, false positive and false negative leaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub tp: u32,
    pub fp: u32,
    pub fn_: u32,
}

impl Tally {
    const MATCH: Self = Self {
        tp: 1,
        fp: 0,
        fn_: 0,
    };
    const MISMATCH: Self = Self {
        tp: 0,
        fp: 1,
        fn_: 1,
    };

    fn compare(equal: bool) -> Self {
        if equal { Self::MATCH } else { Self::MISMATCH }
    }

    fn is_exact(self) -> bool {
        self.fp == 0 && self.fn_ == 0
    }
}

impl AddAssign for Tally {
    fn add_assign(&mut self, other: Self) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
    }
}

/// Everything `score` learns about one prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordScore {
    pub json_valid: bool,
    pub schema_valid: bool,
    pub leaves: Tally,
    pub medication_count_match: bool,
    /// Whether the prediction's age is null too, on a record whose gold age is null.
    pub age_null_match: Option<bool>,
}

/// Score a raw prediction against the gold extract.
pub fn score(prediction: &str, gold: &ClinicalNoteExtract) -> RecordScore {
    let parsed = Parsed::read(prediction, |value| ClinicalNoteExtract::from_value(value).ok());
    let json_valid = parsed.json_valid();
    let gold_age_null = gold.patient.age_years.is_none();
    match parsed.answer {
        Some(predicted) => RecordScore {
            json_valid: true,
            schema_valid: true,
            leaves: compare(gold, &predicted),
            medication_count_match: predicted.medications.len() == gold.medications.len(),
            age_null_match: gold_age_null.then_some(predicted.patient.age_years.is_none()),
        },
        None => RecordScore {
            json_valid,
            schema_valid: false,
            leaves: Tally {
                tp: 0,
                fp: 0,
                fn_: leaf_count(gold),
            },
            medication_count_match: false,
            age_null_match: gold_age_null.then_some(false),
        },
    }
}

impl RecordScore {
    fn exact_match(&self) -> bool {
        self.schema_valid && self.leaves.is_exact()
    }

    fn field_f1(&self) -> f64 {
        f1(
            self.leaves.tp.into(),
            self.leaves.fp.into(),
            self.leaves.fn_.into(),
        )
    }

    /// The record's field F1, or 0 when the prediction is not schema-valid.
    pub fn reward(&self) -> f64 {
        if self.schema_valid {
            self.field_f1()
        } else {
            0.0
        }
    }

    /// The per-record metrics and the counts `aggregate` pools.
    pub fn to_example_score(&self) -> ExampleScore {
        let (tp, fp, fn_) = (
            self.leaves.tp.into(),
            self.leaves.fp.into(),
            self.leaves.fn_.into(),
        );
        let mut metrics = vec![
            Metric::new("json_valid", indicator(self.json_valid)),
            Metric::new("schema_valid", indicator(self.schema_valid)),
            Metric::new("field_precision", precision(tp, fp)),
            Metric::new("field_recall", recall(tp, fn_)),
            Metric::new("field_f1", self.field_f1()),
            Metric::new("exact_match", indicator(self.exact_match())),
        ];
        if let Some(matched) = self.age_null_match {
            metrics.push(Metric::new("age_null_accuracy", indicator(matched)));
        }
        metrics.push(Metric::new(
            "medication_count_accuracy",
            indicator(self.medication_count_match),
        ));
        let count = |key: &str, value: f64| Count {
            key: key.to_owned(),
            value,
        };
        let counts = vec![
            count("records", 1.0),
            count("json_valid", indicator(self.json_valid)),
            count("schema_valid", indicator(self.schema_valid)),
            count("tp", tp),
            count("fp", fp),
            count("fn", fn_),
            count("exact_match", indicator(self.exact_match())),
            count(
                "medication_count_match",
                indicator(self.medication_count_match),
            ),
            count("age_null_records", indicator(self.age_null_match.is_some())),
            count(
                "age_null_match",
                indicator(self.age_null_match == Some(true)),
            ),
        ];
        ExampleScore { metrics, counts }
    }
}

/// Corpus metrics from pooled counts; see the module documentation.
pub fn aggregate(scores: &[ExampleScore]) -> Vec<Metric> {
    let sum = |key: &str| sum_count(scores, key);
    let records = sum("records");
    if records == 0.0 {
        return Vec::new();
    }
    let (tp, fp, fn_) = (sum("tp"), sum("fp"), sum("fn"));
    let mut metrics = vec![
        Metric::new("json_valid", sum("json_valid") / records),
        Metric::new("schema_valid", sum("schema_valid") / records),
        Metric::new("field_precision", precision(tp, fp)),
        Metric::new("field_recall", recall(tp, fn_)),
        Metric::new("field_f1", f1(tp, fp, fn_)),
        Metric::new("exact_match", sum("exact_match") / records),
    ];
    let age_null_records = sum("age_null_records");
    if age_null_records > 0.0 {
        metrics.push(Metric::new(
            "age_null_accuracy",
            sum("age_null_match") / age_null_records,
        ));
    }
    metrics.push(Metric::new(
        "medication_count_accuracy",
        sum("medication_count_match") / records,
    ));
    metrics
}

fn indicator(condition: bool) -> f64 {
    if condition { 1.0 } else { 0.0 }
}

/// The leaf counts of `predicted` against `gold`.
pub fn compare(gold: &ClinicalNoteExtract, predicted: &ClinicalNoteExtract) -> Tally {
    let (g, p) = (&gold.patient, &predicted.patient);
    let mut tally = Tally::default();
    tally += Tally::compare(match (&g.name, &p.name) {
        (Some(a), Some(b)) => same_text(a, b),
        (a, b) => a.is_none() && b.is_none(),
    });
    tally += Tally::compare(g.age_years == p.age_years);
    tally += Tally::compare(g.sex == p.sex);
    tally += multiset(&gold.complaints, &predicted.complaints);
    tally += multiset(&gold.conditions, &predicted.conditions);
    tally += medications(&gold.medications, &predicted.medications);
    tally
}

/// How many leaves `extract` has (all false negatives when nothing valid is predicted).
pub fn leaf_count(extract: &ClinicalNoteExtract) -> u32 {
    let lists = length(&extract.complaints) + length(&extract.conditions);
    3 + lists
        + extract
            .medications
            .iter()
            .map(medication_leaves)
            .sum::<u32>()
}

/// A medication's leaves: its name, and its dose's value and unit or the null dose.
fn medication_leaves(medication: &Medication) -> u32 {
    if medication.dose.is_some() { 3 } else { 2 }
}

fn length<T>(items: &[T]) -> u32 {
    u32::try_from(items.len()).expect("a list parsed from a WIT string has fewer than 2^32 items")
}

fn normalise(text: &str) -> String {
    text.trim().to_lowercase()
}

fn same_text(a: &str, b: &str) -> bool {
    normalise(a) == normalise(b)
}

fn multiset(gold: &[String], predicted: &[String]) -> Tally {
    let mut remaining: BTreeMap<String, u32> = BTreeMap::new();
    for item in gold {
        *remaining.entry(normalise(item)).or_default() += 1;
    }
    let mut tp = 0;
    for item in predicted {
        if let Some(left) = remaining
            .get_mut(&normalise(item))
            .filter(|left| **left > 0)
        {
            *left -= 1;
            tp += 1;
        }
    }
    Tally {
        tp,
        fp: length(predicted) - tp,
        fn_: length(gold) - tp,
    }
}

fn dose(gold: &Option<Dose>, predicted: &Option<Dose>) -> Tally {
    match (gold, predicted) {
        (None, None) => Tally::MATCH,
        (Some(g), Some(p)) => {
            let mut tally = Tally::compare(g.value == p.value);
            tally += Tally::compare(same_text(&g.unit, &p.unit));
            tally
        }
        (None, Some(_)) => Tally {
            tp: 0,
            fp: 2,
            fn_: 1,
        },
        (Some(_), None) => Tally {
            tp: 0,
            fp: 1,
            fn_: 2,
        },
    }
}

fn medications(gold: &[Medication], predicted: &[Medication]) -> Tally {
    let mut partner: Vec<Option<usize>> = vec![None; gold.len()];
    let mut taken = vec![false; predicted.len()];
    for same_dose_only in [true, false] {
        for (g, gold_medication) in gold.iter().enumerate() {
            if partner[g].is_some() {
                continue;
            }
            let found = predicted.iter().enumerate().position(|(p, candidate)| {
                !taken[p]
                    && same_text(&gold_medication.name, &candidate.name)
                    && (!same_dose_only || dose(&gold_medication.dose, &candidate.dose).is_exact())
            });
            if let Some(p) = found {
                partner[g] = Some(p);
                taken[p] = true;
            }
        }
    }
    let mut tally = Tally::default();
    for (gold_medication, pair) in gold.iter().zip(&partner) {
        match pair {
            Some(p) => {
                tally += Tally::MATCH;
                tally += dose(&gold_medication.dose, &predicted[*p].dose);
            }
            None => tally.fn_ += medication_leaves(gold_medication),
        }
    }
    for (candidate, _) in predicted.iter().zip(&taken).filter(|(_, taken)| !**taken) {
        tally.fp += medication_leaves(candidate);
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const EPS: f64 = 1e-12;

    fn gold() -> ClinicalNoteExtract {
        extract(json!({
            "resourceType": "ClinicalNoteExtract",
            "patient": {"name": "Ann Lee", "ageYears": 54, "sex": "female"},
            "complaints": ["chest pain", "dyspnoea"],
            "conditions": ["hypertension"],
            "medications": [
                {"name": "metformin", "dose": {"value": 500, "unit": "mg"}},
                {"name": "aspirin", "dose": null}
            ]
        }))
    }

    fn extract(value: Value) -> ClinicalNoteExtract {
        ClinicalNoteExtract::from_value(&value).expect("schema-valid")
    }

    fn metric_value(score: &ExampleScore, name: &str) -> Option<f64> {
        score
            .metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }

    fn aggregate_value(metrics: &[Metric], name: &str) -> Option<f64> {
        metrics.iter().find(|m| m.name == name).map(|m| m.value)
    }

    #[test]
    fn gold_against_itself_is_perfect() {
        // 3 patient + 2 complaints + 1 condition + metformin (3) + aspirin (2) = 11 leaves.
        assert_eq!(leaf_count(&gold()), 11);
        let text = serde_json::to_string(&gold()).expect("serialise");
        let s = score(&text, &gold());
        assert_eq!(
            s.leaves,
            Tally {
                tp: 11,
                fp: 0,
                fn_: 0
            }
        );
        assert_eq!(s.reward(), 1.0);
        let example = s.to_example_score();
        assert_eq!(metric_value(&example, "exact_match"), Some(1.0));
        assert_eq!(metric_value(&example, "age_null_accuracy"), None);
    }

    #[test]
    fn ignores_case_surrounding_space_list_order_and_number_form() {
        let predicted = r#"```json
        {"resourceType":"ClinicalNoteExtract",
         "patient":{"name":" ann LEE ","ageYears":54.0,"sex":"female"},
         "complaints":["Dyspnoea","chest pain "],"conditions":["HYPERTENSION"],
         "medications":[{"name":"Aspirin","dose":null},
                        {"name":"METFORMIN","dose":{"value":500.0,"unit":"MG"}}]}
        ```"#;
        let s = score(predicted, &gold());
        assert!(s.json_valid && s.schema_valid);
        assert_eq!(
            s.leaves,
            Tally {
                tp: 11,
                fp: 0,
                fn_: 0
            }
        );
        assert_eq!(
            metric_value(&s.to_example_score(), "exact_match"),
            Some(1.0)
        );
    }

    #[test]
    fn counts_wrong_values_as_one_false_positive_and_one_false_negative() {
        let predicted = extract(json!({
            "resourceType": "ClinicalNoteExtract",
            // name right; age null instead of 54 (fp+fn); sex wrong (fp+fn)
            "patient": {"name": "Ann Lee", "ageYears": null, "sex": "male"},
            // "chest pain" matched; "fever" fp; "dyspnoea" fn
            "complaints": ["chest pain", "fever"],
            // "hypertension" matched; "diabetes" fp
            "conditions": ["hypertension", "diabetes"],
            "medications": [
                // paired with gold metformin: name tp, value 1000≠500 fp+fn, unit tp
                {"name": "metformin", "dose": {"value": 1000, "unit": "mg"}},
                // no gold ibuprofen: 3 fp leaves
                {"name": "ibuprofen", "dose": {"value": 400, "unit": "mg"}}
                // gold aspirin unpaired: 2 fn leaves
            ]
        }));
        // tp = 1 (name) + 1 + 1 + 2 (metformin name, unit) = 5
        // fp = 2 (age, sex) + 1 (fever) + 1 (diabetes) + 1 (value) + 3 (ibuprofen) = 8
        // fn = 2 (age, sex) + 1 (dyspnoea) + 1 (value) + 2 (aspirin) = 6
        let tally = compare(&gold(), &predicted);
        assert_eq!(
            tally,
            Tally {
                tp: 5,
                fp: 8,
                fn_: 6
            }
        );
        let s = score(
            &serde_json::to_string(&predicted).expect("serialise"),
            &gold(),
        );
        let example = s.to_example_score();
        // precision 5/13, recall 5/11, F1 = 2·5 / (2·5 + 8 + 6) = 10/24
        assert!(
            (metric_value(&example, "field_precision").expect("present") - 5.0 / 13.0).abs() < EPS
        );
        assert!(
            (metric_value(&example, "field_recall").expect("present") - 5.0 / 11.0).abs() < EPS
        );
        assert!((metric_value(&example, "field_f1").expect("present") - 10.0 / 24.0).abs() < EPS);
        assert!((s.reward() - 10.0 / 24.0).abs() < EPS);
        assert_eq!(metric_value(&example, "exact_match"), Some(0.0));
        // 2 predicted medications, 2 gold: the count is right even though one is wrong.
        assert_eq!(
            metric_value(&example, "medication_count_accuracy"),
            Some(1.0)
        );
    }

    #[test]
    fn compares_doses_leaf_by_leaf_and_null_dose_as_one_leaf() {
        let med = |dose: Value| {
            vec![Medication {
                name: "x".into(),
                dose: (!dose.is_null()).then(|| Dose {
                    value: dose["value"].as_f64().expect("number"),
                    unit: dose["unit"].as_str().expect("string").into(),
                }),
            }]
        };
        let some = json!({"value": 5, "unit": "mg"});
        // name tp + null-dose tp
        assert_eq!(
            medications(&med(json!(null)), &med(json!(null))),
            Tally {
                tp: 2,
                fp: 0,
                fn_: 0
            }
        );
        // name tp; gold null leaf fn; predicted value and unit fp
        assert_eq!(
            medications(&med(json!(null)), &med(some.clone())),
            Tally {
                tp: 1,
                fp: 2,
                fn_: 1
            }
        );
        // name tp; gold value and unit fn; predicted null leaf fp
        assert_eq!(
            medications(&med(some.clone()), &med(json!(null))),
            Tally {
                tp: 1,
                fp: 1,
                fn_: 2
            }
        );
        // name and value tp; unit mL≠mg fp+fn
        assert_eq!(
            medications(&med(some), &med(json!({"value": 5.0, "unit": "mL"}))),
            Tally {
                tp: 2,
                fp: 1,
                fn_: 1
            }
        );
    }

    #[test]
    fn pairs_same_name_medications_by_dose_first() {
        let med = |value: f64| Medication {
            name: "insulin".into(),
            dose: Some(Dose {
                value,
                unit: "units".into(),
            }),
        };
        // Gold 10 then 20 units; predicted 20 then 10: pairing by dose gives 6 tp.
        assert_eq!(
            medications(&[med(10.0), med(20.0)], &[med(20.0), med(10.0)]),
            Tally {
                tp: 6,
                fp: 0,
                fn_: 0
            }
        );
        // Gold 10, 20; predicted 30, 10: 10↔10 exact (3 tp), then 20↔30 by name
        // (name, unit tp; value fp+fn).
        assert_eq!(
            medications(&[med(10.0), med(20.0)], &[med(30.0), med(10.0)]),
            Tally {
                tp: 5,
                fp: 1,
                fn_: 1
            }
        );
        // A duplicate predicted medication is unpaired: its 3 leaves are fps.
        assert_eq!(
            medications(&[med(10.0)], &[med(10.0), med(10.0)]),
            Tally {
                tp: 3,
                fp: 3,
                fn_: 0
            }
        );
    }

    #[test]
    fn multisets_count_repeated_items() {
        let items = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // gold {a, a, b}, predicted {A, c, a, a}: tp 2 (a, a), fp 2 (c, third a), fn 1 (b)
        assert_eq!(
            multiset(&items(&["a", "a", "b"]), &items(&["A", "c", "a", "a"])),
            Tally {
                tp: 2,
                fp: 2,
                fn_: 1
            }
        );
        assert_eq!(multiset(&[], &[]), Tally::default());
    }

    #[test]
    fn invalid_predictions_miss_every_gold_leaf_and_earn_nothing() {
        let not_json = score("The patient is Ann Lee.", &gold());
        assert!(!not_json.json_valid && !not_json.schema_valid);
        assert_eq!(
            not_json.leaves,
            Tally {
                tp: 0,
                fp: 0,
                fn_: 11
            }
        );
        assert_eq!(not_json.reward(), 0.0);

        let wrong_shape = score(r#"{"resourceType":"ClinicalNoteExtract"}"#, &gold());
        assert!(wrong_shape.json_valid && !wrong_shape.schema_valid);
        assert_eq!(wrong_shape.reward(), 0.0);
        let example = wrong_shape.to_example_score();
        assert_eq!(metric_value(&example, "json_valid"), Some(1.0));
        assert_eq!(metric_value(&example, "schema_valid"), Some(0.0));
        assert_eq!(metric_value(&example, "field_precision"), Some(0.0));
        assert_eq!(
            metric_value(&example, "medication_count_accuracy"),
            Some(0.0)
        );
    }

    #[test]
    fn age_null_accuracy_is_defined_only_when_the_gold_age_is_null() {
        let mut gold_no_age = gold();
        gold_no_age.patient.age_years = None;
        let mut predicted = gold_no_age.clone();
        let text = |e: &ClinicalNoteExtract| serde_json::to_string(e).expect("serialise");
        assert_eq!(
            score(&text(&predicted), &gold_no_age).age_null_match,
            Some(true)
        );
        predicted.patient.age_years = Some(54.0);
        assert_eq!(
            score(&text(&predicted), &gold_no_age).age_null_match,
            Some(false)
        );
        // Null age, but the key itself missing: not schema-valid, so not a match.
        let mut value: Value = serde_json::from_str(&text(&gold_no_age)).expect("json");
        value["patient"]
            .as_object_mut()
            .expect("object")
            .remove("ageYears");
        assert_eq!(
            score(&value.to_string(), &gold_no_age).age_null_match,
            Some(false)
        );
        // Gold age given: the metric does not apply.
        assert_eq!(score(&text(&predicted), &gold()).age_null_match, None);
    }

    #[test]
    fn aggregate_pools_counts_over_records() {
        let gold = gold();
        let mut no_age = gold.clone();
        no_age.patient.age_years = None;
        let text = |e: &ClinicalNoteExtract| serde_json::to_string(e).expect("serialise");
        let mut half_right = gold.clone();
        half_right.complaints = vec!["fever".into()];
        half_right.medications.truncate(1);
        let scores = [
            // 1: perfect; 11 tp.
            score(&text(&gold), &gold),
            // 2: complaints {fever} vs {chest pain, dyspnoea}: 1 fp, 2 fn;
            //    aspirin missing: 2 fn; patient (3), hypertension (1) and
            //    metformin (3) right: 7 tp.
            score(&text(&half_right), &gold),
            // 3: not JSON: 11 fn; gold age null.
            score("{", &no_age),
            // 4: gold age null, predicted null: perfect; 11 tp.
            score(&text(&no_age), &no_age),
        ]
        .map(|s| s.to_example_score());
        let metrics = aggregate(&scores);
        let get = |name: &str| aggregate_value(&metrics, name).expect("reported");
        // tp = 11 + 7 + 0 + 11 = 29; fp = 1; fn = 4 + 11 = 15
        assert!((get("field_precision") - 29.0 / 30.0).abs() < EPS);
        assert!((get("field_recall") - 29.0 / 44.0).abs() < EPS);
        // F1 = 2·29 / (2·29 + 1 + 15) = 58/74 = 0.78378…, not the mean of the
        // per-record F1s (1 + 14/19 + 0 + 1) / 4 = 0.68421…
        assert!((get("field_f1") - 58.0 / 74.0).abs() < EPS);
        assert_eq!(get("json_valid"), 0.75);
        assert_eq!(get("schema_valid"), 0.75);
        assert_eq!(get("exact_match"), 0.5);
        // Records 3 and 4 have a null gold age; only 4 predicts null.
        assert_eq!(get("age_null_accuracy"), 0.5);
        // Records 1 and 4 have 2 medications as the gold; 2 has 1; 3 is invalid.
        assert_eq!(get("medication_count_accuracy"), 0.5);
    }

    #[test]
    fn aggregate_reports_only_defined_rates() {
        assert!(aggregate(&[]).is_empty());
        let gold = gold();
        let scores =
            [score(&serde_json::to_string(&gold).expect("serialise"), &gold).to_example_score()];
        let metrics = aggregate(&scores);
        assert_eq!(aggregate_value(&metrics, "age_null_accuracy"), None);
        assert_eq!(aggregate_value(&metrics, "field_f1"), Some(1.0));
    }

    #[test]
    fn every_returned_metric_is_declared() {
        let declared: Vec<String> = metric_infos().into_iter().map(|m| m.name).collect();
        let mut gold_no_age = gold();
        gold_no_age.patient.age_years = None;
        let example = score("null", &gold_no_age).to_example_score();
        let aggregated = aggregate(std::slice::from_ref(&example));
        for name in example.metrics.iter().chain(&aggregated).map(|m| &m.name) {
            assert!(declared.contains(name), "undeclared metric `{name}`");
        }
        for name in &declared {
            assert!(
                name.len() <= 48
                    && name.bytes().all(|b| b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b == b'_'
                        || b == b'-')
            );
        }
    }
}
