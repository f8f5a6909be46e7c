/* Task rules beyond the output schema, checked by `validate`, as the Rust plugin's
 * `rules.rs`.
 *
 * `validate` sees the prediction only, not the trial, so it checks what holds for every
 * trial, in this order:
 * 1. `criteria` lists at least one decision (every trial has a criterion);
 * 2. no index appears twice (`score` would keep only the first).
 *
 * Whether each index exists in the trial can only be judged with the record; `score`
 * ignores indices no criterion has and counts absent ones as wrong. */
#ifndef TRIAL_MATCHING_RULES_H
#define TRIAL_MATCHING_RULES_H

#include <stdbool.h>

#include "answer.h"
#include "task_error.h"

/* True when `answer` keeps every rule; otherwise the first broken one in `*violation`
 * (which the caller frees). */
bool rules_check(const struct answer *answer, struct violation *violation);

#endif
