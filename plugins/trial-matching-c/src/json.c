/* A port of serde_json's `Deserializer` over a `StrRead` for `Value` (de.rs and read.rs of
 * serde_json 1.0.154 without `float_roundtrip` and `arbitrary_precision`): the same
 * grammar, the same number arithmetic and the same error, line and column for every
 * input. The functions keep serde_json's names so the two can be read side by side. */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "number.h"

static const char EOF_WHILE_PARSING_LIST[] = "EOF while parsing a list";
static const char EOF_WHILE_PARSING_OBJECT[] = "EOF while parsing an object";
static const char EOF_WHILE_PARSING_STRING[] = "EOF while parsing a string";
static const char EOF_WHILE_PARSING_VALUE[] = "EOF while parsing a value";
static const char EXPECTED_COLON[] = "expected `:`";
static const char EXPECTED_LIST_COMMA_OR_END[] = "expected `,` or `]`";
static const char EXPECTED_OBJECT_COMMA_OR_END[] = "expected `,` or `}`";
static const char EXPECTED_SOME_IDENT[] = "expected ident";
static const char EXPECTED_SOME_VALUE[] = "expected value";
static const char INVALID_ESCAPE[] = "invalid escape";
static const char INVALID_NUMBER[] = "invalid number";
static const char NUMBER_OUT_OF_RANGE[] = "number out of range";
static const char CONTROL_CHARACTER[] =
    "control character (\\u0000-\\u001F) found while parsing a string";
static const char KEY_MUST_BE_A_STRING[] = "key must be a string";
static const char LONE_LEADING_SURROGATE[] = "lone leading surrogate in hex escape";
static const char TRAILING_COMMA[] = "trailing comma";
static const char TRAILING_CHARACTERS[] = "trailing characters";
static const char UNEXPECTED_END_OF_HEX_ESCAPE[] = "unexpected end of hex escape";
static const char RECURSION_LIMIT_EXCEEDED[] = "recursion limit exceeded";

/* serde_json's `remaining_depth` at the start: the 128th nested container is refused. */
#define RECURSION_LIMIT 128

/* Children of the containers being parsed, stacked until their container is complete. */
struct item_stack {
    const struct json_value **items;
    size_t len;
    size_t cap;
};

struct member_stack {
    struct json_member *members;
    size_t len;
    size_t cap;
};

struct parser {
    const unsigned char *input;
    size_t len;
    size_t index;
    int remaining_depth;
    struct arena *arena;
    struct text scratch;
    struct item_stack items;
    struct member_stack members;
    struct json_error *error;
};

/* Every parsing function returns false after setting the error. */

static bool fail_at(struct parser *p, size_t index, const char *message) {
    size_t start_of_line = index;
    while (start_of_line > 0 && p->input[start_of_line - 1] != '\n') {
        start_of_line--;
    }
    size_t line = 1;
    for (size_t i = 0; i < start_of_line; i++) {
        line += p->input[i] == '\n';
    }
    *p->error = (struct json_error){message, line, index - start_of_line};
    return false;
}

/* Error caused by a byte from next_char(). */
static bool error(struct parser *p, const char *message) {
    return fail_at(p, p->index, message);
}

/* Error caused by a byte from peek(). */
static bool peek_error(struct parser *p, const char *message) {
    return fail_at(p, p->index + 1 < p->len ? p->index + 1 : p->len, message);
}

static bool at_end(const struct parser *p) {
    return p->index >= p->len;
}

static unsigned char peek_or_null(const struct parser *p) {
    return at_end(p) ? 0 : p->input[p->index];
}

static bool is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

/* Skips white space; true when a byte follows, which is then in `*peek`. */
static bool parse_whitespace(struct parser *p, unsigned char *peek) {
    while (!at_end(p)) {
        unsigned char c = p->input[p->index];
        if (c != ' ' && c != '\n' && c != '\t' && c != '\r') {
            *peek = c;
            return true;
        }
        p->index++;
    }
    return false;
}

static struct json_value *new_value(struct parser *p, enum json_type type) {
    struct json_value *value = arena_alloc(p->arena, sizeof *value);
    value->type = type;
    return value;
}

