/* The task itself, in plain C: no bindings, so tests/ compiles it natively (test.sh).
 *
 * The skeleton's task labels a clinical note (`{"id", "note", "label"}` records; the answer
 * is `{"label": "..."}`): small enough to read in a minute, complete enough to build, check
 * and score. Replace it with yours.
 *
 * To add a metric, write its function in task.c and add an entry to `METRICS`: `info`
 * declares it, `score` computes it for every record and `aggregate` averages it; nothing
 * else changes. Every string these functions return is allocated with malloc. */
#ifndef TASK_H
#define TASK_H

#include <stdbool.h>
#include <stddef.h>

extern const char OUTPUT_SCHEMA[];
extern const char SYSTEM_PROMPT[];

struct record {
    char *note;
    char *label;
};

enum record_problem { RECORD_INVALID_JSON, RECORD_MISSING_FIELD, RECORD_INVALID_FIELD };

/* Why a record cannot be used: `field` is a JSON Pointer, `reason` a static text. */
struct record_error {
    enum record_problem problem;
    const char *field;
    const char *reason;
};

/* A per-record metric: `compute(predicted_label, record)`, where the label is NULL when the
 * prediction is not a JSON object with a string `label`. */
struct metric {
    const char *name;
    bool higher_is_better;
    const char *description;
    double (*compute)(const char *predicted, const struct record *record);
};

extern const struct metric METRICS[];
extern const size_t METRIC_COUNT;

bool parse_record(const char *text, size_t len, struct record *record, struct record_error *error);
void record_free(struct record *record);
/* The completion a run trains on: the answer a perfect model gives. */
char *target(const struct record *record);
/* The prediction's label, or NULL when it is not `{"label": "..."}` JSON. */
char *predicted_label(const char *prediction, size_t len);
/* Every metric's value for one prediction into `values[METRIC_COUNT]`, in METRICS order. */
void score(const char *prediction, size_t len, const struct record *record, double *values);
/* The mean of `count` values (0 for none): what `aggregate` reports for each metric. */
double mean(const double *values, size_t count);
double reward(const char *prediction, size_t len, const struct record *record);
/* The first rule the prediction breaks, NULL for none; `*path` is its JSON Pointer. */
const char *violation(const char *prediction, size_t len, const char **path);

#endif
