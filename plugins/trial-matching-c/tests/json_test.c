/* json.c and number.c against serde_json's own outputs (serde_json_reference.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/json.h"
#include "../src/number.h"
#include "check.h"
#include "serde_json_reference.h"

/* The reference program's `describe`. */
static void describe(struct text *out, const struct json_value *value) {
    switch (value->type) {
    case JSON_ARRAY:
        text_push_str(out, "an array of ");
        text_push_u64(out, value->array.len);
        return;
    case JSON_OBJECT: {
        /* serde_json's map keeps one entry per key. */
        size_t distinct = 0;
        for (size_t i = 0; i < value->object.len; i++) {
            bool repeated = false;
            for (size_t j = i + 1; j < value->object.len; j++) {
                repeated = repeated ||
                           slice_cmp(value->object.members[i].key, value->object.members[j].key) == 0;
            }
            distinct += !repeated;
        }
        text_push_str(out, "an object of ");
        text_push_u64(out, distinct);
        const struct json_value *a = json_get(value, "a");
        if (a != NULL) {
            text_push_str(out, " a=");
            describe(out, a);
        }
        return;
    }
    default:
        json_push_described(out, value);
        return;
    }
}

static struct text outcome(struct slice input) {
    struct arena arena = {0};
    struct json_error error;
    const struct json_value *value = json_parse(input, &arena, &error);
    struct text out = {0};
    if (value == NULL) {
        text_push_str(&out, "err ");
        json_push_error(&out, &error);
    } else {
        text_push_str(&out, "ok ");
        describe(&out, value);
    }
    arena_free(&arena);
    return out;
}

static void parses_and_fails_as_serde_json_does(void) {
    for (size_t i = 0; i < sizeof PARSE_CASES / sizeof PARSE_CASES[0]; i++) {
        struct text got = outcome(slice_from(PARSE_CASES[i].input));
        CHECK_TEXT(got, PARSE_CASES[i].expected);
        text_free(&got);
    }
}

/* `depth` nested arrays, or objects `{"a":…}` around 1. */
static struct text nested(size_t depth, bool objects) {
    struct text text = {0};
    for (size_t i = 0; i < depth; i++) {
        text_push_str(&text, objects ? "{\"a\":" : "[");
    }
    if (objects) {
        text_push_char(&text, '1');
    }
    for (size_t i = 0; i < depth; i++) {
        text_push_char(&text, objects ? '}' : ']');
    }
    return text;
}

static void refuses_the_128th_nested_container(void) {
    struct text arrays = nested(127, false);
    struct text got = outcome(text_slice(&arrays));
    CHECK_TEXT(got, "ok an array of 1");
    text_free(&got);
    text_free(&arrays);
    arrays = nested(128, false);
    got = outcome(text_slice(&arrays));
    CHECK_TEXT(got, "err recursion limit exceeded at line 1 column 128");
    text_free(&got);
    text_free(&arrays);
    struct text objects = nested(128, true);
    got = outcome(text_slice(&objects));
    CHECK_TEXT(got, "err recursion limit exceeded at line 1 column 636");
    text_free(&got);
    text_free(&objects);
}

static void keeps_strings_with_nul_and_the_last_repeated_key(void) {
    struct arena arena = {0};
    struct json_error error;
    const struct json_value *value =
        json_parse(slice_from("{\"k\":\"a\\u0000b\",\"k\":\"x\\ty\"}"), &arena, &error);
    CHECK(value != NULL && value->type == JSON_OBJECT && value->object.len == 2);
    const struct json_value *k = json_get(value, "k");
    CHECK(k != NULL && k->type == JSON_STRING && k->string.len == 3 &&
          memcmp(k->string.ptr, "x\ty", 3) == 0);
    CHECK(value->object.members[0].value->string.len == 3);
    CHECK(json_get(value, "missing") == NULL);
    arena_free(&arena);
}

static void reads_numbers_as_serde_json_does(void) {
    struct arena arena = {0};
    struct json_error error;
    double f = 0.0;
    const struct json_value *value = json_parse(slice_from("3"), &arena, &error);
    CHECK(value->number.kind == JSON_POS_INT && json_as_f64(value, &f) && f == 3.0);
    value = json_parse(slice_from("-3"), &arena, &error);
    CHECK(value->number.kind == JSON_NEG_INT && json_as_f64(value, &f) && f == -3.0);
    value = json_parse(slice_from("-0"), &arena, &error);
    CHECK(value->number.kind == JSON_FLOAT && json_as_f64(value, &f) && signbit(f));
    value = json_parse(slice_from("\"3\""), &arena, &error);
    CHECK(!json_as_f64(value, &f));
    arena_free(&arena);
}

void json_test(void) {
    parses_and_fails_as_serde_json_does();
    refuses_the_128th_nested_container();
    keeps_strings_with_nul_and_the_last_repeated_key();
    reads_numbers_as_serde_json_does();
}

void number_test(void) {
    for (size_t i = 0; i < sizeof FLOAT_CASES / sizeof FLOAT_CASES[0]; i++) {
        struct text json = {0};
        number_push_json(&json, FLOAT_CASES[i].value);
        CHECK_TEXT(json, FLOAT_CASES[i].json);
        text_free(&json);
        struct text display = {0};
        number_push_display(&display, FLOAT_CASES[i].value);
        CHECK_TEXT(display, FLOAT_CASES[i].display);
        text_free(&display);
    }
}

void text_test(void) {
    /* U+3000, U+00A0 and U+2028 are Unicode white space, as for Rust's `str::trim`;
     * U+200B (zero width space) is not. */
    struct slice trimmed = slice_trim(slice_from("\xE3\x80\x80\xC2\xA0 a b\t\xE2\x80\xA8\n"));
    CHECK(trimmed.len == 3 && memcmp(trimmed.ptr, "a b", 3) == 0);
    trimmed = slice_trim(slice_from("\xE2\x80\x8B" "a"));
    CHECK(trimmed.len == 4);
    trimmed = slice_trim_end(slice_from("  a \xC2\x85"));
    CHECK(trimmed.len == 3);
    CHECK(slice_trim(slice_from(" \t\r\n")).len == 0);
    CHECK(slice_cmp(slice_from("ab"), slice_from("b")) < 0);
    CHECK(slice_cmp(slice_from("a"), slice_from("ab")) < 0);
    CHECK(slice_cmp(slice_from("\xC3\xA9"), slice_from("z")) > 0);
}
