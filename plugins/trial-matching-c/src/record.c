/* Reading and cross-checking a record; see record.h. */
#include "record.h"

static const char *kind_name(enum criterion_kind kind) {
    return kind == KIND_INCLUSION ? "inclusion" : "exclusion";
}

static bool missing(struct task_error *error, struct text field) {
    *error = (struct task_error){.kind = TASK_ERROR_MISSING_FIELD, .field = field};
    return false;
}

static bool invalid(struct task_error *error, struct text field, struct text reason) {
    *error = (struct task_error){.kind = TASK_ERROR_INVALID_FIELD, .field = field,
                                 .reason = reason};
    return false;
}

/* "expected <what>, found <kind of value>". */
static struct text expected_found(const char *what, const struct json_value *value) {
    struct text reason = text_from("expected ");
    text_push_str(&reason, what);
    text_push_str(&reason, ", found ");
    text_push_str(&reason, json_kind(value));
    return reason;
}

static bool non_blank(struct slice text, struct text path, struct task_error *error) {
    if (slice_trim(text).len == 0) {
        return invalid(error, path,
                       text_from("expected a non-blank string, found a blank one"));
    }
    text_free(&path);
    return true;
}

/* A required string field of `parent` (whose pointer is `at`). */
static bool required_str(const struct json_value *parent, const char *key, const char *at,
                         struct slice *out, struct task_error *error) {
    const struct json_value *value = json_get(parent, key);
    if (value == NULL) {
        return missing(error, text_pointer(at, key));
    }
    if (value->type != JSON_STRING) {
        return invalid(error, text_pointer(at, key), expected_found("a string", value));
    }
    *out = value->string;
    return non_blank(*out, text_pointer(at, key), error);
}

static bool typed(const struct json_value *parent, const char *key, const char *at,
                  enum json_type type, const char *what, const struct json_value **out,
                  struct task_error *error) {
    const struct json_value *value = json_get(parent, key);
    if (value == NULL) {
        return missing(error, text_pointer(at, key));
    }
    if (value->type != type) {
        return invalid(error, text_pointer(at, key), expected_found(what, value));
    }
    *out = value;
    return true;
}

static struct text indexed(const char *parent, size_t i, const char *key) {
    struct text path = text_from(parent);
    text_push_char(&path, '/');
    text_push_u64(&path, i);
    if (key != NULL) {
        text_push_char(&path, '/');
        text_push_str(&path, key);
    }
    return path;
}

/* Entry `j` of `criteria`: {"index": j + 1, "kind": <kind>, "met": bool}. */
static bool read_criterion(size_t j, const struct json_value *entry, struct criterion *out,
                           struct task_error *error) {
    if (entry->type != JSON_OBJECT) {
        return invalid(error, indexed("/criteria", j, NULL), expected_found("an object", entry));
    }
    out->index = (uint32_t)(j + 1);
    const struct json_value *given = json_get(entry, "index");
    if (given == NULL) {
        return missing(error, indexed("/criteria", j, "index"));
    }
    double number;
    if (!json_as_f64(given, &number) || number != (double)out->index) {
        struct text reason = text_from("expected `");
        text_push_u64(&reason, out->index);
        text_push_str(&reason, "` (criteria are numbered from 1, inclusion then exclusion, "
                               "and listed in order), found ");
        json_push_described(&reason, given);
        return invalid(error, indexed("/criteria", j, "index"), reason);
    }
    given = json_get(entry, "kind");
    if (given == NULL) {
        return missing(error, indexed("/criteria", j, "kind"));
    }
    if (given->type != JSON_STRING || !slice_eq(given->string, kind_name(out->kind))) {
        struct text reason = text_from("expected `");
        text_push_str(&reason, kind_name(out->kind));
        text_push_str(&reason, "`, found ");
        json_push_described(&reason, given);
        return invalid(error, indexed("/criteria", j, "kind"), reason);
    }
    given = json_get(entry, "met");
    if (given == NULL) {
        return missing(error, indexed("/criteria", j, "met"));
    }
    if (given->type != JSON_BOOL) {
        return invalid(error, indexed("/criteria", j, "met"), expected_found("a boolean", given));
    }
    out->met = given->boolean;
    return true;
}

