/* See task.h. */
#include "task.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"

const char OUTPUT_SCHEMA[] = "{\"type\":\"object\",\"properties\":{\"label\":{\"type\":\"string\",\"minLength\":1}},"
                             "\"required\":[\"label\"],\"additionalProperties\":false}";
const char SYSTEM_PROMPT[] = "Read the clinical note and answer with its label as JSON: {\"label\": \"...\"}.";

static double exact_match(const char *predicted, const struct record *record) {
    return predicted != NULL && strcmp(predicted, record->label) == 0 ? 1.0 : 0.0;
}

const struct metric METRICS[] = {
    {"exact_match", true, "1 when the predicted label equals the record's, else 0", exact_match},
    /* A new metric: its function above, one more entry here. */
};
const size_t METRIC_COUNT = sizeof METRICS / sizeof METRICS[0];

/* One string field of the record into `*out`, or the error naming it. */
static bool field(const char *text, size_t len, const char *name, const char *pointer, char **out,
                  struct record_error *error) {
    switch (json_string_member(text, len, name, out)) {
    case JSON_FOUND:
        return true;
    case JSON_NOT_JSON:
        *error = (struct record_error){RECORD_INVALID_JSON, "", "not JSON"};
        return false;
    case JSON_NOT_OBJECT:
        *error = (struct record_error){RECORD_INVALID_JSON, "", "expected a JSON object"};
        return false;
    case JSON_MISSING:
        *error = (struct record_error){RECORD_MISSING_FIELD, pointer, "missing"};
        return false;
    case JSON_NOT_STRING:
        *error = (struct record_error){RECORD_INVALID_FIELD, pointer, "expected a string"};
        return false;
    }
    return false;
}

bool parse_record(const char *text, size_t len, struct record *record, struct record_error *error) {
    *record = (struct record){0};
    if (field(text, len, "note", "/note", &record->note, error) &&
        field(text, len, "label", "/label", &record->label, error)) {
        return true;
    }
    record_free(record);
    return false;
}

void record_free(struct record *record) {
    free(record->note);
    free(record->label);
    *record = (struct record){0};
}

char *target(const struct record *record) {
    char *label = json_quote(record->label);
    size_t size = strlen(label) + sizeof "{\"label\":}";
    char *completion = malloc(size);
    if (completion == NULL) {
        abort();
    }
    strcpy(completion, "{\"label\":");
    strcat(completion, label);
    strcat(completion, "}");
    free(label);
    return completion;
}

char *predicted_label(const char *prediction, size_t len) {
    char *label = NULL;
    return json_string_member(prediction, len, "label", &label) == JSON_FOUND ? label : NULL;
}

void score(const char *prediction, size_t len, const struct record *record, double *values) {
    char *label = predicted_label(prediction, len);
    for (size_t i = 0; i < METRIC_COUNT; i++) {
        values[i] = METRICS[i].compute(label, record);
    }
    free(label);
}

double mean(const double *values, size_t count) {
    double sum = 0.0;
    for (size_t i = 0; i < count; i++) {
        sum += values[i];
    }
    return count == 0 ? 0.0 : sum / (double)count;
}

double reward(const char *prediction, size_t len, const struct record *record) {
    char *label = predicted_label(prediction, len);
    double value = exact_match(label, record);
    free(label);
    return value;
}

const char *violation(const char *prediction, size_t len, const char **path) {
    char *label = predicted_label(prediction, len);
    if (label != NULL) {
        free(label);
        return NULL;
    }
    *path = "";
    return "expected a JSON object with a string \"label\"";
}
