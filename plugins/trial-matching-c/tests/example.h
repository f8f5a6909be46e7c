/* Helpers for tests that edit a record's JSON text and read a call's error. */
#ifndef TRIAL_MATCHING_EXAMPLE_H
#define TRIAL_MATCHING_EXAMPLE_H

#include "../src/text.h"

/* `base` with the first `from` replaced by `to` (aborts when `from` is absent). */
struct text replaced(const char *base, const char *from, const char *to);
/* "ok", "missing <field>", "invalid <field>: <reason>" or "invalid-json: <reason>" for
 * the record `example`. */
struct text record_error_of(const char *example);

#endif
