/* score.c: the Rust plugin's score tests. */
#include <math.h>
#include <string.h>

#include "../src/score.h"
#include "check.h"

/* A record with `inclusion` inclusion criteria and the gold `met` values in index order
 * (inclusion first); `eligible` follows from them. */
static struct text example(size_t inclusion, const bool *met, size_t len) {
    struct text text = text_from("{\"id\":\"r\",\"patient\":\"p\",\"trial\":{\"id\":\"t\","
                                 "\"title\":\"T\",\"inclusion\":[");
    for (size_t j = 0; j < len; j++) {
        if (j == inclusion) {
            text_push_str(&text, "],\"exclusion\":[");
        } else if (j > 0) {
            text_push_char(&text, ',');
        }
        text_push_str(&text, "\"criterion ");
        text_push_u64(&text, j + 1);
        text_push_char(&text, '"');
    }
    text_push_str(&text, inclusion == len ? "],\"exclusion\":[]},\"criteria\":[" : "]},\"criteria\":[");
    bool eligible = true;
    for (size_t j = 0; j < len; j++) {
        text_push_str(&text, j == 0 ? "{\"index\":" : ",{\"index\":");
        text_push_u64(&text, j + 1);
        text_push_str(&text, j < inclusion ? ",\"kind\":\"inclusion\"" : ",\"kind\":\"exclusion\"");
        text_push_str(&text, met[j] ? ",\"met\":true}" : ",\"met\":false}");
        eligible = eligible && met[j] == (j < inclusion);
    }
    text_push_str(&text, eligible ? "],\"eligible\":true}" : "],\"eligible\":false}");
    return text;
}

struct decision {
    uint32_t index;
    bool met;
};

static struct text prediction(bool eligible, const struct decision *decisions, size_t len) {
    struct text text = text_from(eligible ? "{\"eligible\":true,\"criteria\":["
                                          : "{\"eligible\":false,\"criteria\":[");
    for (size_t i = 0; i < len; i++) {
        text_push_str(&text, i == 0 ? "{\"index\":" : ",{\"index\":");
        text_push_u64(&text, decisions[i].index);
        text_push_str(&text, decisions[i].met ? ",\"met\":true}" : ",\"met\":false}");
    }
    text_push_str(&text, "]}");
    return text;
}

static struct record_score run(struct text example, struct text prediction) {
    struct arena arena = {0};
    struct record record;
    struct task_error error;
    struct record_score score = {0};
    bool usable = record_parse(text_slice(&example), &arena, &record, &error);
    CHECK(usable);
    if (usable) {
        score = score_prediction(text_slice(&prediction), &record);
    } else {
        task_error_free(&error);
    }
    arena_free(&arena);
    text_free(&example);
    text_free(&prediction);
    return score;
}

static double get(const struct named_value *values, size_t len, const char *name) {
    for (size_t i = 0; i < len; i++) {
        if (strcmp(values[i].name, name) == 0) {
            return values[i].value;
        }
    }
    CHECK(!"metric present");
    return NAN;
}

static bool tally_is(struct tally tally, uint32_t tp, uint32_t fp, uint32_t fn) {
    return tally.tp == tp && tally.fp == fp && tally.fn == fn;
}

#define EXAMPLE(inclusion, ...) \
    example((inclusion), (const bool[]){__VA_ARGS__}, sizeof((const bool[]){__VA_ARGS__}) / sizeof(bool))
#define PREDICTION(eligible, ...)                                  \
    prediction((eligible), (const struct decision[]){__VA_ARGS__}, \
               sizeof((const struct decision[]){__VA_ARGS__}) / sizeof(struct decision))

static size_t aggregate(const struct record_score *scores, size_t len,
                        struct named_value metrics[METRIC_COUNT]) {
    struct example_score examples[8];
    struct count_view views[8][RECORD_COUNT_COUNT];
    struct counts_view lists[8];
    for (size_t s = 0; s < len; s++) {
        examples[s] = score_to_example_score(&scores[s]);
        for (size_t c = 0; c < RECORD_COUNT_COUNT; c++) {
            views[s][c] = (struct count_view){slice_from(examples[s].counts[c].name),
                                              examples[s].counts[c].value};
        }
        lists[s] = (struct counts_view){views[s], RECORD_COUNT_COUNT};
    }
    return score_aggregate(lists, len, metrics);
}

static void a_perfect_answer_scores_one_everywhere(void) {
    struct record_score s =
        run(EXAMPLE(2, true, true, false), PREDICTION(true, {1, true}, {2, true}, {3, false}));
    CHECK_F64(score_reward(&s), 1.0);
    struct example_score example_score = score_to_example_score(&s);
    for (size_t i = 0; i < RECORD_METRIC_COUNT; i++) {
        CHECK_F64(example_score.metrics[i].value, 1.0);
    }
    struct named_value metrics[METRIC_COUNT];
    CHECK(aggregate(&s, 1, metrics) == METRIC_COUNT);
    for (size_t i = 0; i < METRIC_COUNT; i++) {
        CHECK_F64(metrics[i].value, 1.0);
    }
}

