//! Per-record metrics of a summary and their corpus values.
//!
//! Per record, with the reference and the prediction tokenized by
//! [`crate::tokenize`]:
//! - `rouge1`, `rouge2`, `rougel`: the F-measures of ROUGE-1, ROUGE-2 and ROUGE-L
//!   ([`crate::rouge`]), the `fmeasure` of `rouge-score`'s `rouge1`, `rouge2` and
//!   `rougeL` (not `rougeLsum`) with `use_stemmer=True`;
//! - `length_ratio`: prediction tokens / reference tokens (a reference always has
//!   at least one token; see [`crate::record::summary`]).
//!
//! Over a corpus: `rouge1`, `rouge2` and `rougel` are the arithmetic means of the
//! per-record values, summed in dataset order and divided by the number of
//! records. That is the value `rouge-score`'s `BootstrapAggregator` reports as
//! `mid` up to its resampling noise (its `mid` is the median of 1000 bootstrap
//! means). `length_ratio` pools the counts `prediction_tokens` and
//! `reference_tokens`: Σ prediction tokens / Σ reference tokens, as BLEU's
//! length ratio does, so long references weigh more than short ones.
//! An empty corpus has no metrics.

use rapha_task_sdk::{Count, Example, ExampleScore, Metric, TaskError, Violation, sum_count};

use crate::record;
use crate::rouge::{rouge_l, rouge_n};
use crate::tokenize::tokenize;

pub const ROUGE1: &str = "rouge1";
pub const ROUGE2: &str = "rouge2";
pub const ROUGEL: &str = "rougel";
pub const LENGTH_RATIO: &str = "length_ratio";
const PREDICTION_TOKENS: &str = "prediction_tokens";
const REFERENCE_TOKENS: &str = "reference_tokens";

/// The metrics whose corpus value is the mean of the per-record values.
const MEANS: [&str; 3] = [ROUGE1, ROUGE2, ROUGEL];

/// Score a generated summary (raw text) against the record's reference.
pub fn score(prediction: &str, example: &Example) -> Result<ExampleScore, TaskError> {
    let (_, reference) = record::summary(example)?;
    let predicted = tokenize(prediction);
    Ok(ExampleScore {
        metrics: vec![
            Metric::new(ROUGE1, rouge_n(&reference, &predicted, 1).fmeasure),
            Metric::new(ROUGE2, rouge_n(&reference, &predicted, 2).fmeasure),
            Metric::new(ROUGEL, rouge_l(&reference, &predicted).fmeasure),
            Metric::new(
                LENGTH_RATIO,
                predicted.len() as f64 / reference.len() as f64,
            ),
        ],
        counts: vec![
            Count {
                key: PREDICTION_TOKENS.into(),
                value: predicted.len() as f64,
            },
            Count {
                key: REFERENCE_TOKENS.into(),
                value: reference.len() as f64,
            },
        ],
    })
}

/// The reward: the record's ROUGE-L F-measure, in [0, 1].
pub fn reward(prediction: &str, example: &Example) -> Result<f64, TaskError> {
    let (_, reference) = record::summary(example)?;
    Ok(rouge_l(&reference, &tokenize(prediction)).fmeasure)
}

/// Corpus metrics from per-record scores, in dataset order.
pub fn aggregate(scores: &[ExampleScore]) -> Result<Vec<Metric>, TaskError> {
    if scores.is_empty() {
        return Ok(Vec::new());
    }
    let mut metrics = Vec::with_capacity(MEANS.len() + 1);
    for name in MEANS {
        let mut sum = 0.0;
        for (index, score) in scores.iter().enumerate() {
            let value = score.metrics.iter().find(|m| m.name == name).ok_or_else(|| {
                TaskError::Other(format!(
                    "aggregate: score {index} has no metric `{name}`: expected the scores that `score` returned"
                ))
            })?;
            sum += value.value;
        }
        metrics.push(Metric::new(name, sum / scores.len() as f64));
    }
    let reference_tokens = sum_count(scores, REFERENCE_TOKENS);
    if reference_tokens <= 0.0 {
        return Err(TaskError::Other(format!(
            "aggregate: count `{REFERENCE_TOKENS}`: expected a positive total, found `{reference_tokens}`"
        )));
    }
    metrics.push(Metric::new(
        LENGTH_RATIO,
        sum_count(scores, PREDICTION_TOKENS) / reference_tokens,
    ));
    Ok(metrics)
}

