/* A prediction's typed form, and the structural check that mirrors the declared schema
 * (schema.h), as the Rust plugin's `answer.rs`.
 *
 * `answer_from_value` accepts exactly the values the schema accepts. Uniqueness of
 * indices, which the schema cannot state, is a task rule (rules.h). */
#ifndef TRIAL_MATCHING_ANSWER_H
#define TRIAL_MATCHING_ANSWER_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "json.h"
#include "task_error.h"

/* One criterion decision. */
struct criterion_answer {
    /* An integer-valued number ≥ 1 (JSON Schema's `integer` admits `3.0`). */
    double index;
    bool met;
};

/* The model's answer for one patient and one trial. */
struct answer {
    bool eligible;
    /* In the order given; indices may repeat or be out of the trial's range. */
    const struct criterion_answer *criteria;
    size_t criteria_len;
};

/* Check `value` against the output schema and fill `*answer` (in `arena`), or fill
 * `*violation` (which the caller frees) with the first violation: at each object its
 * type, then missing keys in schema order, then the smallest unexpected key (byte
 * order), then each property in schema order; list items in index order. */
bool answer_from_value(const struct json_value *value, struct arena *arena,
                       struct answer *answer, struct violation *violation);

/* The decision for criterion `index`: the first entry that names it; false when none. */
bool answer_met(const struct answer *answer, uint32_t index, bool *met);

#endif
