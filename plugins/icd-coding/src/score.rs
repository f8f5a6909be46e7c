//! Per-record metrics of a code list and their corpus values.
//!
//! Codes are compared in normal form ([`crate::codes::normalise`]) as sets: a
//! code predicted or listed twice counts once. An output that is not a JSON
//! array of strings predicts the empty set. For one record, with G the gold set
//! and P the predicted set: tp = |G ∩ P|, fp = |P \ G|, fn = |G \ P|.
//!
//! Per record (`ExampleScore.metrics`):
//! - `micro_precision` = tp / (tp + fp), 0 when nothing is predicted;
//! - `micro_recall` = tp / (tp + fn), 0 when G is empty;
//! - `micro_f1` = 2·tp / (2·tp + fp + fn), 1 when G and P are both empty, and 0
//!   whenever the output is not a JSON array of strings (also the reward);
//! - `category_f1`: the same F1 over the sets of 3-character categories of G and
//!   of P (every predicted string, valid or not, truncated to 3 characters); 0
//!   when the output is not an array of strings;
//! - `exact_match`: 1 when the output is an array of strings and P = G, else 0;
//! - `invalid_code_rate`: codes of P that exist at no level of ICD-10-CM / |P|,
//!   0 when P is empty;
//! - `json_valid`: 1 when the output parses as JSON (a code fence allowed);
//! - `schema_valid`: 1 when it is a JSON array of strings.
//!
//! Over a corpus, from the counts each record returns (integers, so sums are
//! exact): micro precision, recall and F1 and category F1 from the pooled tp, fp,
//! fn; `invalid_code_rate` = Σ invalid / Σ |P| (0 when nothing was predicted);
//! `exact_match`, `json_valid` and `schema_valid` as the fraction of records.
//! `macro_f1` = the mean, over every code that occurs in some record's gold set,
//! of that code's F1 from its pooled tp, fp and fn (counts `code/<code>/tp|fp|fn`),
//! summed in ascending byte order of the normalised code; when no record has a
//! gold code it is 1 if no existing code was predicted and 0 otherwise (the F1
//! convention for empty sets). Only existing codes get per-code counts: a code
//! that does not exist is never gold, so it cannot enter the macro average.
//! An empty corpus has no metrics.

use std::collections::{BTreeMap, BTreeSet};

use rapha_task_sdk::{
    Count, Example, ExampleScore, Metric, TaskError, f1, precision, recall, sum_count,
};

use crate::codes::{category, exists};
use crate::prediction::Prediction;
use crate::record;

pub const MICRO_PRECISION: &str = "micro_precision";
pub const MICRO_RECALL: &str = "micro_recall";
pub const MICRO_F1: &str = "micro_f1";
pub const MACRO_F1: &str = "macro_f1";
pub const CATEGORY_F1: &str = "category_f1";
pub const EXACT_MATCH: &str = "exact_match";
pub const INVALID_CODE_RATE: &str = "invalid_code_rate";
pub const JSON_VALID: &str = "json_valid";
pub const SCHEMA_VALID: &str = "schema_valid";

const TP: &str = "tp";
const FP: &str = "fp";
const FN: &str = "fn";
const CATEGORY_TP: &str = "category/tp";
const CATEGORY_FP: &str = "category/fp";
const CATEGORY_FN: &str = "category/fn";
const PREDICTED_CODES: &str = "predicted_codes";
const INVALID_CODES: &str = "invalid_codes";
const CODE_PREFIX: &str = "code/";

/// True positives, false positives and false negatives of one comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Confusion {
    tp: f64,
    fp: f64,
    fn_: f64,
}

impl Confusion {
    fn of<T: Ord>(gold: &BTreeSet<T>, predicted: &BTreeSet<T>) -> Self {
        let tp = gold.intersection(predicted).count();
        Self {
            tp: tp as f64,
            fp: (predicted.len() - tp) as f64,
            fn_: (gold.len() - tp) as f64,
        }
    }