static bool parse_ident(struct parser *p, const char *ident) {
    for (; *ident != '\0'; ident++) {
        if (at_end(p)) {
            return error(p, EOF_WHILE_PARSING_VALUE);
        }
        if (p->input[p->index++] != (unsigned char)*ident) {
            return error(p, EXPECTED_SOME_IDENT);
        }
    }
    return true;
}

/* Numbers. */

static const double POW10[309] = {
#define P10(e) 1e##e##0, 1e##e##1, 1e##e##2, 1e##e##3, 1e##e##4, 1e##e##5, 1e##e##6, \
               1e##e##7, 1e##e##8, 1e##e##9
    P10(0), P10(1), P10(2), P10(3), P10(4), P10(5), P10(6), P10(7), P10(8), P10(9),
    P10(10), P10(11), P10(12), P10(13), P10(14), P10(15), P10(16), P10(17), P10(18), P10(19),
    P10(20), P10(21), P10(22), P10(23), P10(24), P10(25), P10(26), P10(27), P10(28), P10(29),
    1e300, 1e301, 1e302, 1e303, 1e304, 1e305, 1e306, 1e307, 1e308,
#undef P10
};

/* serde_json's `overflow!(a * 10 + b, max)`. */
static bool overflows_u64(uint64_t a, uint64_t b) {
    return a >= UINT64_MAX / 10 && (a > UINT64_MAX / 10 || b > UINT64_MAX % 10);
}

static bool overflows_i32(int32_t a, int32_t b) {
    return a >= INT32_MAX / 10 && (a > INT32_MAX / 10 || b > INT32_MAX % 10);
}

static int32_t saturate_i32(int64_t value) {
    return value > INT32_MAX ? INT32_MAX : value < INT32_MIN ? INT32_MIN : (int32_t)value;
}

static bool f64_from_parts(struct parser *p, bool positive, uint64_t significand,
                           int32_t exponent, double *out) {
    double f = (double)significand;
    for (;;) {
        int64_t magnitude = exponent < 0 ? -(int64_t)exponent : exponent;
        if (magnitude <= 308) {
            if (exponent >= 0) {
                f *= POW10[magnitude];
                if (isinf(f)) {
                    return error(p, NUMBER_OUT_OF_RANGE);
                }
            } else {
                f /= POW10[magnitude];
            }
            break;
        }
        if (f == 0.0) {
            break;
        }
        if (exponent >= 0) {
            return error(p, NUMBER_OUT_OF_RANGE);
        }
        f /= 1e308;
        exponent += 308;
    }
    *out = positive ? f : -f;
    return true;
}

static bool parse_exponent_overflow(struct parser *p, bool positive, bool zero_significand,
                                    bool positive_exp, double *out) {
    /* Error instead of +/- infinity. */
    if (!zero_significand && positive_exp) {
        return error(p, NUMBER_OUT_OF_RANGE);
    }
    while (is_digit(peek_or_null(p))) {
        p->index++;
    }
    *out = positive ? 0.0 : -0.0;
    return true;
}

static bool parse_exponent(struct parser *p, bool positive, uint64_t significand,
                           int32_t starting_exp, double *out) {
    p->index++;
    bool positive_exp = true;
    if (peek_or_null(p) == '+') {
        p->index++;
    } else if (peek_or_null(p) == '-') {
        p->index++;
        positive_exp = false;
    }
    if (at_end(p)) {
        return error(p, EOF_WHILE_PARSING_VALUE);
    }
    unsigned char next = p->input[p->index++];
    if (!is_digit(next)) {
        return error(p, INVALID_NUMBER);
    }
    int32_t exp = next - '0';
    while (is_digit(peek_or_null(p))) {
        int32_t digit = p->input[p->index++] - '0';
        if (overflows_i32(exp, digit)) {
            return parse_exponent_overflow(p, positive, significand == 0, positive_exp, out);
        }
        exp = exp * 10 + digit;
    }
    int32_t final_exp = positive_exp ? saturate_i32((int64_t)starting_exp + exp)
                                     : saturate_i32((int64_t)starting_exp - exp);
    return f64_from_parts(p, positive, significand, final_exp, out);
}

