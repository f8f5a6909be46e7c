/* record.c: the Rust plugin's record tests, plus records that are not JSON objects. */
#include <string.h>

#include "../src/record.h"
#include "check.h"
#include "example.h"

static const char BASE[] =
    "{\"id\":\"tm-1\","
    "\"patient\":\"58-year-old woman with type 2 diabetes; HbA1c 8.1%; no insulin.\","
    "\"trial\":{\"id\":\"T-7\",\"title\":\"Drug X in type 2 diabetes\","
    "\"inclusion\":[\"Age 18 to 75\",\"Type 2 diabetes\"],"
    "\"exclusion\":[\"Current insulin therapy\"]},"
    "\"criteria\":[{\"index\":1,\"kind\":\"inclusion\",\"met\":true},"
    "{\"index\":2,\"kind\":\"inclusion\",\"met\":true},"
    "{\"index\":3,\"kind\":\"exclusion\",\"met\":false}],"
    "\"eligible\":true}";

static void check_error(const char *from, const char *to, const char *expected, int line) {
    struct text example = replaced(BASE, from, to);
    struct text got = record_error_of(example.data);
    check_str(got.data, got.len, expected, __FILE__, line);
    text_free(&got);
    text_free(&example);
}

static void numbers_criteria_across_inclusion_then_exclusion(void) {
    struct arena arena = {0};
    struct record record;
    struct task_error error;
    CHECK(record_parse(slice_from(BASE), &arena, &record, &error));
    CHECK(record.criteria_len == 3);
    const char *texts[] = {"Age 18 to 75", "Type 2 diabetes", "Current insulin therapy"};
    const enum criterion_kind kinds[] = {KIND_INCLUSION, KIND_INCLUSION, KIND_EXCLUSION};
    const bool met[] = {true, true, false};
    for (size_t i = 0; i < 3; i++) {
        CHECK(record.criteria[i].index == i + 1);
        CHECK(record.criteria[i].kind == kinds[i]);
        CHECK(slice_eq(record.criteria[i].text, texts[i]));
        CHECK(record.criteria[i].met == met[i]);
    }
    CHECK(record.eligible);
    CHECK(slice_eq(record.title, "Drug X in type 2 diabetes"));
    arena_free(&arena);
}

static void rejects_records_whose_parts_disagree(void) {
    check_error("\"eligible\":true", "\"eligible\":false",
                "invalid /eligible: expected `true` (all inclusion criteria met and no "
                "exclusion criterion met), found `false`",
                __LINE__);
    check_error("\"index\":3,\"kind\":\"exclusion\"", "\"index\":3,\"kind\":\"inclusion\"",
                "invalid /criteria/2/kind: expected `exclusion`, found `inclusion`", __LINE__);
    check_error("\"index\":1,", "\"index\":0,",
                "invalid /criteria/0/index: expected `1` (criteria are numbered from 1, "
                "inclusion then exclusion, and listed in order), found `0`",
                __LINE__);
    check_error(",{\"index\":3,\"kind\":\"exclusion\",\"met\":false}", "",
                "invalid /criteria: expected 3 entries, one per criterion of the trial, found 2",
                __LINE__);
    /* `as_f64` accepts 1.0 for index 1, but not the string "1". */
    check_error("\"index\":1,", "\"index\":1.0,", "ok", __LINE__);
    check_error("\"index\":1,", "\"index\":\"1\",",
                "invalid /criteria/0/index: expected `1` (criteria are numbered from 1, "
                "inclusion then exclusion, and listed in order), found `1`",
                __LINE__);
    check_error("\"index\":1,", "\"index\":1e0,",
                "ok", __LINE__);
    check_error("\"index\":1,", "\"index\":null,",
                "invalid /criteria/0/index: expected `1` (criteria are numbered from 1, "
                "inclusion then exclusion, and listed in order), found null",
                __LINE__);
}

static void names_missing_and_mistyped_fields(void) {
    check_error("\"trial\":{\"id\":\"T-7\",\"title\":\"Drug X in type 2 diabetes\",",
                "\"trial\":5,\"x\":{", "invalid /trial: expected an object, found a number",
                __LINE__);
    check_error("\"trial\"", "\"trials\"", "missing /trial", __LINE__);
    check_error("\"title\"", "\"name\"", "missing /trial/title", __LINE__);
    check_error("\"title\":\"Drug X in type 2 diabetes\"", "\"title\":[]",
                "invalid /trial/title: expected a string, found an array", __LINE__);
    check_error("\"exclusion\":[\"Current insulin therapy\"]", "\"exclusion\":\"none\"",
                "invalid /trial/exclusion: expected an array, found a string", __LINE__);
    check_error("\"Type 2 diabetes\"", "\" \"",
                "invalid /trial/inclusion/1: expected a non-blank string, found a blank one",
                __LINE__);
    check_error("\"Type 2 diabetes\"", "true",
                "invalid /trial/inclusion/1: expected a string, found a boolean", __LINE__);
    check_error("\"inclusion\":[\"Age 18 to 75\",\"Type 2 diabetes\"],"
                "\"exclusion\":[\"Current insulin therapy\"]",
                "\"inclusion\":[],\"exclusion\":[]",
                "invalid /trial: expected at least one inclusion or exclusion criterion, found "
                "none",
                __LINE__);
    check_error("\"kind\":\"inclusion\",\"met\":true},{\"index\":3",
                "\"kind\":\"inclusion\"},{\"index\":3", "missing /criteria/1/met", __LINE__);
    check_error(",\"eligible\":true", "", "missing /eligible", __LINE__);
    check_error("\"eligible\":true", "\"eligible\":\"yes\"",
                "invalid /eligible: expected a boolean, found a string", __LINE__);
    check_error("\"patient\"", "\"patients\"", "missing /patient", __LINE__);
    check_error("\"patient\":\"58-year-old woman with type 2 diabetes; HbA1c 8.1%; no insulin.\"",
                "\"patient\":\"\\u3000\\n\"",
                "invalid /patient: expected a non-blank string, found a blank one", __LINE__);
    check_error("{\"index\":1,\"kind\":\"inclusion\",\"met\":true}", "[1]",
                "invalid /criteria/0: expected an object, found an array", __LINE__);
}

static void names_records_that_are_not_json_objects(void) {
    struct text got = record_error_of("[1]");
    CHECK_TEXT(got, "invalid-json: record: expected a JSON object, found an array");
    text_free(&got);
    got = record_error_of("{\"patient\": ");
    CHECK_TEXT(got, "invalid-json: record: EOF while parsing a value at line 1 column 12");
    text_free(&got);
}

void record_test(void) {
    numbers_criteria_across_inclusion_then_exclusion();
    rejects_records_whose_parts_disagree();
    names_missing_and_mistyped_fields();
    names_records_that_are_not_json_objects();
}