    fn f1(self) -> f64 {
        f1(self.tp, self.fp, self.fn_)
    }
}

fn categories(codes: &BTreeSet<String>) -> BTreeSet<&str> {
    codes.iter().map(|code| category(code)).collect()
}

fn count(key: impl Into<String>, value: f64) -> Count {
    Count {
        key: key.into(),
        value,
    }
}

fn indicator(condition: bool) -> f64 {
    if condition { 1.0 } else { 0.0 }
}

/// Score a model's output (raw text) against the record's gold codes.
pub fn score(prediction: &str, example: &Example) -> Result<ExampleScore, TaskError> {
    let gold: BTreeSet<String> = record::gold_codes(example)?.into_iter().collect();
    let parsed = Prediction::parse(prediction);
    let json_valid = !matches!(parsed, Prediction::NotJson);
    let (well_formed, predicted) = match parsed {
        Prediction::Codes(codes) => (true, codes),
        Prediction::NotJson | Prediction::NotCodeList => (false, BTreeSet::new()),
    };
    let codes = Confusion::of(&gold, &predicted);
    let categories = Confusion::of(&categories(&gold), &categories(&predicted));
    let invalid = predicted.iter().filter(|code| !exists(code)).count() as f64;
    let predicted_count = predicted.len() as f64;
    let exact = well_formed && predicted == gold;

    let metrics = vec![
        Metric::new(MICRO_PRECISION, precision(codes.tp, codes.fp)),
        Metric::new(MICRO_RECALL, recall(codes.tp, codes.fn_)),
        Metric::new(MICRO_F1, if well_formed { codes.f1() } else { 0.0 }),
        Metric::new(CATEGORY_F1, if well_formed { categories.f1() } else { 0.0 }),
        Metric::new(EXACT_MATCH, indicator(exact)),
        Metric::new(
            INVALID_CODE_RATE,
            if predicted.is_empty() {
                0.0
            } else {
                invalid / predicted_count
            },
        ),
        Metric::new(JSON_VALID, indicator(json_valid)),
        Metric::new(SCHEMA_VALID, indicator(well_formed)),
    ];

    let mut counts = vec![
        count(JSON_VALID, indicator(json_valid)),
        count(SCHEMA_VALID, indicator(well_formed)),
        count(EXACT_MATCH, indicator(exact)),
        count(TP, codes.tp),
        count(FP, codes.fp),
        count(FN, codes.fn_),
        count(CATEGORY_TP, categories.tp),
        count(CATEGORY_FP, categories.fp),
        count(CATEGORY_FN, categories.fn_),
        count(PREDICTED_CODES, predicted_count),
        count(INVALID_CODES, invalid),
    ];
    for code in gold.union(&predicted) {
        let kind = match (gold.contains(code), predicted.contains(code)) {
            (true, true) => TP,
            (true, false) => FN,
            (false, true) if exists(code) => FP,
            (false, _) => continue,
        };
        counts.push(count(format!("{CODE_PREFIX}{code}/{kind}"), 1.0));
    }
    Ok(ExampleScore { metrics, counts })
}

/// The reward: the record's `micro_f1` (0 when the output is not a JSON array of
/// strings), in [0, 1].
pub fn reward(prediction: &str, example: &Example) -> Result<f64, TaskError> {
    let score = score(prediction, example)?;
    Ok(score
        .metrics
        .iter()
        .find(|m| m.name == MICRO_F1)
        .expect("`score` always reports micro_f1")
        .value)
}

