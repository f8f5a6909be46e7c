/* Writing an f64 as text the way the Rust plugin's error messages do.
 *
 * Two notations, both from the shortest decimal digits that read back to the same f64:
 * - serde_json's `Number` display (the `zmij` crate): "1.0", "0.001", "1e+16", "-0.0";
 *   fixed notation for decimal exponents -5 to 15, otherwise "d.ddde±x";
 * - Rust's `{}` for `f64`: never an exponent, no ".0" ("3", "1000000000000000000000"). */
#ifndef TRIAL_MATCHING_NUMBER_H
#define TRIAL_MATCHING_NUMBER_H

#include "text.h"

/* `value` (finite) as serde_json displays a float `Number`. */
void number_push_json(struct text *text, double value);
/* `value` (finite) as Rust's `format!("{}", value)`. */
void number_push_display(struct text *text, double value);

#endif
