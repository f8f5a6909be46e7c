/* Native tests of task.c and json.c (test.sh compiles them with the machine's C compiler):
 * no toolchain, no component. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json.h"
#include "../task.h"

static int failures;

#define CHECK(condition)                                                                                               \
    do {                                                                                                               \
        if (!(condition)) {                                                                                            \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #condition);                                  \
            failures++;                                                                                                \
        }                                                                                                              \
    } while (0)

static struct record urgent(void) {
    struct record record;
    struct record_error error;
    const char *text = "{\"id\": \"x\", \"note\": \"Chest pain.\", \"label\": \"urgent\"}";
    if (!parse_record(text, strlen(text), &record, &error)) {
        abort();
    }
    return record;
}

static double exact_match(const char *prediction, const struct record *record) {
    double values[METRIC_COUNT];
    score(prediction, strlen(prediction), record, values);
    for (size_t i = 0; i < METRIC_COUNT; i++) {
        if (strcmp(METRICS[i].name, "exact_match") == 0) {
            return values[i];
        }
    }
    abort();
}

static void the_target_is_the_records_label_as_json(void) {
    struct record record = urgent();
    char *completion = target(&record);
    CHECK(strcmp(completion, "{\"label\":\"urgent\"}") == 0);
    CHECK(strcmp(record.note, "Chest pain.") == 0);
    free(completion);
    record_free(&record);
}

static void a_record_without_a_label_names_the_field(void) {
    struct record record;
    struct record_error error;
    const char *missing = "{\"id\": \"x\", \"note\": \"text\"}";
    CHECK(!parse_record(missing, strlen(missing), &record, &error));
    CHECK(error.problem == RECORD_MISSING_FIELD && strcmp(error.field, "/label") == 0);
    CHECK(!parse_record("note: text", 10, &record, &error));
    CHECK(error.problem == RECORD_INVALID_JSON);
}

static void exact_match_is_one_only_for_the_records_label(void) {
    struct record record = urgent();
    char *completion = target(&record);
    CHECK(exact_match(completion, &record) == 1.0);
    CHECK(exact_match("{\"label\": \"routine\"}", &record) == 0.0);
    CHECK(exact_match("urgent", &record) == 0.0);
    CHECK(reward(completion, strlen(completion), &record) == 1.0);
    free(completion);
    record_free(&record);
}

static void validate_passes_the_target_only(void) {
    const char *path = NULL;
    CHECK(violation("{\"label\":\"urgent\"}", 18, &path) == NULL);
    CHECK(violation("[]", 2, &path) != NULL && strcmp(path, "") == 0);
}

static void json_reads_escapes_and_refuses_what_is_not_json(void) {
    char *value = NULL;
    const char *text = "{\"label\": 1, \"label\": \"caf\\u00e9 \\ud83d\\ude00\\n\"}";
    CHECK(json_string_member(text, strlen(text), "label", &value) == JSON_FOUND);
    CHECK(value != NULL && strcmp(value, "caf\xc3\xa9 \xf0\x9f\x98\x80\n") == 0);
    free(value);
    const char *broken[] = {"{\"label\": \"a\"", "{\"label\": \"a\"} x", "{\"label\": 01}", "{\"a\": [1,]}"};
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        CHECK(json_string_member(broken[i], strlen(broken[i]), "label", &value) == JSON_NOT_JSON);
    }
    CHECK(json_string_member("[1]", 3, "label", &value) == JSON_NOT_OBJECT);
    CHECK(json_string_member("{\"label\": null}", 15, "label", &value) == JSON_NOT_STRING);
    char *quoted = json_quote("a\"b\\\n");
    CHECK(strcmp(quoted, "\"a\\\"b\\\\\\u000a\"") == 0);
    free(quoted);
}

static void aggregate_is_each_metrics_mean(void) {
    double values[] = {1.0, 0.0};
    CHECK(mean(values, 2) == 0.5);
    CHECK(mean(values, 0) == 0.0);
}

int main(void) {
    the_target_is_the_records_label_as_json();
    a_record_without_a_label_names_the_field();
    exact_match_is_one_only_for_the_records_label();
    validate_passes_the_target_only();
    json_reads_escapes_and_refuses_what_is_not_json();
    aggregate_is_each_metrics_mean();
    if (failures > 0) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("task tests passed (%zu metrics)\n", METRIC_COUNT);
    return 0;
}