static void counts_each_class_of_the_n2c2_score(void) {
    /* Gold: [1] met, [2] met, [3] not met, [4] not met (2 inclusion, 2 exclusion).
     * Predicted: [1] met (met tp), [2] not met (met fn, not-met fp), [3] met (not-met fn,
     * met fp), [4] not met (not-met tp). */
    struct record_score s = run(EXAMPLE(2, true, true, false, false),
                                PREDICTION(false, {1, true}, {2, false}, {3, true}, {4, false}));
    CHECK(tally_is(s.met, 1, 1, 1));
    CHECK(tally_is(s.not_met, 1, 1, 1));
    CHECK(s.criteria == 4 && s.criteria_correct == 2);
    struct example_score example_score = score_to_example_score(&s);
    const struct named_value *m = example_score.metrics;
    /* met F1 = 2·1 / (2·1 + 1 + 1) = 0.5; not-met F1 likewise; mean 0.5. */
    CHECK_NEAR(get(m, RECORD_METRIC_COUNT, "met_f1"), 0.5);
    CHECK_NEAR(get(m, RECORD_METRIC_COUNT, "n2c2_score"), 0.5);
    CHECK_NEAR(get(m, RECORD_METRIC_COUNT, "criterion_accuracy"), 0.5);
    /* Gold eligible (inclusions met, exclusions not), predicted not: wrong, an fn. */
    CHECK_F64(get(m, RECORD_METRIC_COUNT, "eligibility_accuracy"), 0.0);
    CHECK(tally_is(s.eligible, 0, 0, 1));
    CHECK_F64(score_reward(&s), 0.5);
}

static void a_missing_criterion_is_wrong_and_an_fn_of_its_class_only(void) {
    /* Gold [1] met, [2] not met, [3] met. Predicted [1] met, [3] met; [2] absent. */
    struct record_score s =
        run(EXAMPLE(3, true, false, true), PREDICTION(false, {1, true}, {3, true}));
    CHECK(s.criteria == 3 && s.criteria_correct == 2);
    CHECK(tally_is(s.met, 2, 0, 0));
    CHECK(tally_is(s.not_met, 0, 0, 1));
    /* met F1 = 1; not-met F1 = 0 / (0 + 0 + 1) = 0; n2c2 = 0.5. */
    struct example_score example_score = score_to_example_score(&s);
    CHECK_NEAR(get(example_score.metrics, RECORD_METRIC_COUNT, "n2c2_score"), 0.5);
    CHECK_NEAR(score_reward(&s), 2.0 / 3.0);
}

static void a_duplicate_index_keeps_the_first_and_unknown_indices_are_ignored(void) {
    /* [1] first says met (right), then not met (ignored); [9] does not exist. */
    struct record_score s = run(EXAMPLE(1, true, false),
                                PREDICTION(true, {1, true}, {9, true}, {1, false}, {2, false}));
    CHECK(s.criteria == 2 && s.criteria_correct == 2);
    CHECK(tally_is(s.met, 1, 0, 0));
    /* The other way round: the first entry for [1] is wrong. */
    s = run(EXAMPLE(1, true, false), PREDICTION(true, {1, false}, {1, true}, {2, false}));
    CHECK(s.criteria == 2 && s.criteria_correct == 1);
}

static void invalid_and_fenced_predictions(void) {
    struct text fenced = text_from("```json\n");
    struct text plain = PREDICTION(true, {1, true}, {2, false});
    text_push_slice(&fenced, text_slice(&plain));
    text_push_str(&fenced, "\n```");
    text_free(&plain);
    struct record_score s = run(EXAMPLE(1, true, false), fenced);
    CHECK_F64(score_reward(&s), 1.0);

    s = run(EXAMPLE(1, true, false), text_from("eligible: yes"));
    CHECK(!s.json_valid && !s.schema_valid);
    CHECK_F64(score_reward(&s), 0.0);
    CHECK(tally_is(s.eligible, 0, 0, 1));
    CHECK(tally_is(s.met, 0, 0, 1));
    CHECK(tally_is(s.not_met, 0, 0, 1));

    /* Valid JSON, but an extra key: not schema-valid, so nothing is decided. */
    s = run(EXAMPLE(1, true, false),
            text_from("{\"eligible\":true,\"criteria\":[{\"index\":1,\"met\":true},"
                      "{\"index\":2,\"met\":false}],\"why\":\"x\"}"));
    CHECK(s.json_valid && !s.schema_valid);
    CHECK(s.criteria_correct == 0 && !s.eligible_correct);
    CHECK_F64(score_reward(&s), 0.0);
}