/* The record as a JSON object, as the Rust SDK's `parse_example`. */
static bool parse_example(struct slice text, struct arena *arena,
                          const struct json_value **out, struct task_error *error) {
    struct json_error json_error;
    const struct json_value *value = json_parse(text, arena, &json_error);
    struct text reason = text_from("record: ");
    if (value == NULL) {
        json_push_error(&reason, &json_error);
    } else if (value->type != JSON_OBJECT) {
        text_push_str(&reason, "expected a JSON object, found ");
        text_push_str(&reason, json_kind(value));
    } else {
        text_free(&reason);
        *out = value;
        return true;
    }
    *error = (struct task_error){.kind = TASK_ERROR_INVALID_JSON, .reason = reason};
    return false;
}

bool record_parse(struct slice text, struct arena *arena, struct record *record,
                  struct task_error *error) {
    const struct json_value *example;
    if (!parse_example(text, arena, &example, error) ||
        !required_str(example, "patient", "", &record->patient, error)) {
        return false;
    }
    const struct json_value *trial;
    if (!typed(example, "trial", "", JSON_OBJECT, "an object", &trial, error) ||
        !required_str(trial, "title", "/trial", &record->title, error)) {
        return false;
    }
    const struct json_value *lists[2];
    size_t total = 0;
    for (int k = 0; k < 2; k++) {
        const char *field = kind_name((enum criterion_kind)k);
        if (!typed(trial, field, "/trial", JSON_ARRAY, "an array", &lists[k], error)) {
            return false;
        }
        struct text at = text_pointer("/trial", field);
        for (size_t i = 0; i < lists[k]->array.len; i++) {
            const struct json_value *item = lists[k]->array.items[i];
            bool ok = item->type == JSON_STRING
                          ? non_blank(item->string, indexed(at.data, i, NULL), error)
                          : invalid(error, indexed(at.data, i, NULL),
                                    expected_found("a string", item));
            if (!ok) {
                text_free(&at);
                return false;
            }
        }
        text_free(&at);
        total += lists[k]->array.len;
    }
    if (total == 0) {
        return invalid(
            error, text_from("/trial"),
            text_from("expected at least one inclusion or exclusion criterion, found none"));
    }
    const struct json_value *gold;
    if (!typed(example, "criteria", "", JSON_ARRAY, "an array", &gold, error)) {
        return false;
    }
    if (gold->array.len != total) {
        struct text reason = text_from("expected ");
        text_push_u64(&reason, total);
        text_push_str(&reason, " entries, one per criterion of the trial, found ");
        text_push_u64(&reason, gold->array.len);
        return invalid(error, text_from("/criteria"), reason);
    }
    struct criterion *criteria = arena_alloc(arena, total * sizeof *criteria);
    size_t j = 0;
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < lists[k]->array.len; i++, j++) {
            criteria[j].kind = (enum criterion_kind)k;
            criteria[j].text = lists[k]->array.items[i]->string;
            if (!read_criterion(j, gold->array.items[j], &criteria[j], error)) {
                return false;
            }
        }
    }
    record->criteria = criteria;
    record->criteria_len = total;
    const struct json_value *eligible = json_get(example, "eligible");
    if (eligible == NULL) {
        return missing(error, text_from("/eligible"));
    }
    if (eligible->type != JSON_BOOL) {
        return invalid(error, text_from("/eligible"), expected_found("a boolean", eligible));
    }
    record->eligible = eligible->boolean;
    bool implied = true;
    for (size_t c = 0; c < total; c++) {
        implied = implied && criteria[c].met == (criteria[c].kind == KIND_INCLUSION);
    }
    if (record->eligible != implied) {
        struct text reason = text_from("expected `");
        text_push_str(&reason, implied ? "true" : "false");
        text_push_str(&reason, "` (all inclusion criteria met and no exclusion criterion met), "
                               "found `");
        text_push_str(&reason, record->eligible ? "true" : "false");
        text_push_char(&reason, '`');
        return invalid(error, text_from("/eligible"), reason);
    }
    return true;
}
