/* The `{{id}}` task plugin for rapha-host: the contract's glue around task.h.
 *
 * The contract, with an example of each function, is PLUGINS.md in the rapha-host
 * repository; the WIT files in `wit/` (from `rapha-host plugin wit`) are its reference, and
 * `task_plugin.h` (which build.sh generates with `rapha-host plugin bindings --lang c`)
 * declares these functions.
 *
 * Memory, as the generated bindings expect it: every argument belongs to the function,
 * which frees it (`task_plugin_string_free`, `exports_rapha_task_task_list_example_score_free`);
 * every string or list returned must be allocated with malloc, because the bindings free
 * it once the host has copied it.
 *
 * Keep every function pure (PLUGINS.md, "Determinism"): no state between calls, no clock,
 * no randomness. The plugin gets no I/O. */
#include <stdlib.h>
#include <string.h>

#include "task.h"
#include "task_plugin.h"

static void *checked_malloc(size_t size) {
    void *memory = malloc(size == 0 ? 1 : size);
    if (memory == NULL) {
        abort();
    }
    return memory;
}

static task_plugin_string_t copy(const char *text) {
    task_plugin_string_t string;
    task_plugin_string_dup(&string, text);
    return string;
}

/* A malloc'd NUL-terminated string handed to the bindings, which free it. */
static task_plugin_string_t own(char *text) {
    task_plugin_string_t string = {(uint8_t *)text, strlen(text)};
    if (string.len == 0) {
        free(text);
        string.ptr = NULL;
    }
    return string;
}

/* The record of `example` (which is freed), or the contract's error in `err`. */
static bool record(task_plugin_string_t *example, struct record *out, exports_rapha_task_task_task_error_t *err) {
    struct record_error error;
    bool ok = parse_record((const char *)example->ptr, example->len, out, &error);
    task_plugin_string_free(example);
    if (ok) {
        return true;
    }
    switch (error.problem) {
    case RECORD_INVALID_JSON:
        err->tag = RAPHA_TASK_TYPES_TASK_ERROR_INVALID_JSON;
        err->val.invalid_json = copy(error.reason);
        break;
    case RECORD_MISSING_FIELD:
        err->tag = RAPHA_TASK_TYPES_TASK_ERROR_MISSING_FIELD;
        err->val.missing_field = copy(error.field);
        break;
    case RECORD_INVALID_FIELD:
        err->tag = RAPHA_TASK_TYPES_TASK_ERROR_INVALID_FIELD;
        err->val.invalid_field.field = copy(error.field);
        err->val.invalid_field.reason = copy(error.reason);
        break;
    }
    return false;
}

/* `values[METRIC_COUNT]` as the contract's metric list, named in METRICS order. */
static rapha_task_types_list_metric_t metric_list(const double *values) {
    rapha_task_types_list_metric_t list = {checked_malloc(METRIC_COUNT * sizeof *list.ptr), METRIC_COUNT};
    for (size_t i = 0; i < METRIC_COUNT; i++) {
        list.ptr[i] = (rapha_task_types_metric_t){copy(METRICS[i].name), values[i]};
    }
    return list;
}

void exports_rapha_task_task_info(exports_rapha_task_task_task_info_t *ret) {
    rapha_task_types_list_metric_info_t metrics = {checked_malloc(METRIC_COUNT * sizeof *metrics.ptr), METRIC_COUNT};
    for (size_t i = 0; i < METRIC_COUNT; i++) {
        metrics.ptr[i] = (rapha_task_types_metric_info_t){
            .name = copy(METRICS[i].name),
            .higher_is_better = METRICS[i].higher_is_better,
            .description = copy(METRICS[i].description),
        };
    }
    *ret = (exports_rapha_task_task_task_info_t){
        .id = copy("{{id}}"),
        .version = copy("0.1.0"),
        .description = copy("Label a clinical note (the skeleton's task: replace it with yours)."),
        .metrics = metrics,
        .output_schema = copy(OUTPUT_SCHEMA),
        .generation = {.max_new_tokens = 32, .stop = {NULL, 0}},
        .system_prompt = copy(SYSTEM_PROMPT),
    };
}

bool exports_rapha_task_task_format_example(task_plugin_string_t *example,
                                            exports_rapha_task_task_formatted_example_t *ret,
                                            exports_rapha_task_task_task_error_t *err) {
    struct record parsed;
    if (!record(example, &parsed, err)) {
        return false;
    }
    rapha_task_types_list_message_t messages = {checked_malloc(sizeof *messages.ptr), 1};
    messages.ptr[0] = (rapha_task_types_message_t){RAPHA_TASK_TYPES_ROLE_USER, own(parsed.note)};
    parsed.note = NULL;
    *ret = (exports_rapha_task_task_formatted_example_t){messages, own(target(&parsed))};
    record_free(&parsed);
    return true;
}

bool exports_rapha_task_task_score(task_plugin_string_t *prediction, task_plugin_string_t *example,
                                   exports_rapha_task_task_example_score_t *ret,
                                   exports_rapha_task_task_task_error_t *err) {
    struct record parsed;
    if (!record(example, &parsed, err)) {
        task_plugin_string_free(prediction);
        return false;
    }
    double values[METRIC_COUNT];
    score((const char *)prediction->ptr, prediction->len, &parsed, values);
    task_plugin_string_free(prediction);
    record_free(&parsed);
    ret->metrics = metric_list(values);
    ret->counts = (rapha_task_types_list_count_t){NULL, 0};
    return true;
}

bool exports_rapha_task_task_aggregate(exports_rapha_task_task_list_example_score_t *scores,
                                       exports_rapha_task_task_list_metric_t *ret,
                                       exports_rapha_task_task_task_error_t *err) {
    (void)err;
    double means[METRIC_COUNT];
    double *values = checked_malloc(scores->len * sizeof *values);
    for (size_t m = 0; m < METRIC_COUNT; m++) {
        size_t found = 0;
        for (size_t s = 0; s < scores->len; s++) {
            const rapha_task_types_list_metric_t *metrics = &scores->ptr[s].metrics;
            for (size_t i = 0; i < metrics->len; i++) {
                const task_plugin_string_t *name = &metrics->ptr[i].name;
                if (name->len == strlen(METRICS[m].name) && memcmp(name->ptr, METRICS[m].name, name->len) == 0) {
                    values[found++] = metrics->ptr[i].value;
                }
            }
        }
        means[m] = mean(values, found);
    }
    free(values);
    exports_rapha_task_task_list_example_score_free(scores);
    rapha_task_types_list_metric_t list = metric_list(means);
    *ret = (exports_rapha_task_task_list_metric_t){list.ptr, list.len};
    return true;
}

bool exports_rapha_task_task_reward(task_plugin_string_t *prediction, task_plugin_string_t *example, double *ret,
                                    exports_rapha_task_task_task_error_t *err) {
    struct record parsed;
    if (!record(example, &parsed, err)) {
        task_plugin_string_free(prediction);
        return false;
    }
    *ret = reward((const char *)prediction->ptr, prediction->len, &parsed);
    task_plugin_string_free(prediction);
    record_free(&parsed);
    return true;
}

bool exports_rapha_task_task_validate(task_plugin_string_t *prediction, exports_rapha_task_task_violation_t *err) {
    const char *path = NULL;
    const char *reason = violation((const char *)prediction->ptr, prediction->len, &path);
    task_plugin_string_free(prediction);
    if (reason == NULL) {
        return true;
    }
    *err = (exports_rapha_task_task_violation_t){copy(path), copy(reason)};
    return false;
}
