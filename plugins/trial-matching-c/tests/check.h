/* A minimal test harness: each CHECK records a pass or prints the failure with the value
 * it got; main.c prints "N passed, N failed" and exits non-zero on any failure. */
#ifndef TRIAL_MATCHING_CHECK_H
#define TRIAL_MATCHING_CHECK_H

#include <stdbool.h>
#include <stddef.h>

extern int checks_passed;
extern int checks_failed;

void check_true(bool condition, const char *what, const char *file, int line);
void check_str(const char *got, size_t got_len, const char *expected, const char *file,
               int line);
void check_f64(double got, double expected, const char *file, int line);

#define CHECK(condition) check_true((condition), #condition, __FILE__, __LINE__)
/* A NUL-terminated or length-delimited text equal to `expected`. */
#define CHECK_STR(got, expected) check_str((got), (size_t)-1, (expected), __FILE__, __LINE__)
#define CHECK_TEXT(text, expected) \
    check_str((text).data, (text).len, (expected), __FILE__, __LINE__)
/* Bit-equal f64 values (so -0.0 differs from 0.0). */
#define CHECK_F64(got, expected) check_f64((got), (expected), __FILE__, __LINE__)
/* Within 1e-12, for ratios that tests state as fractions. */
#define CHECK_NEAR(got, expected) \
    check_true(fabs((got) - (expected)) < 1e-12, #got " near " #expected, __FILE__, __LINE__)

void json_test(void);
void number_test(void);
void text_test(void);
void record_test(void);
void format_test(void);
void answer_test(void);
void rules_test(void);
void score_test(void);
void task_test(void);

#endif
