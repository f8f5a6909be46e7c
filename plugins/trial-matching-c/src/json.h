/* JSON values, parsed exactly as `serde_json::from_str::<serde_json::Value>` (1.0.154,
 * default features) parses them, because the Rust plugin's verdicts depend on it:
 * - RFC 8259 only: no comments, trailing commas, leading zeros, NaN or lone surrogates;
 *   white space is space, tab, CR and LF; at most 127 nested arrays or objects;
 * - an integer is kept as u64 (or i64 when negative) while it fits, otherwise it and every
 *   number with a fraction or exponent becomes an f64 by serde_json's own arithmetic
 *   (significand times or divided by a power of ten, not correctly rounded), and a number
 *   too large for an f64 is an error; `-0` is the float -0.0;
 * - a repeated object key keeps its last value;
 * - errors carry serde_json's message, line and column.
 * Values live in the arena passed to `json_parse`. */
#ifndef TRIAL_MATCHING_JSON_H
#define TRIAL_MATCHING_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "text.h"

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

/* serde_json's `Number`: which of its three representations holds the value. */
enum json_number_kind { JSON_POS_INT, JSON_NEG_INT, JSON_FLOAT };

struct json_number {
    enum json_number_kind kind;
    union {
        uint64_t pos_int;
        int64_t neg_int;
        double float_value;
    };
};

struct json_value;

struct json_member {
    struct slice key;
    const struct json_value *value;
};

struct json_value {
    enum json_type type;
    union {
        bool boolean;
        struct json_number number;
        /* Valid UTF-8; may contain NUL. */
        struct slice string;
        struct {
            const struct json_value **items;
            size_t len;
        } array;
        /* In text order, repeated keys included; `json_get` finds the last. */
        struct {
            const struct json_member *members;
            size_t len;
        } object;
    };
};

struct json_error {
    /* serde_json's text, e.g. "expected value". */
    const char *message;
    size_t line;
    size_t column;
};

/* Parse all of `input` (valid UTF-8): the value, or NULL and `*error`. */
const struct json_value *json_parse(struct slice input, struct arena *arena,
                                    struct json_error *error);
/* "{message} at line {line} column {column}", as serde_json's `Error` displays. */
void json_push_error(struct text *text, const struct json_error *error);

/* The value of `key` in `object` (a JSON_OBJECT), or NULL when absent. */
const struct json_value *json_get(const struct json_value *object, const char *key);
/* `Value::as_f64`: the number as an f64, false for anything else. */
bool json_as_f64(const struct json_value *value, double *out);
/* The JSON type with an article, as the Rust SDK's `json_kind`: "a string", "null", … */
const char *json_kind(const struct json_value *value);
/* A value for an error message, as the Rust plugin's `describe`: strings and numbers in
 * backticks (numbers as serde_json displays them), null as `null`, others by kind. */
void json_push_described(struct text *text, const struct json_value *value);

#endif