/// Corpus metrics from per-record scores, in dataset order.
pub fn aggregate(scores: &[ExampleScore]) -> Result<Vec<Metric>, TaskError> {
    if scores.is_empty() {
        return Ok(Vec::new());
    }
    let records = scores.len() as f64;
    let total = |key: &str| sum_count(scores, key);
    let (tp, fp, fn_) = (total(TP), total(FP), total(FN));
    let predicted = total(PREDICTED_CODES);
    Ok(vec![
        Metric::new(MICRO_PRECISION, precision(tp, fp)),
        Metric::new(MICRO_RECALL, recall(tp, fn_)),
        Metric::new(MICRO_F1, f1(tp, fp, fn_)),
        Metric::new(MACRO_F1, macro_f1(scores)?),
        Metric::new(
            CATEGORY_F1,
            f1(total(CATEGORY_TP), total(CATEGORY_FP), total(CATEGORY_FN)),
        ),
        Metric::new(EXACT_MATCH, total(EXACT_MATCH) / records),
        Metric::new(
            INVALID_CODE_RATE,
            if predicted == 0.0 {
                0.0
            } else {
                total(INVALID_CODES) / predicted
            },
        ),
        Metric::new(JSON_VALID, total(JSON_VALID) / records),
        Metric::new(SCHEMA_VALID, total(SCHEMA_VALID) / records),
    ])
}

