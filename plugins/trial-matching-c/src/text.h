/* Growable byte strings, and the white-space trimming of Rust's `str::trim`.
 *
 * Every text this plugin produces (prompts, completions, error messages) is built in a
 * `struct text`, whose malloc'd bytes the WIT glue hands to the host as they are.
 * Out of memory aborts, which traps the call: the host then replaces the instance. */
#ifndef TRIAL_MATCHING_TEXT_H
#define TRIAL_MATCHING_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A byte string that is not owned, not NUL-terminated and may contain NUL. */
struct slice {
    const char *ptr;
    size_t len;
};

/* A growable, owned byte string, kept NUL-terminated for convenience. */
struct text {
    char *data;
    size_t len;
    size_t cap;
};

struct slice slice_from(const char *nul_terminated);
bool slice_eq(struct slice a, const char *nul_terminated);
bool slice_equal(struct slice a, struct slice b);
/* Byte-wise comparison, as Rust orders `str`: negative, zero or positive. */
int slice_cmp(struct slice a, struct slice b);
/* `text` less the Unicode White_Space on both ends, as Rust's `str::trim`. */
struct slice slice_trim(struct slice text);
/* `text` less the Unicode White_Space at its end, as Rust's `str::trim_end`. */
struct slice slice_trim_end(struct slice text);
bool slice_strip_prefix(struct slice *text, const char *prefix);
bool slice_strip_suffix(struct slice *text, const char *suffix);

void text_push(struct text *text, const char *bytes, size_t len);
void text_push_slice(struct text *text, struct slice slice);
void text_push_str(struct text *text, const char *nul_terminated);
void text_push_char(struct text *text, char c);
void text_push_u64(struct text *text, uint64_t value);
void text_push_i64(struct text *text, int64_t value);
struct slice text_slice(const struct text *text);
void text_free(struct text *text);
/* A NUL-terminated copy of `nul_terminated` into a new text. */
struct text text_from(const char *nul_terminated);
/* `parent/key` as a JSON Pointer; `key` needs no escaping. */
struct text text_pointer(const char *parent, const char *key);

/* Allocation that aborts (traps) instead of returning NULL. */
void *checked_malloc(size_t size);
void *checked_realloc(void *ptr, size_t size);

#endif
