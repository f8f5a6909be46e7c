//! Metrics of the `trial-matching` task, defined exactly so that a plugin in
//! another language can reproduce them.
//!
//! **Validity.** A prediction is *JSON-valid* when
//! [`rapha_task_sdk::parse_prediction_json`] reads it (surrounding white space
//! and one Markdown code fence are ignored), and *schema-valid* when it also
//! passes [`Answer::from_value`], which mirrors the declared schema. Task rules
//! (`validate`) do not affect any metric. A prediction that is not
//! schema-valid decides nothing: its eligibility and every criterion count as
//! absent.
//!
//! **Matching criteria.** For each gold criterion, the prediction's decision is
//! the `met` of the *first* entry whose `index` equals the criterion's index (a
//! duplicate index keeps the first). A criterion with no such entry is absent.
//! Entries whose index no criterion has are ignored.
//!
//! **Counts** per record (each pooled by `aggregate`):
//! - eligibility: correct when the predicted `eligible` equals the gold one
//!   (absent is wrong); for the *eligible* class, tp = both true, fp = predicted
//!   true and gold false, fn = gold true and predicted false or absent;
//! - criteria: `criteria` = number of gold criteria, `criteria_correct` = those
//!   whose decision equals the gold `met`;
//! - n2c2 2018 classes: each (record, criterion) pair adds to the "met" and
//!   "not met" classes: gold met & predicted met → met tp; gold met & predicted
//!   not met → met fn and not-met fp; gold not met & predicted met → not-met fn
//!   and met fp; both not met → not-met tp; absent → an fn of the gold's class
//!   only.
//!
//! **Metrics** (per record from its own counts, corpus from pooled counts):
//! - `json_valid`, `schema_valid`: share of predictions that are so;
//! - `eligibility_accuracy`: correct eligibility decisions / records;
//! - `eligible_f1`: F1 of the eligible class (corpus only);
//! - `criterion_accuracy`: correct decisions / gold criteria, pooled over all
//!   (record, criterion) pairs;
//! - `met_f1`, `not_met_f1`: F1 of each class;
//! - `n2c2_score`: (`met_f1` + `not_met_f1`) / 2, the n2c2 2018 cohort-selection
//!   overall score, computed on pooled counts.
//!
//! F1 follows the SDK's convention (1 when a class has no gold and no predicted
//! pair). `aggregate` of no records returns no metrics. **Reward:** the record's
//! `criterion_accuracy`, 0 when not schema-valid.

use rapha_task_sdk::{
    Count, ExampleScore, Metric, MetricInfo, f1, Parsed, sum_count,
};

use crate::answer::Answer;
use crate::record::Record;

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
            "eligibility_accuracy",
            "share of records whose eligibility is predicted right",
        ),
        info(
            "eligible_f1",
            "F1 of the eligible class, counts pooled over records (corpus only)",
        ),
        info(
            "criterion_accuracy",
            "share of (record, criterion) pairs decided right; absent counts wrong; the reward",
        ),
        info(
            "met_f1",
            "F1 of the met class over (record, criterion) pairs, counts pooled",
        ),
        info(
            "not_met_f1",
            "F1 of the not-met class over (record, criterion) pairs, counts pooled",
        ),
        info(
            "n2c2_score",
            "n2c2 2018 cohort-selection overall score: mean of met and not-met F1",
        ),
    ]
}

/// True positive, false positive and false negative counts of one class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub tp: u32,
    pub fp: u32,
    pub fn_: u32,
}

impl Tally {
    fn f1(self) -> f64 {
        f1(self.tp.into(), self.fp.into(), self.fn_.into())
    }
}

/// Everything `score` learns about one prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordScore {
    pub json_valid: bool,
    pub schema_valid: bool,
    pub eligible_correct: bool,
    /// The eligible class.
    pub eligible: Tally,
    pub criteria: u32,
    pub criteria_correct: u32,
    pub met: Tally,
    pub not_met: Tally,
}

