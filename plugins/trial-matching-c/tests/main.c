/* Runs every native test of the plugin's logic (no WebAssembly involved). */
#include <stdio.h>
#include <string.h>

#include "check.h"

int checks_passed = 0;
int checks_failed = 0;

void check_true(bool condition, const char *what, const char *file, int line) {
    if (condition) {
        checks_passed++;
    } else {
        checks_failed++;
        fprintf(stderr, "%s:%d: failed: %s\n", file, line, what);
    }
}

void check_str(const char *got, size_t got_len, const char *expected, const char *file,
               int line) {
    if (got == NULL) {
        got = "";
        got_len = 0;
    }
    if (got_len == (size_t)-1) {
        got_len = strlen(got);
    }
    if (got_len == strlen(expected) && memcmp(got, expected, got_len) == 0) {
        checks_passed++;
    } else {
        checks_failed++;
        fprintf(stderr, "%s:%d: expected\n  %s\ngot\n  %.*s\n", file, line, expected,
                (int)got_len, got);
    }
}

void check_f64(double got, double expected, const char *file, int line) {
    if (memcmp(&got, &expected, sizeof got) == 0) {
        checks_passed++;
    } else {
        checks_failed++;
        fprintf(stderr, "%s:%d: expected %.17g, got %.17g\n", file, line, expected, got);
    }
}

int main(void) {
    text_test();
    json_test();
    number_test();
    record_test();
    format_test();
    answer_test();
    rules_test();
    score_test();
    task_test();
    printf("%d passed, %d failed\n", checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}
