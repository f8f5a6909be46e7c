/* `trial-matching-c`: decide, criterion by criterion, whether a patient is eligible for a
 * clinical trial, and score it as the n2c2 2018 cohort-selection track does. A C port of
 * the Rust plugin `plugins/trial-matching`, giving the same results bit for bit.
 *
 * The six functions of the WIT interface `rapha:task/task` (see PLUGINS.md for the
 * contract), in plain C: glue.c adapts them to the generated bindings. Every function is
 * pure and keeps no state between calls.
 *
 * Where to look: record.h (the dataset record), format.h (prompt and completion),
 * answer.h and schema.h (the output and its structural check), rules.h (what `validate`
 * adds), score.h (exact metric definitions), json.h (the serde_json-compatible parser). */
#ifndef TRIAL_MATCHING_TASK_H
#define TRIAL_MATCHING_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include "score.h"
#include "task_error.h"
#include "text.h"

#define TASK_ID "trial-matching-c"
#define TASK_VERSION "0.1.0"
#define TASK_DESCRIPTION                                                                    \
    "Decide each inclusion and exclusion criterion of a clinical trial for a patient, and " \
    "the patient's eligibility (C port of trial-matching)"
/* About 10 tokens per `{"index":12,"met":false},`: room for 36 criteria. */
#define TASK_MAX_NEW_TOKENS 384
/* A blank line cannot occur inside compact JSON, only in chatter after it. */
#define TASK_STOP "\n\n"

/* The prompt's user message and the target completion of the record `example`; the
 * system message is SYSTEM_PROMPT (format.h). False with `*error` for an unusable record. */
bool task_format_example(struct slice example, struct text *user, struct text *completion,
                         struct task_error *error);

/* Per-record metrics and counts of `prediction` against the record `example`. */
bool task_score(struct slice prediction, struct slice example, struct example_score *score,
                struct task_error *error);

/* A reward in [0, 1]: the criterion accuracy of a schema-valid prediction, else 0. */
bool task_reward(struct slice prediction, struct slice example, double *reward,
                 struct task_error *error);

/* Not JSON, then the structure, then the task rules: true, or the first violation. */
bool task_validate(struct slice prediction, struct violation *violation);

#endif
