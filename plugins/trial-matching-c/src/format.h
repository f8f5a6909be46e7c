/* Prompt and completion for one record, as the Rust plugin's `format.rs`:
 * - system: SYSTEM_PROMPT (a recipe may replace it);
 * - user: the patient, the trial title and the criteria, each labelled with its index in
 *   square brackets, numbered from 1 across inclusion then exclusion criteria (an empty
 *   list reads `(none)`):
 *
 *     Patient:
 *     <patient>
 *
 *     Trial: <title>
 *
 *     Inclusion criteria:
 *     [1] <inclusion 1>
 *     [2] <inclusion 2>
 *
 *     Exclusion criteria:
 *     [3] <exclusion 1>
 *
 * - completion: {"eligible":<bool>,"criteria":[{"index":1,"met":<bool>},…]}, compact,
 *   keys in this order, every criterion once in index order. */
#ifndef TRIAL_MATCHING_FORMAT_H
#define TRIAL_MATCHING_FORMAT_H

#include "record.h"
#include "text.h"

/* The default system prompt: what `met` and `eligible` mean, and the format. */
extern const char SYSTEM_PROMPT[];

/* The user message and the completion of `record`, owned by the caller. */
void format_example(const struct record *record, struct text *user, struct text *completion);

#endif
