/* Predictions as JSON; see prediction.h. */
#include "prediction.h"

const struct json_value *prediction_parse_json(struct slice prediction, struct arena *arena) {
    struct slice text = slice_trim(prediction);
    struct slice body = text;
    if (slice_strip_prefix(&body, "```") && slice_strip_suffix(&body, "```")) {
        slice_strip_prefix(&body, "json");
        text = slice_trim(body);
    }
    struct json_error ignored;
    return json_parse(text, arena, &ignored);
}
