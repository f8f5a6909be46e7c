/* Failures; see task_error.h. */
#include "task_error.h"

void task_error_free(struct task_error *error) {
    text_free(&error->field);
    text_free(&error->reason);
}

void violation_free(struct violation *violation) {
    text_free(&violation->path);
    text_free(&violation->reason);
}
