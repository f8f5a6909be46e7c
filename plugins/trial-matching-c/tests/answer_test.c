/* answer.c and rules.c: the Rust plugin's answer and rules tests. */
#include "../src/answer.h"
#include "../src/rules.h"
#include "check.h"

/* "ok" or "<path>: <reason>" for the JSON text `json`; with `rules`, the task rules too. */
static struct text verdict(const char *json, bool rules) {
    struct arena arena = {0};
    struct json_error json_error;
    const struct json_value *value = json_parse(slice_from(json), &arena, &json_error);
    struct text out = {0};
    struct answer answer;
    struct violation violation;
    if (value == NULL) {
        text_push_str(&out, "test bug: not JSON");
    } else if (answer_from_value(value, &arena, &answer, &violation) &&
               (!rules || rules_check(&answer, &violation))) {
        text_push_str(&out, "ok");
    } else {
        text_push_slice(&out, text_slice(&violation.path));
        text_push_str(&out, ": ");
        text_push_slice(&out, text_slice(&violation.reason));
        violation_free(&violation);
    }
    arena_free(&arena);
    return out;
}

#define CHECK_VERDICT(json, rules, expected)       \
    do {                                           \
        struct text got = verdict((json), (rules)); \
        CHECK_TEXT(got, (expected));               \
        text_free(&got);                           \
    } while (0)

static void reads_an_answer_and_keeps_the_first_of_duplicate_indices(void) {
    struct arena arena = {0};
    struct json_error json_error;
    const struct json_value *value = json_parse(
        slice_from("{\"eligible\":false,\"criteria\":[{\"index\":2,\"met\":true},"
                   "{\"index\":1.0,\"met\":false},{\"index\":2,\"met\":false}]}"),
        &arena, &json_error);
    struct answer answer;
    struct violation violation;
    CHECK(answer_from_value(value, &arena, &answer, &violation));
    CHECK(!answer.eligible);
    bool met = true;
    CHECK(answer_met(&answer, 1, &met) && !met);
    CHECK(answer_met(&answer, 2, &met) && met);
    CHECK(!answer_met(&answer, 3, &met));
    arena_free(&arena);
}

static void reports_the_first_structural_violation(void) {
    CHECK_VERDICT("{\"criteria\":[]}", false, "/eligible: missing required key");
    CHECK_VERDICT("{\"eligible\":\"yes\",\"criteria\":[]}", false,
                  "/eligible: expected a boolean, found `yes`");
    CHECK_VERDICT("{\"eligible\":true,\"criteria\":[{\"index\":0,\"met\":true}]}", false,
                  "/criteria/0/index: expected an integer from 1, found `0`");
    CHECK_VERDICT("{\"eligible\":true,\"criteria\":[{\"index\":1,\"met\":true,\"why\":\"x\"}]}",
                  false, "/criteria/0/why: unexpected key `why`: expected only `index`, `met`");
    CHECK_VERDICT("{\"eligible\":true,\"criteria\":{\"1\":true}}", false,
                  "/criteria: expected an array, found an object");
    CHECK_VERDICT("true", false, ": expected an object, found a boolean");
    /* The smallest unexpected key in byte order, escaped as a JSON Pointer. */
    CHECK_VERDICT("{\"z\":1,\"eligible\":true,\"criteria\":[],\"a/b~\":2}", false,
                  "/a~1b~0: unexpected key `a/b~`: expected only `eligible`, `criteria`");
    CHECK_VERDICT("{\"eligible\":true,\"criteria\":[{\"index\":1.5,\"met\":true}]}", false,
                  "/criteria/0/index: expected an integer from 1, found `1.5`");
    CHECK_VERDICT("{\"eligible\":true,\"criteria\":[{\"index\":1e300,\"met\":true}]}", false,
                  "ok");
    CHECK_VERDICT("{\"eligible\":true,\"criteria\":[{\"index\":-1,\"met\":true}]}", false,
                  "/criteria/0/index: expected an integer from 1, found `-1`");
    CHECK_VERDICT("{\"eligible\":true,\"criteria\":[{\"index\":1,\"met\":null}]}", false,
                  "/criteria/0/met: expected a boolean, found null");
    CHECK_VERDICT("{\"eligible\":true,\"criteria\":[{\"met\":1}]}", false,
                  "/criteria/0/index: missing required key");
    CHECK_VERDICT("{\"eligible\":true,\"criteria\":[[1,true]]}", false,
                  "/criteria/0: expected an object, found an array");
}

static void accepts_unique_indices_in_any_order(void) {
    CHECK_VERDICT("{\"eligible\":false,\"criteria\":[{\"index\":3,\"met\":true},"
                  "{\"index\":1,\"met\":false}]}",
                  true, "ok");
}

static void rejects_an_empty_list_and_duplicate_indices(void) {
    CHECK_VERDICT("{\"eligible\":false,\"criteria\":[]}", true,
                  "/criteria: expected a decision for every criterion of the trial, found none");
    CHECK_VERDICT("{\"eligible\":false,\"criteria\":[{\"index\":1,\"met\":true},"
                  "{\"index\":2,\"met\":true},{\"index\":1.0,\"met\":false}]}",
                  true,
                  "/criteria/2/index: expected each index once, found `1` again (first at "
                  "`/criteria/0`)");
    CHECK_VERDICT("{\"eligible\":false,\"criteria\":[{\"index\":1e20,\"met\":true},"
                  "{\"index\":100000000000000000000,\"met\":true}]}",
                  true,
                  "/criteria/1/index: expected each index once, found `100000000000000000000` "
                  "again (first at `/criteria/0`)");
}

void answer_test(void) {
    reads_an_answer_and_keeps_the_first_of_duplicate_indices();
    reports_the_first_structural_violation();
}

void rules_test(void) {
    accepts_unique_indices_in_any_order();
    rejects_an_empty_list_and_duplicate_indices();
}
