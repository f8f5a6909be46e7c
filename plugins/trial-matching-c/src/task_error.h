/* The two kinds of failure a call reports, as the WIT `task-error` and `violation`. */
#ifndef TRIAL_MATCHING_TASK_ERROR_H
#define TRIAL_MATCHING_TASK_ERROR_H

#include "text.h"

/* The cases of the WIT variant `task-error`. */
enum task_error_kind {
    TASK_ERROR_INVALID_JSON,
    TASK_ERROR_MISSING_FIELD,
    TASK_ERROR_INVALID_FIELD,
    TASK_ERROR_OTHER,
};

/* A record the plugin cannot use. `field` is the JSON Pointer of a missing or invalid
 * field; `reason` the text of an invalid field, of invalid JSON or of `other`. */
struct task_error {
    enum task_error_kind kind;
    struct text field;
    struct text reason;
};

/* The first task rule a prediction breaks: where (a JSON Pointer) and what. */
struct violation {
    struct text path;
    struct text reason;
};

void task_error_free(struct task_error *error);
void violation_free(struct violation *violation);

#endif
