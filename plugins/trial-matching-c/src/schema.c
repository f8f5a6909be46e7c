/* The output JSON Schema (draft 2020-12) that `info` declares, byte for byte the Rust
 * plugin's `schema.rs`.
 *
 * Strict structure only. That indices are unique is a task rule (rules.h); that they stay
 * within the trial's range needs the record, so `score` ignores an index no criterion
 * has. `answer_from_value` (answer.h) mirrors this text. */
#include "schema.h"

const char OUTPUT_SCHEMA[] =
    "{\n"
    "  \"$schema\": \"https://json-schema.org/draft/2020-12/schema\",\n"
    "  \"title\": \"TrialEligibility\",\n"
    "  \"description\": \"Whether a patient is eligible for a trial, and each criterion's decision.\",\n"
    "  \"type\": \"object\",\n"
    "  \"additionalProperties\": false,\n"
    "  \"required\": [\"eligible\", \"criteria\"],\n"
    "  \"properties\": {\n"
    "    \"eligible\": {\"type\": \"boolean\"},\n"
    "    \"criteria\": {\n"
    "      \"type\": \"array\",\n"
    "      \"items\": {\n"
    "        \"type\": \"object\",\n"
    "        \"additionalProperties\": false,\n"
    "        \"required\": [\"index\", \"met\"],\n"
    "        \"properties\": {\n"
    "          \"index\": {\"type\": \"integer\", \"minimum\": 1},\n"
    "          \"met\": {\"type\": \"boolean\"}\n"
    "        }\n"
    "      }\n"
    "    }\n"
    "  }\n"
    "}";
