/* See json.h. A recursive-descent reader over a cursor; a string is decoded into a growing
 * buffer only when the caller wants its value (keys, and the wanted member). */
#include "json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 128

struct cursor {
    const char *at;
    const char *end;
    int depth;
};

struct buffer {
    char *data;
    size_t len;
    size_t cap;
};

static void push(struct buffer *buffer, char byte) {
    if (buffer->len + 1 >= buffer->cap) {
        buffer->cap = buffer->cap ? 2 * buffer->cap : 32;
        buffer->data = realloc(buffer->data, buffer->cap);
        if (buffer->data == NULL) {
            abort();
        }
    }
    buffer->data[buffer->len++] = byte;
    buffer->data[buffer->len] = '\0';
}

static void push_utf8(struct buffer *buffer, uint32_t code) {
    if (code < 0x80) {
        push(buffer, (char)code);
    } else if (code < 0x800) {
        push(buffer, (char)(0xC0 | (code >> 6)));
        push(buffer, (char)(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
        push(buffer, (char)(0xE0 | (code >> 12)));
        push(buffer, (char)(0x80 | ((code >> 6) & 0x3F)));
        push(buffer, (char)(0x80 | (code & 0x3F)));
    } else {
        push(buffer, (char)(0xF0 | (code >> 18)));
        push(buffer, (char)(0x80 | ((code >> 12) & 0x3F)));
        push(buffer, (char)(0x80 | ((code >> 6) & 0x3F)));
        push(buffer, (char)(0x80 | (code & 0x3F)));
    }
}

static void skip_space(struct cursor *c) {
    while (c->at < c->end && (*c->at == ' ' || *c->at == '\t' || *c->at == '\n' || *c->at == '\r')) {
        c->at++;
    }
}

static bool eat(struct cursor *c, char byte) {
    skip_space(c);
    if (c->at < c->end && *c->at == byte) {
        c->at++;
        return true;
    }
    return false;
}

static bool hex4(struct cursor *c, uint32_t *code) {
    *code = 0;
    for (int i = 0; i < 4; i++, c->at++) {
        if (c->at >= c->end) {
            return false;
        }
        char h = *c->at;
        int digit = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (digit < 0) {
            return false;
        }
        *code = *code * 16 + (uint32_t)digit;
    }
    return true;
}

/* `\uXXXX`, after the `u`, with a following low surrogate where the first is high. */
static bool unicode_escape(struct cursor *c, struct buffer *out) {
    uint32_t code;
    if (!hex4(c, &code) || (code >= 0xDC00 && code <= 0xDFFF)) {
        return false;
    }
    if (code >= 0xD800 && code <= 0xDBFF) {
        uint32_t low;
        if (c->end - c->at < 2 || c->at[0] != '\\' || c->at[1] != 'u') {
            return false;
        }
        c->at += 2;
        if (!hex4(c, &low) || low < 0xDC00 || low > 0xDFFF) {
            return false;
        }
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    }
    if (out != NULL) {
        push_utf8(out, code);
    }
    return true;
}

/* A string at the cursor (after white space); its decoded bytes go to `out` unless NULL. */
static bool string(struct cursor *c, struct buffer *out) {
    static const char escapes[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
    if (!eat(c, '"')) {
        return false;
    }
    if (out != NULL) {
        push(out, 'x');
        out->len = 0;
        out->data[0] = '\0';
    }
    while (c->at < c->end) {
        char byte = *c->at++;
        if (byte == '"') {
            return true;
        }
        if ((unsigned char)byte < 0x20) {
            return false;
        }
        if (byte == '\\') {
            if (c->at >= c->end) {
                return false;
            }
            char kind = *c->at++;
            if (kind == 'u') {
                if (!unicode_escape(c, out)) {
                    return false;
                }
                continue;
            }
            const char *pair = NULL;
            for (size_t i = 0; i + 1 < sizeof escapes; i += 2) {
                pair = escapes[i] == kind ? &escapes[i] : pair;
            }
            if (pair == NULL) {
                return false;
            }
            byte = pair[1];
        }
        if (out != NULL) {
            push(out, byte);
        }
    }
    return false;
}

static bool digits(struct cursor *c) {
    const char *start = c->at;
    while (c->at < c->end && *c->at >= '0' && *c->at <= '9') {
        c->at++;
    }
    return c->at > start;
}

static bool number(struct cursor *c) {
    if (c->at < c->end && *c->at == '-') {
        c->at++;
    }
    if (c->at < c->end && *c->at == '0') {
        c->at++;
    } else if (!digits(c)) {
        return false;
    }
    if (c->at < c->end && *c->at == '.') {
        c->at++;
        if (!digits(c)) {
            return false;
        }
    }
    if (c->at < c->end && (*c->at == 'e' || *c->at == 'E')) {
        c->at++;
        if (c->at < c->end && (*c->at == '+' || *c->at == '-')) {
            c->at++;
        }
        return digits(c);
    }
    return true;
}

static bool literal(struct cursor *c, const char *word) {
    size_t len = strlen(word);
    if ((size_t)(c->end - c->at) < len || memcmp(c->at, word, len) != 0) {
        return false;
    }
    c->at += len;
    return true;
}

static bool value(struct cursor *c);

/* The members or items of an object or array, after its opening bracket. */
static bool container(struct cursor *c, bool object) {
    if (++c->depth > MAX_DEPTH) {
        return false;
    }
    char close = object ? '}' : ']';
    if (!eat(c, close)) {
        do {
            if (object && !(string(c, NULL) && eat(c, ':'))) {
                return false;
            }
            if (!value(c)) {
                return false;
            }
        } while (eat(c, ','));
        if (!eat(c, close)) {
            return false;
        }
    }
    c->depth--;
    return true;
}

static bool value(struct cursor *c) {
    skip_space(c);
    if (c->at >= c->end) {
        return false;
    }
    switch (*c->at) {
    case '{':
        c->at++;
        return container(c, true);
    case '[':
        c->at++;
        return container(c, false);
    case '"':
        return string(c, NULL);
    case 't':
        return literal(c, "true");
    case 'f':
        return literal(c, "false");
    case 'n':
        return literal(c, "null");
    default:
        return number(c);
    }
}

/* The top-level object's members, after `{`: the last `key` member decides the outcome. */
static enum json_found members(struct cursor *c, const char *key, struct buffer *found) {
    enum json_found outcome = JSON_MISSING;
    struct buffer name = {0};
    bool ok = true;
    if (!eat(c, '}')) {
        do {
            ok = string(c, &name) && eat(c, ':');
            if (ok && strlen(key) == name.len && memcmp(name.data, key, name.len) == 0) {
                skip_space(c);
                bool is_string = c->at < c->end && *c->at == '"';
                ok = is_string ? string(c, found) : value(c);
                outcome = is_string ? JSON_FOUND : JSON_NOT_STRING;
            } else if (ok) {
                ok = value(c);
            }
        } while (ok && eat(c, ','));
        ok = ok && eat(c, '}');
    }
    free(name.data);
    return ok ? outcome : JSON_NOT_JSON;
}

enum json_found json_string_member(const char *text, size_t len, const char *key, char **out) {
    struct cursor c = {text, text + len, 0};
    struct buffer found = {0};
    enum json_found outcome;
    if (eat(&c, '{')) {
        c.depth = 1;
        outcome = members(&c, key, &found);
    } else {
        outcome = value(&c) ? JSON_NOT_OBJECT : JSON_NOT_JSON;
    }
    skip_space(&c);
    if (outcome != JSON_NOT_JSON && c.at != c.end) {
        outcome = JSON_NOT_JSON;
    }
    if (outcome == JSON_FOUND) {
        *out = found.data;
    } else {
        free(found.data);
    }
    return outcome;
}

char *json_quote(const char *value) {
    static const char hex[] = "0123456789abcdef";
    struct buffer out = {0};
    push(&out, '"');
    for (const char *p = value; *p != '\0'; p++) {
        unsigned char byte = (unsigned char)*p;
        if (byte == '"' || byte == '\\') {
            push(&out, '\\');
            push(&out, (char)byte);
        } else if (byte < 0x20) {
            push(&out, '\\');
            push(&out, 'u');
            push(&out, '0');
            push(&out, '0');
            push(&out, hex[byte >> 4]);
            push(&out, hex[byte & 0xF]);
        } else {
            push(&out, (char)byte);
        }
    }
    push(&out, '"');
    return out.data;
}
