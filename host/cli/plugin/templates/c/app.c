/* The `{{id}}` task plugin for rapha-host.
 *
 * Every function of the contract is here: `info` is a valid declaration to edit, and the
 * others fail with "not implemented" until you fill them in. The contract, with an example
 * of each function, is PLUGINS.md in the rapha-host repository; the WIT files in `wit/`
 * (from `rapha-host plugin wit`) are its reference, and `task_plugin.h` (which build.sh
 * generates with `rapha-host plugin bindings --lang c`) declares these functions.
 *
 * Memory, as the generated bindings expect it: every argument belongs to the function,
 * which frees it (`task_plugin_string_free`, `exports_rapha_task_task_list_example_score_free`);
 * every string or list returned must be allocated with malloc (`task_plugin_string_dup`
 * does it), because the bindings free it once the host has copied it.
 *
 * Keep every function pure (PLUGINS.md, "Determinism"): no state between calls, no clock,
 * no randomness. The plugin gets no I/O. Records and predictions arrive as JSON text: parse
 * them with your own code or a small parser compiled in. */
#include <stdlib.h>

#include "task_plugin.h"

/* The error every unfinished function returns, naming itself. */
static void not_implemented(const char *message, exports_rapha_task_task_task_error_t *err) {
    err->tag = RAPHA_TASK_TYPES_TASK_ERROR_OTHER;
    task_plugin_string_dup(&err->val.other, message);
}

void exports_rapha_task_task_info(exports_rapha_task_task_task_info_t *ret) {
    rapha_task_types_list_metric_info_t metrics = {malloc(sizeof *metrics.ptr), 1};
    if (metrics.ptr == NULL) {
        abort();
    }
    task_plugin_string_dup(&metrics.ptr[0].name, "placeholder");
    metrics.ptr[0].higher_is_better = true;
    task_plugin_string_dup(&metrics.ptr[0].description, "Replace with the task's metrics.");
    task_plugin_string_dup(&ret->id, "{{id}}");
    task_plugin_string_dup(&ret->version, "0.1.0");
    task_plugin_string_dup(&ret->description, "Describe the task in one line.");
    ret->metrics = metrics;
    task_plugin_string_dup(&ret->output_schema, "{\"type\":\"string\"}");
    ret->generation.max_new_tokens = 256;
    ret->generation.stop = (task_plugin_list_string_t){NULL, 0};
    task_plugin_string_dup(&ret->system_prompt, "Describe what the model should do.");
}

bool exports_rapha_task_task_format_example(task_plugin_string_t *example,
                                            exports_rapha_task_task_formatted_example_t *ret,
                                            exports_rapha_task_task_task_error_t *err) {
    (void)ret;
    task_plugin_string_free(example);
    not_implemented("not implemented: fill in `format_example` in app.c", err);
    return false;
}

bool exports_rapha_task_task_score(task_plugin_string_t *prediction,
                                   task_plugin_string_t *example,
                                   exports_rapha_task_task_example_score_t *ret,
                                   exports_rapha_task_task_task_error_t *err) {
    (void)ret;
    task_plugin_string_free(prediction);
    task_plugin_string_free(example);
    not_implemented("not implemented: fill in `score` in app.c", err);
    return false;
}

bool exports_rapha_task_task_aggregate(exports_rapha_task_task_list_example_score_t *scores,
                                       exports_rapha_task_task_list_metric_t *ret,
                                       exports_rapha_task_task_task_error_t *err) {
    (void)ret;
    exports_rapha_task_task_list_example_score_free(scores);
    not_implemented("not implemented: fill in `aggregate` in app.c", err);
    return false;
}

bool exports_rapha_task_task_reward(task_plugin_string_t *prediction,
                                    task_plugin_string_t *example, double *ret,
                                    exports_rapha_task_task_task_error_t *err) {
    (void)ret;
    task_plugin_string_free(prediction);
    task_plugin_string_free(example);
    not_implemented("not implemented: fill in `reward` in app.c", err);
    return false;
}

bool exports_rapha_task_task_validate(task_plugin_string_t *prediction,
                                      exports_rapha_task_task_violation_t *err) {
    task_plugin_string_free(prediction);
    err->path = (task_plugin_string_t){NULL, 0};
    task_plugin_string_dup(&err->reason, "not implemented: fill in `validate` in app.c");
    return false;
}