static void aggregate_pools_counts_over_records(void) {
    /* Record A: gold [1] met, [2] not met (1 inclusion, 1 exclusion), eligible.
     *   Predicted eligible, [1] met, [2] not met: all right.
     * Record B: gold [1] met, [2] met, [3] not met (3 inclusion), not eligible.
     *   Predicted eligible, [1] met, [2] met, [3] met.
     * Record C: gold [1] not met (1 exclusion), eligible. Not JSON. */
    struct record_score scores[3] = {
        run(EXAMPLE(1, true, false), PREDICTION(true, {1, true}, {2, false})),
        run(EXAMPLE(3, true, true, false), PREDICTION(true, {1, true}, {2, true}, {3, true})),
        run(EXAMPLE(0, false), text_from("[")),
    };
    struct named_value m[METRIC_COUNT];
    CHECK(aggregate(scores, 3, m) == METRIC_COUNT);
    /* criterion accuracy = (2 + 2 + 0) / (2 + 3 + 1) = 4/6 */
    CHECK_NEAR(get(m, METRIC_COUNT, "criterion_accuracy"), 4.0 / 6.0);
    /* eligibility: A right, B wrong, C wrong = 1/3 */
    CHECK_NEAR(get(m, METRIC_COUNT, "eligibility_accuracy"), 1.0 / 3.0);
    /* eligible class: tp 1, fp 1, fn 1 → F1 = 2 / 4 = 0.5 */
    CHECK_NEAR(get(m, METRIC_COUNT, "eligible_f1"), 0.5);
    /* met: tp 3, fp 1, fn 0 → 6/7; not met: tp 1, fp 0, fn 2 → 2/4 */
    CHECK_NEAR(get(m, METRIC_COUNT, "met_f1"), 6.0 / 7.0);
    CHECK_NEAR(get(m, METRIC_COUNT, "not_met_f1"), 0.5);
    /* n2c2 = (6/7 + 1/2) / 2 = 19/28, not the mean of per-record scores. */
    CHECK_NEAR(get(m, METRIC_COUNT, "n2c2_score"), 19.0 / 28.0);
    CHECK_NEAR(get(m, METRIC_COUNT, "json_valid"), 2.0 / 3.0);
    CHECK_NEAR(get(m, METRIC_COUNT, "schema_valid"), 2.0 / 3.0);
}

static void aggregate_of_nothing_reports_nothing(void) {
    struct named_value m[METRIC_COUNT];
    CHECK(score_aggregate(NULL, 0, m) == 0);
}

static void sums_start_from_negative_zero_as_rust_does(void) {
    /* A score without the `met_*` counts: Rust's f64 `sum` of nothing is -0.0. */
    struct count_view counts[] = {{slice_from("records"), 1.0}, {slice_from("criteria"), 2.0}};
    struct counts_view list = {counts, 2};
    struct named_value m[METRIC_COUNT];
    CHECK(score_aggregate(&list, 1, m) == METRIC_COUNT);
    CHECK_F64(get(m, METRIC_COUNT, "json_valid"), -0.0);
    CHECK_F64(get(m, METRIC_COUNT, "criterion_accuracy"), -0.0);
    CHECK_F64(get(m, METRIC_COUNT, "met_f1"), 1.0);
}

static void every_returned_metric_is_declared(void) {
    struct record_score s = run(EXAMPLE(1, true), text_from("null"));
    struct example_score example_score = score_to_example_score(&s);
    struct named_value m[METRIC_COUNT];
    CHECK(aggregate(&s, 1, m) == METRIC_COUNT);
    for (size_t i = 0; i < METRIC_COUNT; i++) {
        CHECK_STR(m[i].name, METRIC_INFOS[i].name);
    }
    for (size_t i = 0; i < RECORD_METRIC_COUNT; i++) {
        bool declared = false;
        for (size_t j = 0; j < METRIC_COUNT; j++) {
            declared = declared || strcmp(example_score.metrics[i].name, METRIC_INFOS[j].name) == 0;
        }
        CHECK(declared);
    }
}

void score_test(void) {
    a_perfect_answer_scores_one_everywhere();
    counts_each_class_of_the_n2c2_score();
    a_missing_criterion_is_wrong_and_an_fn_of_its_class_only();
    a_duplicate_index_keeps_the_first_and_unknown_indices_are_ignored();
    invalid_and_fenced_predictions();
    aggregate_pools_counts_over_records();
    aggregate_of_nothing_reports_nothing();
    sums_start_from_negative_zero_as_rust_does();
    every_returned_metric_is_declared();
}
