/* Byte strings; see text.h. */
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *checked_malloc(size_t size) {
    void *ptr = malloc(size == 0 ? 1 : size);
    if (ptr == NULL) {
        abort();
    }
    return ptr;
}

void *checked_realloc(void *ptr, size_t size) {
    void *grown = realloc(ptr, size == 0 ? 1 : size);
    if (grown == NULL) {
        abort();
    }
    return grown;
}

struct slice slice_from(const char *nul_terminated) {
    return (struct slice){nul_terminated, strlen(nul_terminated)};
}

bool slice_eq(struct slice a, const char *nul_terminated) {
    size_t len = strlen(nul_terminated);
    return a.len == len && (len == 0 || memcmp(a.ptr, nul_terminated, len) == 0);
}

bool slice_equal(struct slice a, struct slice b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

int slice_cmp(struct slice a, struct slice b) {
    size_t common = a.len < b.len ? a.len : b.len;
    int order = common == 0 ? 0 : memcmp(a.ptr, b.ptr, common);
    if (order != 0) {
        return order;
    }
    return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

/* Unicode's White_Space property, which Rust's `char::is_whitespace` follows. */
static bool is_white_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* The code point of the UTF-8 sequence of `len` bytes at `s` (valid UTF-8). */
static uint32_t decode(const unsigned char *s, size_t len) {
    switch (len) {
    case 1:
        return s[0];
    case 2:
        return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
    case 3:
        return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    default:
        return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
               ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    }
}

static size_t sequence_length(unsigned char lead) {
    return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

static struct slice trim_start(struct slice text) {
    const unsigned char *s = (const unsigned char *)text.ptr;
    size_t start = 0;
    while (start < text.len) {
        size_t len = sequence_length(s[start]);
        if (start + len > text.len || !is_white_space(decode(s + start, len))) {
            break;
        }
        start += len;
    }
    return (struct slice){text.ptr + start, text.len - start};
}

struct slice slice_trim_end(struct slice text) {
    const unsigned char *s = (const unsigned char *)text.ptr;
    size_t end = text.len;
    while (end > 0) {
        size_t start = end - 1;
        while (start > 0 && (s[start] & 0xC0) == 0x80) {
            start--;
        }
        if (!is_white_space(decode(s + start, end - start))) {
            break;
        }
        end = start;
    }
    return (struct slice){text.ptr, end};
}

struct slice slice_trim(struct slice text) {
    return slice_trim_end(trim_start(text));
}

bool slice_strip_prefix(struct slice *text, const char *prefix) {
    size_t len = strlen(prefix);
    if (text->len < len || memcmp(text->ptr, prefix, len) != 0) {
        return false;
    }
    text->ptr += len;
    text->len -= len;
    return true;
}

bool slice_strip_suffix(struct slice *text, const char *suffix) {
    size_t len = strlen(suffix);
    if (text->len < len || memcmp(text->ptr + text->len - len, suffix, len) != 0) {
        return false;
    }
    text->len -= len;
    return true;
}

void text_push(struct text *text, const char *bytes, size_t len) {
    if (text->len + len + 1 > text->cap) {
        size_t cap = text->cap == 0 ? 64 : text->cap;
        while (cap < text->len + len + 1) {
            cap *= 2;
        }
        text->data = checked_realloc(text->data, cap);
        text->cap = cap;
    }
    if (len > 0) {
        memcpy(text->data + text->len, bytes, len);
    }
    text->len += len;
    text->data[text->len] = '\0';
}

void text_push_slice(struct text *text, struct slice slice) {
    text_push(text, slice.ptr, slice.len);
}

void text_push_str(struct text *text, const char *nul_terminated) {
    text_push(text, nul_terminated, strlen(nul_terminated));
}

void text_push_char(struct text *text, char c) {
    text_push(text, &c, 1);
}

void text_push_u64(struct text *text, uint64_t value) {
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)value);
    text_push(text, digits, (size_t)len);
}

void text_push_i64(struct text *text, int64_t value) {
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%lld", (long long)value);
    text_push(text, digits, (size_t)len);
}

struct slice text_slice(const struct text *text) {
    return (struct slice){text->data, text->len};
}

void text_free(struct text *text) {
    free(text->data);
    *text = (struct text){0};
}

struct text text_from(const char *nul_terminated) {
    struct text text = {0};
    text_push_str(&text, nul_terminated);
    return text;
}

struct text text_pointer(const char *parent, const char *key) {
    struct text path = text_from(parent);
    text_push_char(&path, '/');
    text_push_str(&path, key);
    return path;
}
