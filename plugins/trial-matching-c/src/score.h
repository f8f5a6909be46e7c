/* Metrics of the task, defined exactly as in the Rust plugin's `score.rs` so that both
 * give the same bits: same counts, same metric order, same arithmetic and the same order
 * of summation.
 *
 * Validity. A prediction is JSON-valid when prediction.h reads it (surrounding white space
 * and one Markdown code fence are ignored), and schema-valid when it also passes
 * `answer_from_value`, which mirrors the declared schema. Task rules (`validate`) do not
 * affect any metric. A prediction that is not schema-valid decides nothing: its
 * eligibility and every criterion count as absent.
 *
 * Matching criteria. For each gold criterion, the prediction's decision is the `met` of
 * the first entry whose `index` equals the criterion's index. A criterion with no such
 * entry is absent. Entries whose index no criterion has are ignored.
 *
 * Counts per record (each pooled by `aggregate`):
 * - eligibility: correct when the predicted `eligible` equals the gold one (absent is
 *   wrong); for the eligible class, tp = both true, fp = predicted true and gold false,
 *   fn = gold true and predicted false or absent;
 * - criteria: `criteria` = number of gold criteria, `criteria_correct` = those whose
 *   decision equals the gold `met`;
 * - n2c2 2018 classes: each (record, criterion) pair adds to the "met" and "not met"
 *   classes: gold met & predicted met → met tp; gold met & predicted not met → met fn and
 *   not-met fp; gold not met & predicted met → not-met fn and met fp; both not met →
 *   not-met tp; absent → an fn of the gold's class only.
 *
 * Metrics (per record from its own counts, corpus from pooled counts): `json_valid`,
 * `schema_valid`, `eligibility_accuracy`, `eligible_f1` (corpus only),
 * `criterion_accuracy`, `met_f1`, `not_met_f1`, `n2c2_score` = (met F1 + not-met F1) / 2.
 * F1 is 2·tp / (2·tp + fp + fn), and 1 when that denominator is 0. `aggregate` of no
 * records returns no metrics. Reward: the record's `criterion_accuracy`, 0 when not
 * schema-valid. */
#ifndef TRIAL_MATCHING_SCORE_H
#define TRIAL_MATCHING_SCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "text.h"

/* Every metric `score` and `aggregate` may return, in the order `info` declares them. */
#define METRIC_COUNT 8

struct metric_info {
    const char *name;
    const char *description;
};

extern const struct metric_info METRIC_INFOS[METRIC_COUNT];

/* A metric or a count: a name (static) and its value. */
struct named_value {
    const char *name;
    double value;
};

/* At most this many metrics per record (all but `eligible_f1`) and counts per record. */
#define RECORD_METRIC_COUNT 7
#define RECORD_COUNT_COUNT 15

/* The per-record metrics and the counts `aggregate` pools, in the Rust plugin's order. */
struct example_score {
    struct named_value metrics[RECORD_METRIC_COUNT];
    struct named_value counts[RECORD_COUNT_COUNT];
};

/* True positive, false positive and false negative counts of one class. */
struct tally {
    uint32_t tp;
    uint32_t fp;
    uint32_t fn;
};

/* Everything `score` learns about one prediction. */
struct record_score {
    bool json_valid;
    bool schema_valid;
    bool eligible_correct;
    /* The eligible class. */
    struct tally eligible;
    uint32_t criteria;
    uint32_t criteria_correct;
    struct tally met;
    struct tally not_met;
};

/* Score a raw prediction against its record. */
struct record_score score_prediction(struct slice prediction, const struct record *record);
/* The record's criterion accuracy, or 0 when the prediction is not schema-valid. */
double score_reward(const struct record_score *score);
struct example_score score_to_example_score(const struct record_score *score);

/* One score handed back to `aggregate`: its counts, with keys of any text. */
struct count_view {
    struct slice key;
    double value;
};

struct counts_view {
    const struct count_view *counts;
    size_t len;
};

/* Corpus metrics from pooled counts into `metrics`; returns how many (0 or METRIC_COUNT). */
size_t score_aggregate(const struct counts_view *scores, size_t len,
                       struct named_value metrics[METRIC_COUNT]);

#endif