static bool parse_decimal_overflow(struct parser *p, bool positive, uint64_t significand,
                                   int32_t exponent, double *out) {
    /* The next multiply/add would overflow, so just ignore all further digits. */
    while (is_digit(peek_or_null(p))) {
        p->index++;
    }
    unsigned char c = peek_or_null(p);
    if (c == 'e' || c == 'E') {
        return parse_exponent(p, positive, significand, exponent, out);
    }
    return f64_from_parts(p, positive, significand, exponent, out);
}

static bool parse_decimal(struct parser *p, bool positive, uint64_t significand,
                          int32_t exponent_before_decimal_point, double *out) {
    p->index++;
    int32_t exponent_after_decimal_point = 0;
    while (is_digit(peek_or_null(p))) {
        uint64_t digit = p->input[p->index] - '0';
        if (overflows_u64(significand, digit)) {
            return parse_decimal_overflow(
                p, positive, significand,
                exponent_before_decimal_point + exponent_after_decimal_point, out);
        }
        p->index++;
        significand = significand * 10 + digit;
        exponent_after_decimal_point--;
    }
    /* Error if there is not at least one digit after the decimal point. */
    if (exponent_after_decimal_point == 0) {
        return peek_error(p, at_end(p) ? EOF_WHILE_PARSING_VALUE : INVALID_NUMBER);
    }
    int32_t exponent = exponent_before_decimal_point + exponent_after_decimal_point;
    unsigned char c = peek_or_null(p);
    if (c == 'e' || c == 'E') {
        return parse_exponent(p, positive, significand, exponent, out);
    }
    return f64_from_parts(p, positive, significand, exponent, out);
}

static bool parse_long_integer(struct parser *p, bool positive, uint64_t significand,
                               double *out) {
    int32_t exponent = 0;
    for (;;) {
        unsigned char c = peek_or_null(p);
        if (is_digit(c)) {
            p->index++;
            /* This could overflow... if your integer is gigabytes long. */
            exponent++;
        } else if (c == '.') {
            return parse_decimal(p, positive, significand, exponent, out);
        } else if (c == 'e' || c == 'E') {
            return parse_exponent(p, positive, significand, exponent, out);
        } else {
            return f64_from_parts(p, positive, significand, exponent, out);
        }
    }
}

static bool float_number(struct json_number *number, double value) {
    number->kind = JSON_FLOAT;
    number->float_value = value;
    return true;
}

static bool parse_number(struct parser *p, bool positive, uint64_t significand,
                         struct json_number *number) {
    double f = 0.0;
    unsigned char c = peek_or_null(p);
    if (c == '.') {
        return parse_decimal(p, positive, significand, 0, &f) && float_number(number, f);
    }
    if (c == 'e' || c == 'E') {
        return parse_exponent(p, positive, significand, 0, &f) && float_number(number, f);
    }
    if (positive) {
        number->kind = JSON_POS_INT;
        number->pos_int = significand;
        return true;
    }
    int64_t neg = (int64_t)(0 - significand);
    /* Convert into a float if we underflow, or on `-0`. */
    if (neg >= 0) {
        return float_number(number, -(double)significand);
    }
    number->kind = JSON_NEG_INT;
    number->neg_int = neg;
    return true;
}

static bool parse_integer(struct parser *p, bool positive, struct json_number *number) {
    if (at_end(p)) {
        return error(p, EOF_WHILE_PARSING_VALUE);
    }
    unsigned char next = p->input[p->index++];
    if (next == '0') {
        /* There can be only one leading '0'. */
        if (is_digit(peek_or_null(p))) {
            return peek_error(p, INVALID_NUMBER);
        }
        return parse_number(p, positive, 0, number);
    }
    if (next < '1' || next > '9') {
        return error(p, INVALID_NUMBER);
    }
    uint64_t significand = next - '0';
    while (is_digit(peek_or_null(p))) {
        uint64_t digit = p->input[p->index] - '0';
        if (overflows_u64(significand, digit)) {
            double f = 0.0;
            return parse_long_integer(p, positive, significand, &f) && float_number(number, f);
        }
        p->index++;
        significand = significand * 10 + digit;
    }
    return parse_number(p, positive, significand, number);
}

