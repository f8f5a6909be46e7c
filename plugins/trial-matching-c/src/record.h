/* A dataset record:
 *
 *   {"id": "tm-1",
 *    "patient": "free-text description of the patient",
 *    "trial": {"id": "T-01", "title": "…", "inclusion": ["…"], "exclusion": ["…"]},
 *    "criteria": [{"index": 1, "kind": "inclusion", "met": true}, …],
 *    "eligible": true}
 *
 * Criteria are numbered from 1 across the inclusion list, then the exclusion list.
 * `criteria` lists one entry per criterion, in index order, and its `kind` must agree with
 * that numbering. `met` is true when the criterion's statement is true of the patient; for
 * an exclusion criterion that means the exclusion applies. `eligible` must be true exactly
 * when every inclusion criterion is met and no exclusion criterion is. Checking all this
 * here catches a generator bug before it becomes a training target. `id` and `trial.id`
 * are not read. The checks, their order and their messages are those of the Rust
 * plugin's `record.rs`. */
#ifndef TRIAL_MATCHING_RECORD_H
#define TRIAL_MATCHING_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "json.h"
#include "task_error.h"

/* Which list a criterion comes from. */
enum criterion_kind { KIND_INCLUSION, KIND_EXCLUSION };

/* One criterion of the trial with its gold decision. */
struct criterion {
    /* From 1, across inclusion then exclusion. */
    uint32_t index;
    enum criterion_kind kind;
    struct slice text;
    bool met;
};

/* The fields of a record that the task uses; they borrow from the parsed example. */
struct record {
    struct slice patient;
    struct slice title;
    /* Every criterion, in index order (at least one). */
    const struct criterion *criteria;
    size_t criteria_len;
    bool eligible;
};

/* Parse the record's JSON text into `*record` (in `arena`), or fill `*error` (which the
 * caller frees) and return false: not a JSON object, or the first unusable field. */
bool record_parse(struct slice example, struct arena *arena, struct record *record,
                  struct task_error *error);

#endif
