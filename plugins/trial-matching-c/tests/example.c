/* Test helpers; see example.h. */
#include "example.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/record.h"

struct text replaced(const char *base, const char *from, const char *to) {
    const char *at = strstr(base, from);
    if (at == NULL) {
        fprintf(stderr, "test bug: `%s` not in `%s`\n", from, base);
        abort();
    }
    struct text text = {0};
    text_push(&text, base, (size_t)(at - base));
    text_push_str(&text, to);
    text_push_str(&text, at + strlen(from));
    return text;
}

struct text record_error_of(const char *example) {
    struct arena arena = {0};
    struct record record;
    struct task_error error;
    struct text out = {0};
    if (record_parse(slice_from(example), &arena, &record, &error)) {
        text_push_str(&out, "ok");
    } else {
        switch (error.kind) {
        case TASK_ERROR_MISSING_FIELD:
            text_push_str(&out, "missing ");
            text_push_slice(&out, text_slice(&error.field));
            break;
        case TASK_ERROR_INVALID_FIELD:
            text_push_str(&out, "invalid ");
            text_push_slice(&out, text_slice(&error.field));
            text_push_str(&out, ": ");
            text_push_slice(&out, text_slice(&error.reason));
            break;
        case TASK_ERROR_INVALID_JSON:
            text_push_str(&out, "invalid-json: ");
            text_push_slice(&out, text_slice(&error.reason));
            break;
        case TASK_ERROR_OTHER:
            text_push_str(&out, "other: ");
            text_push_slice(&out, text_slice(&error.reason));
            break;
        }
        task_error_free(&error);
    }
    arena_free(&arena);
    return out;
}
