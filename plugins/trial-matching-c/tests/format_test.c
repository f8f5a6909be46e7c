/* format.c: the Rust plugin's format tests. */
#include <string.h>

#include "../src/format.h"
#include "check.h"

static const char EXAMPLE[] =
    "{\"id\":\"tm-2\",\"patient\":\"70M, COPD, on home oxygen.\","
    "\"trial\":{\"id\":\"T-9\",\"title\":\"Rehab in COPD\","
    "\"inclusion\":[\"Diagnosis of COPD\",\"Age over 40\"],\"exclusion\":[\"Home oxygen\"]},"
    "\"criteria\":[{\"index\":1,\"kind\":\"inclusion\",\"met\":true},"
    "{\"index\":2,\"kind\":\"inclusion\",\"met\":true},"
    "{\"index\":3,\"kind\":\"exclusion\",\"met\":true}],\"eligible\":false}";

static const char NO_EXCLUSION[] =
    "{\"id\":\"tm-2\",\"patient\":\"70M, COPD, on home oxygen.\\n\",\"trial\":{\"id\":\"T-9\","
    "\"title\":\"Rehab in COPD\",\"inclusion\":[\"Diagnosis of COPD\",\"Age over 40\"],"
    "\"exclusion\":[]},\"criteria\":[{\"index\":1,\"kind\":\"inclusion\",\"met\":true},"
    "{\"index\":2,\"kind\":\"inclusion\",\"met\":false}],\"eligible\":false}";

static void format(const char *example, struct text *user, struct text *completion) {
    struct arena arena = {0};
    struct record record;
    struct task_error error;
    *user = (struct text){0};
    *completion = (struct text){0};
    bool usable = record_parse(slice_from(example), &arena, &record, &error);
    CHECK(usable);
    if (usable) {
        format_example(&record, user, completion);
    } else {
        task_error_free(&error);
    }
    arena_free(&arena);
}

static void shows_every_index_and_writes_a_compact_target(void) {
    struct text user;
    struct text completion;
    format(EXAMPLE, &user, &completion);
    CHECK_TEXT(user, "Patient:\n70M, COPD, on home oxygen.\n\nTrial: Rehab in COPD\n\n"
                     "Inclusion criteria:\n[1] Diagnosis of COPD\n[2] Age over 40\n\n"
                     "Exclusion criteria:\n[3] Home oxygen");
    CHECK_TEXT(completion, "{\"eligible\":false,\"criteria\":[{\"index\":1,\"met\":true},"
                           "{\"index\":2,\"met\":true},{\"index\":3,\"met\":true}]}");
    text_free(&user);
    text_free(&completion);
}

static void an_empty_list_reads_none(void) {
    struct text user;
    struct text completion;
    format(NO_EXCLUSION, &user, &completion);
    CHECK_TEXT(user, "Patient:\n70M, COPD, on home oxygen.\n\n\nTrial: Rehab in COPD\n\n"
                     "Inclusion criteria:\n[1] Diagnosis of COPD\n[2] Age over 40\n\n"
                     "Exclusion criteria:\n(none)");
    text_free(&user);
    text_free(&completion);
}

void format_test(void) {
    shows_every_index_and_writes_a_compact_target();
    an_empty_list_reads_none();
}
