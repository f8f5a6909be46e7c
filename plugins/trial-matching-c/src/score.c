/* Scoring; see score.h. */
#include "score.h"

#include "answer.h"
#include "prediction.h"

const struct metric_info METRIC_INFOS[METRIC_COUNT] = {
    {"json_valid", "share of predictions that parse as JSON (one code fence allowed)"},
    {"schema_valid", "share of predictions that match the output schema"},
    {"eligibility_accuracy", "share of records whose eligibility is predicted right"},
    {"eligible_f1", "F1 of the eligible class, counts pooled over records (corpus only)"},
    {"criterion_accuracy",
     "share of (record, criterion) pairs decided right; absent counts wrong; the reward"},
    {"met_f1", "F1 of the met class over (record, criterion) pairs, counts pooled"},
    {"not_met_f1", "F1 of the not-met class over (record, criterion) pairs, counts pooled"},
    {"n2c2_score", "n2c2 2018 cohort-selection overall score: mean of met and not-met F1"},
};

/* The Rust SDK's `f1`: 2·tp / (2·tp + fp + fn), or 1 when nothing was there to find and
 * nothing was predicted. */
static double f1(double tp, double fp, double fn) {
    double denominator = 2.0 * tp + fp + fn;
    return denominator == 0.0 ? 1.0 : 2.0 * tp / denominator;
}

static double tally_f1(struct tally tally) {
    return f1(tally.tp, tally.fp, tally.fn);
}

static double indicator(bool condition) {
    return condition ? 1.0 : 0.0;
}

struct record_score score_prediction(struct slice prediction, const struct record *record) {
    struct arena arena = {0};
    const struct json_value *json = prediction_parse_json(prediction, &arena);
    struct answer answer = {0};
    bool schema_valid = false;
    if (json != NULL) {
        struct violation ignored;
        schema_valid = answer_from_value(json, &arena, &answer, &ignored);
        if (!schema_valid) {
            violation_free(&ignored);
        }
    }
    bool predicted_true = schema_valid && answer.eligible;
    bool eligible_correct = schema_valid && answer.eligible == record->eligible;
    struct record_score result = {
        .json_valid = json != NULL,
        .schema_valid = schema_valid,
        .eligible_correct = eligible_correct,
        .eligible =
            {
                .tp = record->eligible && predicted_true,
                .fp = !record->eligible && predicted_true,
                .fn = record->eligible && !predicted_true,
            },
    };
    for (size_t i = 0; i < record->criteria_len; i++) {
        const struct criterion *criterion = &record->criteria[i];
        bool met = false;
        bool decided = schema_valid && answer_met(&answer, criterion->index, &met);
        result.criteria += 1;
        result.criteria_correct += decided && met == criterion->met;
        struct tally *gold_class = criterion->met ? &result.met : &result.not_met;
        struct tally *other_class = criterion->met ? &result.not_met : &result.met;
        if (!decided) {
            gold_class->fn += 1;
        } else if (met == criterion->met) {
            gold_class->tp += 1;
        } else {
            gold_class->fn += 1;
            other_class->fp += 1;
        }
    }
    arena_free(&arena);
    return result;
}

static double criterion_accuracy(const struct record_score *score) {
    /* Every record has at least one criterion (checked when it is read). */
    return (double)score->criteria_correct / (double)score->criteria;
}

double score_reward(const struct record_score *score) {
    return score->schema_valid ? criterion_accuracy(score) : 0.0;
}

struct example_score score_to_example_score(const struct record_score *score) {
    double met_f1 = tally_f1(score->met);
    double not_met_f1 = tally_f1(score->not_met);
    return (struct example_score){
        .metrics =
            {
                {"json_valid", indicator(score->json_valid)},
                {"schema_valid", indicator(score->schema_valid)},
                {"eligibility_accuracy", indicator(score->eligible_correct)},
                {"criterion_accuracy", criterion_accuracy(score)},
                {"met_f1", met_f1},
                {"not_met_f1", not_met_f1},
                {"n2c2_score", (met_f1 + not_met_f1) / 2.0},
            },
        .counts =
            {
                {"records", 1.0},
                {"json_valid", indicator(score->json_valid)},
                {"schema_valid", indicator(score->schema_valid)},
                {"eligible_correct", indicator(score->eligible_correct)},
                {"criteria", score->criteria},
                {"criteria_correct", score->criteria_correct},
                {"eligible_tp", score->eligible.tp},
                {"eligible_fp", score->eligible.fp},
                {"eligible_fn", score->eligible.fn},
                {"met_tp", score->met.tp},
                {"met_fp", score->met.fp},
                {"met_fn", score->met.fn},
                {"not_met_tp", score->not_met.tp},
                {"not_met_fp", score->not_met.fp},
                {"not_met_fn", score->not_met.fn},
            },
    };
}

/* The Rust SDK's `sum_count`: the sum of the count `key` over all scores, in order,
 * starting from -0.0 as Rust's `Iterator::sum` for f64 does (absent counts add nothing). */
static double sum_count(const struct counts_view *scores, size_t len, const char *key) {
    struct slice wanted = slice_from(key);
    double sum = -0.0;
    for (size_t s = 0; s < len; s++) {
        for (size_t c = 0; c < scores[s].len; c++) {
            if (slice_equal(scores[s].counts[c].key, wanted)) {
                sum += scores[s].counts[c].value;
            }
        }
    }
    return sum;
}

static double class_f1(const struct counts_view *scores, size_t len, const char *tp,
                       const char *fp, const char *fn) {
    return f1(sum_count(scores, len, tp), sum_count(scores, len, fp),
              sum_count(scores, len, fn));
}

size_t score_aggregate(const struct counts_view *scores, size_t len,
                       struct named_value metrics[METRIC_COUNT]) {
    double records = sum_count(scores, len, "records");
    if (records == 0.0) {
        return 0;
    }
    double met_f1 = class_f1(scores, len, "met_tp", "met_fp", "met_fn");
    double not_met_f1 = class_f1(scores, len, "not_met_tp", "not_met_fp", "not_met_fn");
    const struct named_value values[METRIC_COUNT] = {
        {"json_valid", sum_count(scores, len, "json_valid") / records},
        {"schema_valid", sum_count(scores, len, "schema_valid") / records},
        {"eligibility_accuracy", sum_count(scores, len, "eligible_correct") / records},
        {"eligible_f1", class_f1(scores, len, "eligible_tp", "eligible_fp", "eligible_fn")},
        {"criterion_accuracy",
         sum_count(scores, len, "criteria_correct") / sum_count(scores, len, "criteria")},
        {"met_f1", met_f1},
        {"not_met_f1", not_met_f1},
        {"n2c2_score", (met_f1 + not_met_f1) / 2.0},
    };
    for (size_t i = 0; i < METRIC_COUNT; i++) {
        metrics[i] = values[i];
    }
    return METRIC_COUNT;
}