/* Strings. */

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static bool decode_hex_escape(struct parser *p, uint32_t *out) {
    if (p->len - p->index < 4) {
        p->index = p->len;
        return error(p, EOF_WHILE_PARSING_STRING);
    }
    uint32_t value = 0;
    bool valid = true;
    for (int i = 0; i < 4; i++) {
        int digit = hex_value(p->input[p->index + i]);
        valid = valid && digit >= 0;
        value = value * 16 + (uint32_t)(digit < 0 ? 0 : digit);
    }
    p->index += 4;
    if (!valid) {
        return error(p, INVALID_ESCAPE);
    }
    *out = value;
    return true;
}

static void push_code_point(struct text *scratch, uint32_t n) {
    char bytes[4];
    size_t len;
    if (n < 0x80) {
        bytes[0] = (char)n;
        len = 1;
    } else if (n < 0x800) {
        bytes[0] = (char)(0xC0 | (n >> 6));
        bytes[1] = (char)(0x80 | (n & 0x3F));
        len = 2;
    } else if (n < 0x10000) {
        bytes[0] = (char)(0xE0 | (n >> 12));
        bytes[1] = (char)(0x80 | ((n >> 6) & 0x3F));
        bytes[2] = (char)(0x80 | (n & 0x3F));
        len = 3;
    } else {
        bytes[0] = (char)(0xF0 | (n >> 18));
        bytes[1] = (char)(0x80 | ((n >> 12) & 0x3F));
        bytes[2] = (char)(0x80 | ((n >> 6) & 0x3F));
        bytes[3] = (char)(0x80 | (n & 0x3F));
        len = 4;
    }
    text_push(scratch, bytes, len);
}

/* After `\u`: one code point, a surrogate pair being one. */
static bool parse_unicode_escape(struct parser *p) {
    uint32_t n;
    if (!decode_hex_escape(p, &n)) {
        return false;
    }
    if (n >= 0xDC00 && n <= 0xDFFF) {
        return error(p, LONE_LEADING_SURROGATE);
    }
    if (n < 0xD800 || n > 0xDBFF) {
        push_code_point(&p->scratch, n);
        return true;
    }
    /* n is a leading surrogate, we now expect a trailing surrogate. */
    for (const char *expected = "\\u"; *expected != '\0'; expected++) {
        if (at_end(p)) {
            return error(p, EOF_WHILE_PARSING_STRING);
        }
        if (p->input[p->index++] != (unsigned char)*expected) {
            return error(p, UNEXPECTED_END_OF_HEX_ESCAPE);
        }
    }
    uint32_t n2;
    if (!decode_hex_escape(p, &n2)) {
        return false;
    }
    if (n2 < 0xDC00 || n2 > 0xDFFF) {
        return error(p, LONE_LEADING_SURROGATE);
    }
    push_code_point(&p->scratch, (((n - 0xD800) << 10) | (n2 - 0xDC00)) + 0x10000);
    return true;
}

/* After a backslash. */
static bool parse_escape(struct parser *p) {
    if (at_end(p)) {
        return error(p, EOF_WHILE_PARSING_STRING);
    }
    unsigned char c = p->input[p->index++];
    switch (c) {
    case '"':
    case '\\':
    case '/':
        text_push_char(&p->scratch, (char)c);
        return true;
    case 'b':
        text_push_char(&p->scratch, '\b');
        return true;
    case 'f':
        text_push_char(&p->scratch, '\f');
        return true;
    case 'n':
        text_push_char(&p->scratch, '\n');
        return true;
    case 'r':
        text_push_char(&p->scratch, '\r');
        return true;
    case 't':
        text_push_char(&p->scratch, '\t');
        return true;
    case 'u':
        return parse_unicode_escape(p);
    default:
        return error(p, INVALID_ESCAPE);
    }
}

/* After the opening quote: the string's bytes, borrowed from the input when it has no
 * escape, otherwise copied into the arena. */
