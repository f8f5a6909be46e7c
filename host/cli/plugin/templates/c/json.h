/* A small JSON reader: enough for records and predictions whose fields the task reads are
 * top-level strings. The whole text is checked against RFC 8259 (at most 128 nested arrays
 * or objects); a repeated key keeps its last value. Replace it with a full parser when
 * your task reads numbers, arrays or nested objects. */
#ifndef JSON_H
#define JSON_H

#include <stddef.h>

enum json_found {
    JSON_FOUND,
    /* The text is not one JSON value. */
    JSON_NOT_JSON,
    /* A JSON value, but not an object. */
    JSON_NOT_OBJECT,
    /* An object without the key. */
    JSON_MISSING,
    /* The key's value is not a string. */
    JSON_NOT_STRING,
};

/* The string value of `key` in the JSON object `text` (`len` bytes): on JSON_FOUND,
 * `*value` is its decoded UTF-8, NUL-terminated and allocated with malloc. */
enum json_found json_string_member(const char *text, size_t len, const char *key, char **value);

/* `value` as a JSON string literal (quotes and escapes), allocated with malloc. */
char *json_quote(const char *value);

#endif