/// A summary must contain at least one word; anything else is the model's
/// choice, judged by ROUGE.
pub fn validate(prediction: &str) -> Result<(), Violation> {
    if tokenize(prediction).is_empty() {
        return Err(Violation {
            path: String::new(),
            reason:
                "summary has no words: expected at least one run of `[a-z0-9]` after lowercasing"
                    .into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapha_task_sdk::parse_example;
    use rapha_task_sdk::serde_json::json;

    /// (reference, prediction, rouge1 F, rouge2 F, rougeL F, prediction tokens,
    /// reference tokens), printed by `tests/reference.py` with rouge-score 0.1.2
    /// and nltk 3.10.4 (`RougeScorer(["rouge1", "rouge2", "rougeL"],
    /// use_stemmer=True).score(reference, prediction)`). Compared bit for bit:
    /// the plugin performs the same f64 operations in the same order.
    const ROUGE_CASES: &[(&str, &str, f64, f64, f64, usize, usize)] = &[
        (
            "Admitted with pneumonia, treated with IV antibiotics and discharged home.",
            "Admitted with pneumonia, treated with IV antibiotics and discharged home.",
            1.0,
            1.0,
            1.0,
            10,
            10,
        ),
        (
            "The patient was admitted with community-acquired pneumonia and treated with IV antibiotics.",
            "Patient admitted for pneumonia; treated with intravenous antibiotics and discharged.",
            0.608695652173913,
            0.09523809523809525,
            0.5217391304347826,
            10,
            13,
        ),
        (
            "Studies of dying patients' relational databases",
            "study of the die patient relate database",
            0.923076923076923,
            0.7272727272727272,
            0.923076923076923,
            7,
            6,
        ),
        (
            "skies innings outings news proceeding generalizations",
            "sky inning outing news proceed general",
            1.0,
            1.0,
            1.0,
            6,
            6,
        ),
        (
            "BP 140/90, HR 88 bpm, SpO2 97% on 2L.",
            "BP was 140/90 with HR 88 and SpO2 of 97 % on 2 L",
            0.6666666666666666,
            0.27272727272727276,
            0.6666666666666666,
            14,
            10,
        ),
        (
            "the cat the cat the cat",
            "the the the the cat",
            0.7272727272727272,
            0.22222222222222224,
            0.7272727272727272,
            5,
            6,
        ),
        ("Stable for discharge.", "", 0.0, 0.0, 0.0, 0, 3),
        ("Stable.", "!!!", 0.0, 0.0, 0.0, 0, 1),
        (
            "Stable",
            "stable condition",
            0.6666666666666666,
            0.0,
            0.6666666666666666,
            2,
            1,
        ),
        (
            "\u{130}leus and \u{212a}elvin-scale caf\u{e9}",
            "ileus kelvin cafe",
            0.2222222222222222,
            0.0,
            0.2222222222222222,
            3,
            6,
        ),
        (
            "hypertension diabetes",
            "fracture of femur",
            0.0,
            0.0,
            0.0,
            3,
            2,
        ),
        (
            "was has dies lies",
            "wa ha die lie",
            0.5,
            0.3333333333333333,
            0.5,
            4,
            4,
        ),
        (
            "72-year-old man with type 2 diabetes mellitus and hypertension presented with 2 days of crushing chest pain; ECG showed ST elevation in leads II, III and aVF. He underwent primary PCI to the RCA and was discharged on aspirin, ticagrelor, atorvastatin and ramipril.",
            "A 72 year old diabetic, hypertensive man had chest pain for two days with inferior ST elevation; the RCA was stented (primary PCI). Discharge medications: aspirin, ticagrelor, atorvastatin, ramipril.",
            0.5945945945945945,
            0.2222222222222222,
            0.45945945945945943,
            29,
            45,
        ),
        (
            "HbA1c 7.2% (previously 8.1%)",
            "hba1c improved from 8.1 to 7.2",
            0.7142857142857143,
            0.3333333333333333,
            0.42857142857142855,
            8,
            6,
        ),
        (
            "a b c d e f",
            "f e d c b a",
            1.0,
            0.0,
            0.16666666666666666,
            6,
            6,
        ),
        (
            "Generally hopeful; conditional relationally operational hospitalizations",
            "general hope condition relation operation hospitalization",
            1.0,
            1.0,
            1.0,
            6,
            6,
        ),
    ];

    /// Corpus values over ROUGE_CASES 1, 2, 4, 6 and 12 in that order, printed by
    /// the same script: the means of rouge1, rouge2 and rougeL (summed in order),
    /// then Σ prediction tokens / Σ reference tokens.
    const AGGREGATE: [f64; 4] = [
        0.5586067673024194,
        0.26349206349206344,
        0.5141884359275662,
        0.7792207792207793,
    ];
    const AGGREGATE_CASES: [usize; 5] = [1, 2, 4, 6, 12];

    fn example(summary: &str) -> Example {
        parse_example(&json!({"id": "r", "note": "note", "summary": summary}).to_string())
            .expect("an object")
    }

    fn value(score: &ExampleScore, name: &str) -> f64 {
        score
            .metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
            .expect("metric present")
    }

    #[test]
    fn scores_exactly_as_rouge_score() {
        for &(reference, prediction, rouge1, rouge2, rougel, predicted, expected) in ROUGE_CASES {
            let score = score(prediction, &example(reference)).expect("valid record");
            let got = [
                value(&score, ROUGE1),
                value(&score, ROUGE2),
                value(&score, ROUGEL),
            ];
            assert_eq!(
                got,
                [rouge1, rouge2, rougel],
                "rouge1, rouge2, rougeL of {prediction:?} against {reference:?}"
            );
            assert_eq!(
                value(&score, LENGTH_RATIO),
                predicted as f64 / expected as f64,
                "{prediction:?}"
            );
            assert_eq!(
                reward(prediction, &example(reference)).expect("valid record"),
                rougel
            );
        }
    }

    #[test]
    fn aggregates_means_of_rouge_and_pooled_length_ratio() {
        let scores: Vec<ExampleScore> = AGGREGATE_CASES
            .iter()
            .map(|&i| score(ROUGE_CASES[i].1, &example(ROUGE_CASES[i].0)).expect("valid record"))
            .collect();
        let metrics = aggregate(&scores).expect("scores from `score`");
        let got: Vec<(&str, f64)> = metrics.iter().map(|m| (m.name.as_str(), m.value)).collect();
        assert_eq!(
            got,
            [
                (ROUGE1, AGGREGATE[0]),
                (ROUGE2, AGGREGATE[1]),
                (ROUGEL, AGGREGATE[2]),
                (LENGTH_RATIO, AGGREGATE[3])
            ]
        );
    }

    /// Hand computation: record A has 2 prediction and 1 reference tokens (ratio
    /// 2), record B 1 and 9 (ratio 1/9). Pooled: (2 + 1) / (1 + 9) = 0.3, whereas
    /// the mean of the ratios would be (2 + 1/9) / 2 ≈ 1.06.
    #[test]
    fn pools_length_ratio_counts_rather_than_averaging_ratios() {
        let a = score("stable condition", &example("stable")).expect("valid record");
        let b = score(
            "stable",
            &example("one two three four five six seven eight nine"),
        )
        .expect("valid record");
        assert_eq!(value(&a, LENGTH_RATIO), 2.0);
        let metrics = aggregate(&[a, b]).expect("scores from `score`");
        let ratio = metrics
            .iter()
            .find(|m| m.name == LENGTH_RATIO)
            .expect("length ratio")
            .value;
        assert_eq!(ratio, 0.3);
    }

    #[test]
    fn an_empty_corpus_has_no_metrics() {
        assert!(aggregate(&[]).expect("nothing to aggregate").is_empty());
    }

    #[test]
    fn refuses_scores_without_their_metrics() {
        let stripped = ExampleScore {
            metrics: Vec::new(),
            counts: Vec::new(),
        };
        let error = aggregate(&[stripped]).expect_err("should be refused");
        assert!(
            matches!(&error, TaskError::Other(text) if text.contains("score 0 has no metric `rouge1`")),
            "{error:?}"
        );
    }

    #[test]
    fn refuses_a_reference_without_words() {
        let error = score("anything", &example(" -- ")).expect_err("should be refused");
        assert!(
            matches!(&error, TaskError::InvalidField(e) if e.field == "/summary"),
            "{error:?}"
        );
    }

    #[test]
    fn validates_that_a_summary_has_a_word() {
        assert!(validate("Stable, discharged.").is_ok());
        let violation = validate(" ... ").expect_err("should be refused");
        assert_eq!(violation.path, "");
        assert_eq!(
            violation.reason,
            "summary has no words: expected at least one run of `[a-z0-9]` after lowercasing"
        );
    }
}
