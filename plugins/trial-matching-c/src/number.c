/* f64 to text; see number.h. */
#include "number.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The shortest decimal digits of `value` (finite, > 0) that read back as `value`, and the
 * decimal exponent of the first digit. The correctly rounded `%.*e` of the fewest digits
 * that round-trips is the shortest representation closest to `value`, which is what the
 * Schubfach-family printers of Rust and serde_json produce. */
static size_t shortest_digits(double value, char digits[18], int *exponent) {
    char printed[40];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(printed, sizeof printed, "%.*e", precision - 1, value);
        if (strtod(printed, NULL) == value || precision == 17) {
            break;
        }
    }
    size_t count = 0;
    const char *p = printed;
    for (; *p != 'e'; p++) {
        if (*p >= '0' && *p <= '9') {
            digits[count++] = *p;
        }
    }
    while (count > 1 && digits[count - 1] == '0') {
        count--;
    }
    digits[count] = '\0';
    *exponent = atoi(p + 1);
    return count;
}

static void push_zeros(struct text *text, int count) {
    for (int i = 0; i < count; i++) {
        text_push_char(text, '0');
    }
}

void number_push_json(struct text *text, double value) {
    if (signbit(value)) {
        text_push_char(text, '-');
        value = -value;
    }
    if (value == 0.0) {
        text_push_str(text, "0.0");
        return;
    }
    char digits[18];
    int exponent;
    int count = (int)shortest_digits(value, digits, &exponent);
    if (exponent >= -5 && exponent <= 15) {
        if (count - 1 <= exponent) {
            text_push(text, digits, (size_t)count);
            push_zeros(text, exponent - (count - 1));
            text_push_str(text, ".0");
        } else if (exponent >= 0) {
            text_push(text, digits, (size_t)exponent + 1);
            text_push_char(text, '.');
            text_push(text, digits + exponent + 1, (size_t)(count - exponent - 1));
        } else {
            text_push_str(text, "0.");
            push_zeros(text, -exponent - 1);
            text_push(text, digits, (size_t)count);
        }
        return;
    }
    text_push_char(text, digits[0]);
    if (count > 1) {
        text_push_char(text, '.');
        text_push(text, digits + 1, (size_t)count - 1);
    }
    text_push_str(text, exponent >= 0 ? "e+" : "e-");
    text_push_u64(text, (uint64_t)(exponent >= 0 ? exponent : -exponent));
}

void number_push_display(struct text *text, double value) {
    if (signbit(value)) {
        text_push_char(text, '-');
        value = -value;
    }
    if (value == 0.0) {
        text_push_char(text, '0');
        return;
    }
    char digits[18];
    int exponent;
    int count = (int)shortest_digits(value, digits, &exponent);
    if (exponent < 0) {
        text_push_str(text, "0.");
        push_zeros(text, -exponent - 1);
        text_push(text, digits, (size_t)count);
    } else if (count - 1 <= exponent) {
        text_push(text, digits, (size_t)count);
        push_zeros(text, exponent - (count - 1));
    } else {
        text_push(text, digits, (size_t)exponent + 1);
        text_push_char(text, '.');
        text_push(text, digits + exponent + 1, (size_t)(count - exponent - 1));
    }
}