/// Macro-F1 over the codes of the corpus's gold sets, from the per-code counts.
fn macro_f1(scores: &[ExampleScore]) -> Result<f64, TaskError> {
    let mut per_code: BTreeMap<&str, Confusion> = BTreeMap::new();
    for count in scores.iter().flat_map(|score| &score.counts) {
        let Some(rest) = count.key.strip_prefix(CODE_PREFIX) else {
            continue;
        };
        let bad_key = || {
            TaskError::Other(format!(
                "aggregate: count `{}`: expected `code/<code>/tp|fp|fn`",
                count.key
            ))
        };
        let (code, kind) = rest.rsplit_once('/').ok_or_else(bad_key)?;
        let entry = per_code.entry(code).or_insert(Confusion {
            tp: 0.0,
            fp: 0.0,
            fn_: 0.0,
        });
        match kind {
            TP => entry.tp += count.value,
            FP => entry.fp += count.value,
            FN => entry.fn_ += count.value,
            _ => return Err(bad_key()),
        }
    }
    let gold_codes: Vec<Confusion> = per_code
        .values()
        .copied()
        .filter(|c| c.tp + c.fn_ > 0.0)
        .collect();
    if gold_codes.is_empty() {
        let predicted: f64 = per_code.values().map(|c| c.fp).sum();
        return Ok(f1(0.0, predicted, 0.0));
    }
    let mut sum = 0.0;
    for confusion in &gold_codes {
        sum += confusion.f1();
    }
    Ok(sum / gold_codes.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapha_task_sdk::parse_example;
    use rapha_task_sdk::serde_json::json;

    fn example(gold: &[&str]) -> Example {
        parse_example(&json!({"id": "r", "note": "note", "codes": gold}).to_string())
            .expect("an object")
    }

    fn value(metrics: &[Metric], name: &str) -> f64 {
        metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("metric `{name}` missing"))
            .value
    }

    fn close(got: f64, expected: f64) -> bool {
        (got - expected).abs() < 1e-12
    }

    /// The five records of the corpus tests, each with its hand computation.
    fn corpus() -> Vec<(Example, &'static str)> {
        vec![
            // A: G = {E119, I10, N183}, P = {E1165, I10, N1830}: tp 1 (I10), fp 2, fn 2;
            //    P = R = 1/3, F1 = 2/(2+4) = 1/3. Categories {E11, I10, N18} both: F1 = 1.
            (
                example(&["E11.9", "I10", "N18.3"]),
                r#"["E11.65","I10","N18.30"]"#,
            ),
            // B: G = {J189}, P = {J189, E1199} (duplicate J18.9 counted once, E11.99 does
            //    not exist): tp 1, fp 1, fn 0; P = 1/2, R = 1, F1 = 2/3; invalid 1/2.
            //    Categories {J18} vs {J18, E11}: F1 = 2/3.
            (
                example(&["J18.9"]),
                "```json\n[\"j18.9\", \"J18.9\", \"E11.99\"]\n```",
            ),
            // C: not JSON: P = ∅, fn 1, every F1 0, json_valid 0.
            (example(&["I10"]), "I10"),
            // D: G = P = ∅: F1 = 1 by convention, P = R = 0, exact match.
            (example(&[]), "[]"),
            // E: G = P = {E119, I10} in another order and notation: exact match.
            (example(&["E11.9", "I10"]), r#"["i10", "E119"]"#),
        ]
    }

    #[test]
    fn scores_each_record_as_computed_by_hand() {
        let expected: [[f64; 8]; 5] = [
            // micro_precision, micro_recall, micro_f1, category_f1, exact_match,
            // invalid_code_rate, json_valid, schema_valid
            [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 1.0, 0.0, 0.0, 1.0, 1.0],
            [0.5, 1.0, 2.0 / 3.0, 2.0 / 3.0, 0.0, 0.5, 1.0, 1.0],
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0],
            [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0],
        ];
        let names = [
            MICRO_PRECISION,
            MICRO_RECALL,
            MICRO_F1,
            CATEGORY_F1,
            EXACT_MATCH,
            INVALID_CODE_RATE,
            JSON_VALID,
            SCHEMA_VALID,
        ];
        for (index, ((example, prediction), expected)) in corpus().iter().zip(expected).enumerate()
        {
            let score = score(prediction, example).expect("valid record");
            for (name, expected) in names.iter().zip(expected) {
                let got = value(&score.metrics, name);
                assert!(
                    close(got, expected),
                    "record {index}, `{name}`: expected {expected}, got {got}"
                );
            }
            assert_eq!(
                reward(prediction, example).expect("valid record"),
                expected[2],
                "reward of record {index}"
            );
        }
    }

    #[test]
    fn counts_each_existing_code_once_per_record() {
        let (example, prediction) = &corpus()[0];
        let scored = score(prediction, example).expect("valid record");
        let mut per_code: Vec<(&str, f64)> = scored
            .counts
            .iter()
            .filter(|c| c.key.starts_with(CODE_PREFIX))
            .map(|c| (c.key.as_str(), c.value))
            .collect();
        per_code.sort_by(|a, b| a.0.cmp(b.0));
        assert_eq!(
            per_code,
            [
                ("code/E1165/fp", 1.0),
                ("code/E119/fn", 1.0),
                ("code/I10/tp", 1.0),
                ("code/N183/fn", 1.0),
                ("code/N1830/fp", 1.0)
            ]
        );
        // B predicts E11.99, which does not exist: no per-code count for it.
        let (example, prediction) = &corpus()[1];
        let keys: Vec<String> = score(prediction, example)
            .expect("valid record")
            .counts
            .into_iter()
            .map(|c| c.key)
            .collect();
        assert!(
            keys.contains(&"code/J189/tp".to_owned()) && !keys.iter().any(|k| k.contains("E1199")),
            "{keys:?}"
        );
    }

    /// Pooled over A–E: tp 1+1+0+0+2 = 4, fp 2+1 = 3, fn 2+1 = 3, so micro
    /// P = R = F1 = 4/7 ≈ 0.571, below the mean of per-record F1s
    /// (1/3 + 2/3 + 0 + 1 + 1)/5 = 0.6. Macro over the gold codes E119 (tp 1, fn 1:
    /// F1 2/3), I10 (tp 2, fn 1: 4/5), J189 (tp 1: 1), N183 (fn 1: 0):
    /// (2/3 + 4/5 + 1 + 0)/4 = 37/60; E1165 and N1830 are only predicted, so they
    /// are not averaged. Categories: tp 3+1+0+0+2 = 6, fp 1, fn 1: F1 = 12/14 = 6/7.
    /// Exact match 2/5; JSON- and schema-valid 4/5; invalid codes 1 of 3+2+2 = 7.
    #[test]
    fn aggregates_micro_from_pooled_counts_and_macro_over_gold_codes() {
        let scores: Vec<ExampleScore> = corpus()
            .iter()
            .map(|(example, prediction)| score(prediction, example).expect("valid record"))
            .collect();
        let metrics = aggregate(&scores).expect("scores from `score`");
        let expected = [
            (MICRO_PRECISION, 4.0 / 7.0),
            (MICRO_RECALL, 4.0 / 7.0),
            (MICRO_F1, 4.0 / 7.0),
            (MACRO_F1, 37.0 / 60.0),
            (CATEGORY_F1, 6.0 / 7.0),
            (EXACT_MATCH, 0.4),
            (INVALID_CODE_RATE, 1.0 / 7.0),
            (JSON_VALID, 0.8),
            (SCHEMA_VALID, 0.8),
        ];
        assert_eq!(metrics.len(), expected.len());
        for (name, expected) in expected {
            let got = value(&metrics, name);
            assert!(
                close(got, expected),
                "`{name}`: expected {expected}, got {got}"
            );
        }
        let mean_of_f1s: f64 = scores
            .iter()
            .map(|s| value(&s.metrics, MICRO_F1))
            .sum::<f64>()
            / 5.0;
        assert!(close(mean_of_f1s, 0.6) && !close(value(&metrics, MICRO_F1), mean_of_f1s));
    }

    #[test]
    fn macro_f1_without_gold_codes_follows_the_empty_set_convention() {
        let nothing = [score("[]", &example(&[])).expect("valid record")];
        assert_eq!(
            value(&aggregate(&nothing).expect("aggregate"), MACRO_F1),
            1.0
        );
        let invented = [score(r#"["I10"]"#, &example(&[])).expect("valid record")];
        assert_eq!(
            value(&aggregate(&invented).expect("aggregate"), MACRO_F1),
            0.0
        );
        // An invalid output against an empty gold set scores 0, though its counts are empty.
        assert_eq!(
            reward("no codes", &example(&[])).expect("valid record"),
            0.0
        );
    }

    /// G = {I10}. `[]`: a well-formed empty answer, tp 0, fp 0, fn 1: P = 0 (nothing
    /// predicted), R = 0/1, F1 = 0/(0+0+1) = 0, schema-valid. `""`: not JSON, same
    /// counts, but json_valid and schema_valid 0.
    #[test]
    fn an_empty_prediction_finds_nothing() {
        for (prediction, valid) in [("[]", 1.0), ("", 0.0)] {
            let scored = score(prediction, &example(&["I10"])).expect("valid record");
            for (name, expected) in [
                (MICRO_PRECISION, 0.0),
                (MICRO_RECALL, 0.0),
                (MICRO_F1, 0.0),
                (EXACT_MATCH, 0.0),
                (INVALID_CODE_RATE, 0.0),
                (JSON_VALID, valid),
                (SCHEMA_VALID, valid),
            ] {
                assert_eq!(
                    value(&scored.metrics, name),
                    expected,
                    "`{name}` of {prediction:?}"
                );
            }
            let fn_ = scored
                .counts
                .iter()
                .find(|c| c.key == FN)
                .expect("fn count")
                .value;
            assert_eq!(fn_, 1.0, "{prediction:?}");
        }
    }

    #[test]
    fn an_empty_corpus_has_no_metrics() {
        assert!(aggregate(&[]).expect("nothing to aggregate").is_empty());
    }

    #[test]
    fn refuses_a_malformed_per_code_count() {
        let score = ExampleScore {
            metrics: Vec::new(),
            counts: vec![count("code/I10/tn", 1.0)],
        };
        let error = aggregate(&[score]).expect_err("should be refused");
        assert!(
            matches!(&error, TaskError::Other(text) if text.contains("`code/I10/tn`")),
            "{error:?}"
        );
    }

    #[test]
    fn refuses_a_record_with_an_unknown_gold_code() {
        let error = score("[]", &example(&["I10", "E11.99"])).expect_err("should be refused");
        assert!(
            matches!(&error, TaskError::InvalidField(e) if e.field == "/codes/1"),
            "{error:?}"
        );
    }
}