static bool parse_str(struct parser *p, struct slice *out) {
    p->scratch.len = 0;
    bool copied = false;
    size_t start = p->index;
    for (;;) {
        while (!at_end(p)) {
            unsigned char c = p->input[p->index];
            if (c == '"' || c == '\\' || c < 0x20) {
                break;
            }
            p->index++;
        }
        if (at_end(p)) {
            return error(p, EOF_WHILE_PARSING_STRING);
        }
        unsigned char c = p->input[p->index];
        if (c == '"') {
            if (!copied) {
                *out = (struct slice){(const char *)p->input + start, p->index - start};
            } else {
                text_push(&p->scratch, (const char *)p->input + start, p->index - start);
                char *bytes = arena_alloc(p->arena, p->scratch.len);
                memcpy(bytes, p->scratch.data, p->scratch.len);
                *out = (struct slice){bytes, p->scratch.len};
            }
            p->index++;
            return true;
        }
        if (c == '\\') {
            text_push(&p->scratch, (const char *)p->input + start, p->index - start);
            copied = true;
            p->index++;
            if (!parse_escape(p)) {
                return false;
            }
            start = p->index;
        } else {
            p->index++;
            return error(p, CONTROL_CHARACTER);
        }
    }
}

/* Values. */

static bool deserialize_any(struct parser *p, const struct json_value **out);

static bool visit_seq(struct parser *p, struct json_value *array) {
    size_t base = p->items.len;
    bool first = true;
    for (;;) {
        unsigned char peek;
        if (!parse_whitespace(p, &peek)) {
            return peek_error(p, EOF_WHILE_PARSING_LIST);
        }
        if (peek == ']') {
            break;
        }
        if (first) {
            first = false;
        } else if (peek == ',') {
            p->index++;
            if (!parse_whitespace(p, &peek)) {
                return peek_error(p, EOF_WHILE_PARSING_VALUE);
            }
            if (peek == ']') {
                return peek_error(p, TRAILING_COMMA);
            }
        } else {
            return peek_error(p, EXPECTED_LIST_COMMA_OR_END);
        }
        const struct json_value *item;
        if (!deserialize_any(p, &item)) {
            return false;
        }
        if (p->items.len == p->items.cap) {
            p->items.cap = p->items.cap == 0 ? 64 : p->items.cap * 2;
            p->items.items =
                checked_realloc(p->items.items, p->items.cap * sizeof *p->items.items);
        }
        p->items.items[p->items.len++] = item;
    }
    size_t len = p->items.len - base;
    const struct json_value **items = arena_alloc(p->arena, len * sizeof *items);
    if (len > 0) {
        memcpy(items, p->items.items + base, len * sizeof *items);
    }
    p->items.len = base;
    array->array.items = items;
    array->array.len = len;
    p->index++;
    return true;
}

static bool visit_map(struct parser *p, struct json_value *object) {
    size_t base = p->members.len;
    bool first = true;
    for (;;) {
        unsigned char peek;
        if (!parse_whitespace(p, &peek)) {
            return peek_error(p, EOF_WHILE_PARSING_OBJECT);
        }
        if (peek == '}') {
            break;
        }
        if (first) {
            first = false;
            if (peek != '"') {
                return peek_error(p, KEY_MUST_BE_A_STRING);
            }
        } else if (peek == ',') {
            p->index++;
            if (!parse_whitespace(p, &peek)) {
                return peek_error(p, EOF_WHILE_PARSING_VALUE);
            }
            if (peek == '}') {
                return peek_error(p, TRAILING_COMMA);
            }
            if (peek != '"') {
                return peek_error(p, KEY_MUST_BE_A_STRING);
            }
        } else {
            return peek_error(p, EXPECTED_OBJECT_COMMA_OR_END);
        }
        p->index++;
        struct json_member member;
        if (!parse_str(p, &member.key)) {
            return false;
        }
        if (!parse_whitespace(p, &peek)) {
            return peek_error(p, EOF_WHILE_PARSING_OBJECT);
        }
        if (peek != ':') {
            return peek_error(p, EXPECTED_COLON);
        }
        p->index++;
        if (!deserialize_any(p, &member.value)) {
            return false;
        }
        if (p->members.len == p->members.cap) {
            p->members.cap = p->members.cap == 0 ? 16 : p->members.cap * 2;
            p->members.members =
                checked_realloc(p->members.members, p->members.cap * sizeof *p->members.members);
        }
        p->members.members[p->members.len++] = member;
    }
    size_t len = p->members.len - base;
    struct json_member *members = arena_alloc(p->arena, len * sizeof *members);
    if (len > 0) {
        memcpy(members, p->members.members + base, len * sizeof *members);
    }
    p->members.len = base;
    object->object.members = members;
    object->object.len = len;
    p->index++;
    return true;
}