/// Score a raw prediction against its record.
pub fn score(prediction: &str, record: &Record<'_>) -> RecordScore {
    let parsed = Parsed::read(prediction, |value| Answer::from_value(value).ok());
    let answer = parsed.answer.as_ref();
    let predicted_eligible = answer.map(|a| a.eligible);
    let mut result = RecordScore {
        json_valid: parsed.json_valid(),
        schema_valid: parsed.schema_valid(),
        eligible_correct: predicted_eligible == Some(record.eligible),
        eligible: Tally {
            tp: u32::from(record.eligible && predicted_eligible == Some(true)),
            fp: u32::from(!record.eligible && predicted_eligible == Some(true)),
            fn_: u32::from(record.eligible && predicted_eligible != Some(true)),
        },
        criteria: 0,
        criteria_correct: 0,
        met: Tally::default(),
        not_met: Tally::default(),
    };
    for criterion in &record.criteria {
        let decision = answer.and_then(|a| a.met(criterion.index));
        result.criteria += 1;
        result.criteria_correct += u32::from(decision == Some(criterion.met));
        let (gold_class, other_class) = if criterion.met {
            (&mut result.met, &mut result.not_met)
        } else {
            (&mut result.not_met, &mut result.met)
        };
        match decision {
            Some(met) if met == criterion.met => gold_class.tp += 1,
            Some(_) => {
                gold_class.fn_ += 1;
                other_class.fp += 1;
            }
            None => gold_class.fn_ += 1,
        }
    }
    result
}

impl RecordScore {
    fn criterion_accuracy(&self) -> f64 {
        // Every record has at least one criterion (checked when it is read).
        f64::from(self.criteria_correct) / f64::from(self.criteria)
    }

    /// The record's criterion accuracy, or 0 when the prediction is not schema-valid.
    pub fn reward(&self) -> f64 {
        if self.schema_valid {
            self.criterion_accuracy()
        } else {
            0.0
        }
    }

