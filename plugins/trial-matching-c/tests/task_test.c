/* task.c: the Rust plugin's lib.rs tests. */
#include "../src/task.h"
#include "check.h"

static const char EXAMPLE[] =
    "{\"id\":\"tm-9\","
    "\"patient\":\"45-year-old man with asthma, non-smoker, on inhaled budesonide.\","
    "\"trial\":{\"id\":\"T-3\",\"title\":\"Biologic add-on in asthma\","
    "\"inclusion\":[\"Age 18 to 65\",\"Diagnosis of asthma\",\"Blood eosinophils above 300/uL\"],"
    "\"exclusion\":[\"Current smoker\"]},"
    "\"criteria\":[{\"index\":1,\"kind\":\"inclusion\",\"met\":true},"
    "{\"index\":2,\"kind\":\"inclusion\",\"met\":true},"
    "{\"index\":3,\"kind\":\"inclusion\",\"met\":false},"
    "{\"index\":4,\"kind\":\"exclusion\",\"met\":false}],"
    "\"eligible\":false}";

static struct text violation_of(const char *prediction) {
    struct violation violation;
    struct text out = {0};
    if (task_validate(slice_from(prediction), &violation)) {
        text_push_str(&out, "ok");
    } else {
        text_push_slice(&out, text_slice(&violation.path));
        text_push_str(&out, ": ");
        text_push_slice(&out, text_slice(&violation.reason));
        violation_free(&violation);
    }
    return out;
}

#define CHECK_VALIDATE(prediction, expected)          \
    do {                                              \
        struct text got = violation_of((prediction)); \
        CHECK_TEXT(got, (expected));                  \
        text_free(&got);                              \
    } while (0)

static void the_completion_validates_and_scores_perfectly(void) {
    struct text user;
    struct text completion;
    struct task_error error;
    CHECK(task_format_example(slice_from(EXAMPLE), &user, &completion, &error));
    CHECK_VALIDATE(completion.data, "ok");
    double reward = 0.0;
    CHECK(task_reward(text_slice(&completion), slice_from(EXAMPLE), &reward, &error));
    CHECK_F64(reward, 1.0);
    struct example_score score;
    CHECK(task_score(text_slice(&completion), slice_from(EXAMPLE), &score, &error));
    for (size_t i = 0; i < RECORD_METRIC_COUNT; i++) {
        CHECK_F64(score.metrics[i].value, 1.0);
    }
    text_free(&user);
    text_free(&completion);
}

static void validate_reports_structure_then_rules(void) {
    CHECK_VALIDATE("I think the patient is eligible.",
                   ": expected a JSON object, found text that is not JSON");
    CHECK_VALIDATE("{\"criteria\":[]}", "/eligible: missing required key");
    CHECK_VALIDATE("```json\n{\"eligible\":true,\"criteria\":[{\"index\":2,\"met\":true},"
                   "{\"index\":2,\"met\":true}]}\n```",
                   "/criteria/1/index: expected each index once, found `2` again (first at "
                   "`/criteria/0`)");
    CHECK_VALIDATE(" \n{\"eligible\":true,\"criteria\":[{\"index\":2,\"met\":true}]}\n ", "ok");
    CHECK_VALIDATE("``` {\"eligible\":true,\"criteria\":[{\"index\":2,\"met\":true}]}```", "ok");
    CHECK_VALIDATE("```", ": expected a JSON object, found text that is not JSON");
    CHECK_VALIDATE("[1]", ": expected an object, found an array");
}

static void unusable_records_fail_every_call_that_reads_them(void) {
    struct task_error error;
    double reward;
    CHECK(!task_reward(slice_from("{}"), slice_from("{\"patient\":1}"), &reward, &error));
    CHECK(error.kind == TASK_ERROR_INVALID_FIELD);
    CHECK_TEXT(error.field, "/patient");
    CHECK_TEXT(error.reason, "expected a string, found a number");
    task_error_free(&error);
    struct example_score score;
    CHECK(!task_score(slice_from("{}"), slice_from("nope"), &score, &error));
    CHECK(error.kind == TASK_ERROR_INVALID_JSON);
    CHECK_TEXT(error.reason, "record: expected ident at line 1 column 2");
    task_error_free(&error);
}

void task_test(void) {
    the_completion_validates_and_scores_perfectly();
    validate_reports_structure_then_rules();
    unusable_records_fail_every_call_that_reads_them();
}