static bool deserialize_any(struct parser *p, const struct json_value **out) {
    unsigned char peek;
    if (!parse_whitespace(p, &peek)) {
        return peek_error(p, EOF_WHILE_PARSING_VALUE);
    }
    struct json_value *value;
    bool ok;
    switch (peek) {
    case 'n':
        p->index++;
        value = new_value(p, JSON_NULL);
        ok = parse_ident(p, "ull");
        break;
    case 't':
    case 'f':
        p->index++;
        value = new_value(p, JSON_BOOL);
        value->boolean = peek == 't';
        ok = parse_ident(p, peek == 't' ? "rue" : "alse");
        break;
    case '-':
        p->index++;
        value = new_value(p, JSON_NUMBER);
        ok = parse_integer(p, false, &value->number);
        break;
    case '"':
        p->index++;
        value = new_value(p, JSON_STRING);
        ok = parse_str(p, &value->string);
        break;
    case '[':
    case '{':
        if (--p->remaining_depth == 0) {
            return peek_error(p, RECURSION_LIMIT_EXCEEDED);
        }
        p->index++;
        value = new_value(p, peek == '[' ? JSON_ARRAY : JSON_OBJECT);
        ok = peek == '[' ? visit_seq(p, value) : visit_map(p, value);
        p->remaining_depth++;
        break;
    default:
        if (!is_digit(peek)) {
            return peek_error(p, EXPECTED_SOME_VALUE);
        }
        value = new_value(p, JSON_NUMBER);
        ok = parse_integer(p, true, &value->number);
        break;
    }
    *out = value;
    return ok;
}

const struct json_value *json_parse(struct slice input, struct arena *arena,
                                    struct json_error *error) {
    struct parser p = {
        .input = (const unsigned char *)input.ptr,
        .len = input.len,
        .remaining_depth = RECURSION_LIMIT,
        .arena = arena,
        .error = error,
    };
    const struct json_value *value = NULL;
    bool ok = deserialize_any(&p, &value);
    unsigned char peek;
    if (ok && parse_whitespace(&p, &peek)) {
        ok = peek_error(&p, TRAILING_CHARACTERS);
    }
    text_free(&p.scratch);
    free(p.items.items);
    free(p.members.members);
    return ok ? value : NULL;
}

void json_push_error(struct text *text, const struct json_error *error) {
    text_push_str(text, error->message);
    text_push_str(text, " at line ");
    text_push_u64(text, error->line);
    text_push_str(text, " column ");
    text_push_u64(text, error->column);
}

const struct json_value *json_get(const struct json_value *object, const char *key) {
    for (size_t i = object->object.len; i > 0; i--) {
        if (slice_eq(object->object.members[i - 1].key, key)) {
            return object->object.members[i - 1].value;
        }
    }
    return NULL;
}

bool json_as_f64(const struct json_value *value, double *out) {
    if (value->type != JSON_NUMBER) {
        return false;
    }
    switch (value->number.kind) {
    case JSON_POS_INT:
        *out = (double)value->number.pos_int;
        break;
    case JSON_NEG_INT:
        *out = (double)value->number.neg_int;
        break;
    case JSON_FLOAT:
        *out = value->number.float_value;
        break;
    }
    return true;
}

const char *json_kind(const struct json_value *value) {
    switch (value->type) {
    case JSON_NULL:
        return "null";
    case JSON_BOOL:
        return "a boolean";
    case JSON_NUMBER:
        return "a number";
    case JSON_STRING:
        return "a string";
    case JSON_ARRAY:
        return "an array";
    case JSON_OBJECT:
        return "an object";
    }
    return "a value";
}

void json_push_described(struct text *text, const struct json_value *value) {
    switch (value->type) {
    case JSON_STRING:
        text_push_char(text, '`');
        text_push_slice(text, value->string);
        text_push_char(text, '`');
        return;
    case JSON_NUMBER:
        text_push_char(text, '`');
        if (value->number.kind == JSON_POS_INT) {
            text_push_u64(text, value->number.pos_int);
        } else if (value->number.kind == JSON_NEG_INT) {
            text_push_i64(text, value->number.neg_int);
        } else {
            number_push_json(text, value->number.float_value);
        }
        text_push_char(text, '`');
        return;
    default:
        text_push_str(text, json_kind(value));
        return;
    }
}