    /// The per-record metrics and the counts `aggregate` pools.
    pub fn to_example_score(&self) -> ExampleScore {
        let (met_f1, not_met_f1) = (self.met.f1(), self.not_met.f1());
        let metrics = vec![
            Metric::new("json_valid", indicator(self.json_valid)),
            Metric::new("schema_valid", indicator(self.schema_valid)),
            Metric::new("eligibility_accuracy", indicator(self.eligible_correct)),
            Metric::new("criterion_accuracy", self.criterion_accuracy()),
            Metric::new("met_f1", met_f1),
            Metric::new("not_met_f1", not_met_f1),
            Metric::new("n2c2_score", (met_f1 + not_met_f1) / 2.0),
        ];
        let count = |key: &str, value: f64| Count {
            key: key.to_owned(),
            value,
        };
        let mut counts = vec![
            count("records", 1.0),
            count("json_valid", indicator(self.json_valid)),
            count("schema_valid", indicator(self.schema_valid)),
            count("eligible_correct", indicator(self.eligible_correct)),
            count("criteria", self.criteria.into()),
            count("criteria_correct", self.criteria_correct.into()),
        ];
        for (class, tally) in [
            ("eligible", self.eligible),
            ("met", self.met),
            ("not_met", self.not_met),
        ] {
            counts.push(count(&format!("{class}_tp"), tally.tp.into()));
            counts.push(count(&format!("{class}_fp"), tally.fp.into()));
            counts.push(count(&format!("{class}_fn"), tally.fn_.into()));
        }
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
    let class_f1 = |class: &str| {
        f1(
            sum(&format!("{class}_tp")),
            sum(&format!("{class}_fp")),
            sum(&format!("{class}_fn")),
        )
    };
    let (met_f1, not_met_f1) = (class_f1("met"), class_f1("not_met"));
    vec![
        Metric::new("json_valid", sum("json_valid") / records),
        Metric::new("schema_valid", sum("schema_valid") / records),
        Metric::new("eligibility_accuracy", sum("eligible_correct") / records),
        Metric::new("eligible_f1", class_f1("eligible")),
        Metric::new(
            "criterion_accuracy",
            sum("criteria_correct") / sum("criteria"),
        ),
        Metric::new("met_f1", met_f1),
        Metric::new("not_met_f1", not_met_f1),
        Metric::new("n2c2_score", (met_f1 + not_met_f1) / 2.0),
    ]
}

fn indicator(condition: bool) -> f64 {
    if condition { 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapha_task_sdk::Example;
    use serde_json::{Value, json};

    const EPS: f64 = 1e-12;

    /// A trial with `inclusion` inclusion criteria and the gold `met` values in
    /// index order (inclusion first); `eligible` follows from them.
    fn example(inclusion: usize, met: &[bool]) -> Example {
        let texts: Vec<String> = (1..=met.len()).map(|i| format!("criterion {i}")).collect();
        let criteria: Vec<Value> = met
            .iter()
            .enumerate()
            .map(|(j, m)| json!({"index": j + 1, "kind": if j < inclusion { "inclusion" } else { "exclusion" }, "met": m}))
            .collect();
        let eligible = met.iter().enumerate().all(|(j, m)| *m == (j < inclusion));
        json!({
            "id": "r", "patient": "p",
            "trial": {"id": "t", "title": "T", "inclusion": texts[..inclusion], "exclusion": texts[inclusion..]},
            "criteria": criteria, "eligible": eligible
        })
        .as_object()
        .expect("object")
        .clone()
    }

    fn prediction(eligible: bool, decisions: &[(u32, bool)]) -> String {
        let criteria: Vec<Value> = decisions
            .iter()
            .map(|(i, m)| json!({"index": i, "met": m}))
            .collect();
        json!({"eligible": eligible, "criteria": criteria}).to_string()
    }

    fn run(example: &Example, prediction: &str) -> RecordScore {
        score(prediction, &Record::from_example(example).expect("usable"))
    }

    fn get(metrics: &[Metric], name: &str) -> f64 {
        metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
            .unwrap_or_else(|| panic!("no `{name}`"))
    }

    #[test]
    fn a_perfect_answer_scores_one_everywhere() {
        let example = example(2, &[true, true, false]);
        let s = run(
            &example,
            &prediction(true, &[(1, true), (2, true), (3, false)]),
        );
        assert_eq!(s.reward(), 1.0);
        assert!(s.to_example_score().metrics.iter().all(|m| m.value == 1.0));
        assert!(
            aggregate(&[s.to_example_score()])
                .iter()
                .all(|m| m.value == 1.0)
        );
    }

    #[test]
    fn counts_each_class_of_the_n2c2_score() {
        // Gold: [1] met, [2] met, [3] not met, [4] not met (2 inclusion, 2 exclusion).
        // Predicted: [1] met (met tp), [2] not met (met fn, not-met fp),
        // [3] met (not-met fn, met fp), [4] not met (not-met tp).
        let example = example(2, &[true, true, false, false]);
        let s = run(
            &example,
            &prediction(false, &[(1, true), (2, false), (3, true), (4, false)]),
        );
        assert_eq!(
            s.met,
            Tally {
                tp: 1,
                fp: 1,
                fn_: 1
            }
        );
        assert_eq!(
            s.not_met,
            Tally {
                tp: 1,
                fp: 1,
                fn_: 1
            }
        );
        assert_eq!((s.criteria, s.criteria_correct), (4, 2));
        let metrics = s.to_example_score().metrics;
        // met F1 = 2·1 / (2·1 + 1 + 1) = 0.5; not-met F1 likewise; mean 0.5.
        assert!((get(&metrics, "met_f1") - 0.5).abs() < EPS);
        assert!((get(&metrics, "n2c2_score") - 0.5).abs() < EPS);
        assert!((get(&metrics, "criterion_accuracy") - 0.5).abs() < EPS);
        // Gold eligible (inclusions met, exclusions not), predicted not: wrong, an fn.
        assert_eq!(get(&metrics, "eligibility_accuracy"), 0.0);
        assert_eq!(
            s.eligible,
            Tally {
                tp: 0,
                fp: 0,
                fn_: 1
            }
        );
        assert_eq!(s.reward(), 0.5);
    }

    #[test]
    fn a_missing_criterion_is_wrong_and_an_fn_of_its_class_only() {
        // Gold [1] met, [2] not met, [3] met. Predicted [1] met, [3] met; [2] absent.
        let example = example(3, &[true, false, true]);
        let s = run(&example, &prediction(false, &[(1, true), (3, true)]));
        assert_eq!((s.criteria, s.criteria_correct), (3, 2));
        assert_eq!(
            s.met,
            Tally {
                tp: 2,
                fp: 0,
                fn_: 0
            }
        );
        assert_eq!(
            s.not_met,
            Tally {
                tp: 0,
                fp: 0,
                fn_: 1
            }
        );
        // met F1 = 1; not-met F1 = 0 / (0 + 0 + 1) = 0; n2c2 = 0.5.
        assert!((get(&s.to_example_score().metrics, "n2c2_score") - 0.5).abs() < EPS);
        assert!((s.reward() - 2.0 / 3.0).abs() < EPS);
    }

    #[test]
    fn a_duplicate_index_keeps_the_first_and_unknown_indices_are_ignored() {
        let example = example(1, &[true, false]);
        // [1] first says met (right), then not met (ignored); [9] does not exist.
        let s = run(
            &example,
            &prediction(true, &[(1, true), (9, true), (1, false), (2, false)]),
        );
        assert_eq!((s.criteria, s.criteria_correct), (2, 2));
        assert_eq!(
            s.met,
            Tally {
                tp: 1,
                fp: 0,
                fn_: 0
            }
        );
        // The other way round: the first entry for [1] is wrong.
        let s = run(
            &example,
            &prediction(true, &[(1, false), (1, true), (2, false)]),
        );
        assert_eq!((s.criteria, s.criteria_correct), (2, 1));
    }

    #[test]
    fn invalid_and_fenced_predictions() {
        let example = example(1, &[true, false]);
        let fenced = format!(
            "```json\n{}\n```",
            prediction(true, &[(1, true), (2, false)])
        );
        assert_eq!(run(&example, &fenced).reward(), 1.0);

        let not_json = run(&example, "eligible: yes");
        assert!(!not_json.json_valid && !not_json.schema_valid);
        assert_eq!(not_json.reward(), 0.0);
        assert_eq!(
            not_json.eligible,
            Tally {
                tp: 0,
                fp: 0,
                fn_: 1
            }
        );
        assert_eq!(
            not_json.met,
            Tally {
                tp: 0,
                fp: 0,
                fn_: 1
            }
        );
        assert_eq!(
            not_json.not_met,
            Tally {
                tp: 0,
                fp: 0,
                fn_: 1
            }
        );

        // Valid JSON, but an extra key: not schema-valid, so nothing is decided.
        let extra = r#"{"eligible":true,"criteria":[{"index":1,"met":true},{"index":2,"met":false}],"why":"x"}"#;
        let s = run(&example, extra);
        assert!(s.json_valid && !s.schema_valid);
        assert_eq!((s.criteria_correct, s.eligible_correct), (0, false));
        assert_eq!(s.reward(), 0.0);
    }

    #[test]
    fn aggregate_pools_counts_over_records() {
        // Record A: gold [1] met, [2] not met (1 inclusion, 1 exclusion), eligible.
        //   Predicted eligible, [1] met, [2] not met: all right.
        //   eligible tp 1; met tp 1; not-met tp 1.
        // Record B: gold [1] met, [2] met, [3] not met (3 inclusion), not eligible.
        //   Predicted eligible, [1] met, [2] met, [3] met.
        //   eligible fp 1; met tp 2, fp 1; not-met fn 1; 2 of 3 right.
        // Record C: gold [1] not met (1 exclusion), eligible. Not JSON.
        //   eligible fn 1; not-met fn 1; 0 of 1 right.
        let a = run(
            &example(1, &[true, false]),
            &prediction(true, &[(1, true), (2, false)]),
        );
        let b = run(
            &example(3, &[true, true, false]),
            &prediction(true, &[(1, true), (2, true), (3, true)]),
        );
        let c = run(&example(0, &[false]), "[");
        let metrics = aggregate(&[a, b, c].map(|s| s.to_example_score()));
        // criterion accuracy = (2 + 2 + 0) / (2 + 3 + 1) = 4/6
        assert!((get(&metrics, "criterion_accuracy") - 4.0 / 6.0).abs() < EPS);
        // eligibility: A right, B wrong, C wrong = 1/3
        assert!((get(&metrics, "eligibility_accuracy") - 1.0 / 3.0).abs() < EPS);
        // eligible class: tp 1, fp 1, fn 1 → F1 = 2 / 4 = 0.5
        assert!((get(&metrics, "eligible_f1") - 0.5).abs() < EPS);
        // met: tp 3, fp 1, fn 0 → 6/7; not met: tp 1, fp 0, fn 2 → 2/4
        assert!((get(&metrics, "met_f1") - 6.0 / 7.0).abs() < EPS);
        assert!((get(&metrics, "not_met_f1") - 0.5).abs() < EPS);
        // n2c2 = (6/7 + 1/2) / 2 = 19/28, not the mean of per-record scores.
        assert!((get(&metrics, "n2c2_score") - 19.0 / 28.0).abs() < EPS);
        assert!((get(&metrics, "json_valid") - 2.0 / 3.0).abs() < EPS);
        assert!((get(&metrics, "schema_valid") - 2.0 / 3.0).abs() < EPS);
    }

    #[test]
    fn aggregate_of_nothing_reports_nothing() {
        assert!(aggregate(&[]).is_empty());
    }

    #[test]
    fn every_returned_metric_is_declared() {
        let declared: Vec<String> = metric_infos().into_iter().map(|m| m.name).collect();
        let example_score = run(&example(1, &[true]), "null").to_example_score();
        let aggregated = aggregate(std::slice::from_ref(&example_score));
        for name in example_score
            .metrics
            .iter()
            .chain(&aggregated)
            .map(|m| &m.name)
        {
            assert!(declared.contains(name), "undeclared metric `{name}`");
        }
        assert_eq!(aggregated.len(), declared.len());
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
