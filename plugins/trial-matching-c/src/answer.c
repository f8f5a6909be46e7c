/* The structural check of an answer; see answer.h. */
#include "answer.h"

#include <math.h>

/* Keys of the answer object and of one criterion decision, in schema order. */
static const char *const ANSWER_KEYS[] = {"eligible", "criteria"};
static const char *const CRITERION_KEYS[] = {"index", "met"};

static bool violated(struct violation *violation, struct text path, struct text reason) {
    *violation = (struct violation){.path = path, .reason = reason};
    return false;
}

static struct text expected_found(const char *what, const struct json_value *value) {
    struct text reason = text_from("expected ");
    text_push_str(&reason, what);
    text_push_str(&reason, ", found ");
    json_push_described(&reason, value);
    return reason;
}

static bool is_key(struct slice key, const char *const keys[2]) {
    return slice_eq(key, keys[0]) || slice_eq(key, keys[1]);
}

/* An object with exactly `keys` (all required, no others: the schema's `required` plus
 * `additionalProperties: false`). */
static bool object_with_keys(const struct json_value *value, const char *path,
                             const char *const keys[2], struct violation *violation) {
    if (value->type != JSON_OBJECT) {
        return violated(violation, text_from(path), expected_found("an object", value));
    }
    for (int k = 0; k < 2; k++) {
        if (json_get(value, keys[k]) == NULL) {
            return violated(violation, text_pointer(path, keys[k]), text_from("missing required key"));
        }
    }
    const struct slice *extra = NULL;
    for (size_t i = 0; i < value->object.len; i++) {
        const struct slice *key = &value->object.members[i].key;
        if (!is_key(*key, keys) && (extra == NULL || slice_cmp(*key, *extra) < 0)) {
            extra = key;
        }
    }
    if (extra == NULL) {
        return true;
    }
    struct text at = text_from(path);
    text_push_char(&at, '/');
    for (size_t i = 0; i < extra->len; i++) {
        char c = extra->ptr[i];
        if (c == '~') {
            text_push_str(&at, "~0");
        } else if (c == '/') {
            text_push_str(&at, "~1");
        } else {
            text_push_char(&at, c);
        }
    }
    struct text reason = text_from("unexpected key `");
    text_push_slice(&reason, *extra);
    text_push_str(&reason, "`: expected only `");
    text_push_str(&reason, keys[0]);
    text_push_str(&reason, "`, `");
    text_push_str(&reason, keys[1]);
    text_push_char(&reason, '`');
    return violated(violation, at, reason);
}

static bool boolean(const struct json_value *value, struct text path, bool *out,
                    struct violation *violation) {
    if (value->type != JSON_BOOL) {
        return violated(violation, path, expected_found("a boolean", value));
    }
    text_free(&path);
    *out = value->boolean;
    return true;
}

bool answer_from_value(const struct json_value *value, struct arena *arena,
                       struct answer *answer, struct violation *violation) {
    if (!object_with_keys(value, "", ANSWER_KEYS, violation) ||
        !boolean(json_get(value, "eligible"), text_from("/eligible"), &answer->eligible,
                 violation)) {
        return false;
    }
    const struct json_value *list = json_get(value, "criteria");
    if (list->type != JSON_ARRAY) {
        return violated(violation, text_from("/criteria"), expected_found("an array", list));
    }
    struct criterion_answer *criteria =
        arena_alloc(arena, list->array.len * sizeof *criteria);
    for (size_t i = 0; i < list->array.len; i++) {
        const struct json_value *item = list->array.items[i];
        struct text path = text_from("/criteria/");
        text_push_u64(&path, i);
        bool ok = object_with_keys(item, path.data, CRITERION_KEYS, violation);
        if (ok) {
            const struct json_value *index = json_get(item, "index");
            double number;
            if (!json_as_f64(index, &number) || !isfinite(number) ||
                number - trunc(number) != 0.0 || !(number >= 1.0)) {
                ok = violated(violation, text_pointer(path.data, "index"),
                              expected_found("an integer from 1", index));
            } else {
                criteria[i].index = number;
                ok = boolean(json_get(item, "met"), text_pointer(path.data, "met"), &criteria[i].met,
                             violation);
            }
        }
        text_free(&path);
        if (!ok) {
            return false;
        }
    }
    answer->criteria = criteria;
    answer->criteria_len = list->array.len;
    return true;
}

bool answer_met(const struct answer *answer, uint32_t index, bool *met) {
    for (size_t i = 0; i < answer->criteria_len; i++) {
        if (answer->criteria[i].index == (double)index) {
            *met = answer->criteria[i].met;
            return true;
        }
    }
    return false;
}
