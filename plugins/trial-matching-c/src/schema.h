/* The output JSON Schema that `info` declares; see schema.c. */
#ifndef TRIAL_MATCHING_SCHEMA_H
#define TRIAL_MATCHING_SCHEMA_H

extern const char OUTPUT_SCHEMA[];

#endif
