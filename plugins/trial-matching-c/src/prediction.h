/* Reading a model's raw output as JSON, as the Rust SDK's `parse_prediction_json`:
 * surrounding white space is ignored, and so is one Markdown code fence around the value
 * (```json … ```), which chat models often add; anything else around it makes it invalid. */
#ifndef TRIAL_MATCHING_PREDICTION_H
#define TRIAL_MATCHING_PREDICTION_H

#include "arena.h"
#include "json.h"
#include "text.h"

/* The prediction's JSON value, or NULL when it is not JSON. */
const struct json_value *prediction_parse_json(struct slice prediction, struct arena *arena);

#endif
