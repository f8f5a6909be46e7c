/* Reference outputs of serde_json 1.0.154 (the parser of the Rust plugin) for the inputs
 * json_test.c feeds to json.c. Produced by this program (a crate depending on
 * `serde_json = "=1.0.154"`), run on each input:
 *
 *   fn describe(v: &Value) -> String {
 *       match v {
 *           Value::String(s) => format!("`{s}`"),
 *           Value::Number(n) => format!("`{n}`"),
 *           Value::Null => "null".into(),
 *           Value::Bool(_) => "a boolean".into(),
 *           Value::Array(a) => format!("an array of {}", a.len()),
 *           Value::Object(o) => format!("an object of {}{}", o.len(),
 *               o.get("a").map(|a| format!(" a={}", describe(a))).unwrap_or_default()),
 *       }
 *   }
 *   match serde_json::from_str::<Value>(&input) {
 *       Ok(v) => format!("ok {}", describe(&v)),
 *       Err(e) => format!("err {e}"),
 *   }
 *
 * and, for the floats, `serde_json::Number::from_f64(x)` and `x` displayed with `{}`. */
#ifndef TRIAL_MATCHING_SERDE_JSON_REFERENCE_H
#define TRIAL_MATCHING_SERDE_JSON_REFERENCE_H

struct parse_case {
    const char *input;
    const char *expected;
};

static const struct parse_case PARSE_CASES[] = {
    {"", "err EOF while parsing a value at line 1 column 0"},
    {" ", "err EOF while parsing a value at line 1 column 1"},
    {"nul", "err EOF while parsing a value at line 1 column 3"},
    {"nulx", "err expected ident at line 1 column 4"},
    {"tru", "err EOF while parsing a value at line 1 column 3"},
    {"true", "ok a boolean"},
    {" false ", "ok a boolean"},
    {"null", "ok null"},
    {"[1,]", "err trailing comma at line 1 column 4"},
    {"[1 2]", "err expected `,` or `]` at line 1 column 4"},
    {"[1,", "err EOF while parsing a value at line 1 column 3"},
    {"[", "err EOF while parsing a list at line 1 column 1"},
    {"{\"a\":1,}", "err trailing comma at line 1 column 8"},
    {"{\"a\" 1}", "err expected `:` at line 1 column 6"},
    {"{\"a\"", "err EOF while parsing an object at line 1 column 4"},
    {"{1:2}", "err key must be a string at line 1 column 2"},
    {"{\"a\":1", "err EOF while parsing an object at line 1 column 6"},
    {"{\"a\":1 \"b\":2}", "err expected `,` or `}` at line 1 column 8"},
    {"{,}", "err key must be a string at line 1 column 2"},
    {"{\"a\":1,", "err EOF while parsing a value at line 1 column 7"},
    {"{\"a\":1,2}", "err key must be a string at line 1 column 8"},
    {"\"abc", "err EOF while parsing a string at line 1 column 4"},
    {"\"a\\x\"", "err invalid escape at line 1 column 4"},
    {"\"\\ud800\"", "err unexpected end of hex escape at line 1 column 8"},
    {"\"\\udc00\"", "err lone leading surrogate in hex escape at line 1 column 7"},
    {"\"\\ud800\\u0041\"", "err lone leading surrogate in hex escape at line 1 column 13"},
    {"\"\\ud800x\"", "err unexpected end of hex escape at line 1 column 8"},
    {"\"\\ud800\\x\"", "err unexpected end of hex escape at line 1 column 9"},
    {"\"\\ud83d\\ude00\"", "ok `\360\237\230\200`"},
    {"\"a\001\"", "err control character (\\u0000-\\u001F) found while parsing a string at line 1 column 3"},
    {"\"\\u00e9\"", "ok `\303\251`"},
    {"\"\\u12\"", "err EOF while parsing a string at line 1 column 6"},
    {"\"\\uzzzz\"", "err invalid escape at line 1 column 7"},
    {"\"\\", "err EOF while parsing a string at line 1 column 2"},
    {"\"\\u", "err EOF while parsing a string at line 1 column 3"},
    {"01", "err invalid number at line 1 column 2"},
    {"-", "err EOF while parsing a value at line 1 column 1"},
    {"-0", "ok `-0.0`"},
    {"-a", "err invalid number at line 1 column 2"},
    {"1.", "err EOF while parsing a value at line 1 column 2"},
    {"1.x", "err invalid number at line 1 column 3"},
    {"1.e3", "err invalid number at line 1 column 3"},
    {"1e", "err EOF while parsing a value at line 1 column 2"},
    {"1e+", "err EOF while parsing a value at line 1 column 3"},
    {"1ex", "err invalid number at line 1 column 3"},
    {"1e400", "err number out of range at line 1 column 5"},
    {"1e-400", "ok `0.0`"},
    {"0e999999999999", "ok `0.0`"},
    {"1e99999999999", "err number out of range at line 1 column 12"},
    {"1e-99999999999", "ok `0.0`"},
    {"18446744073709551615", "ok `18446744073709551615`"},
    {"18446744073709551616", "ok `1.8446744073709552e+19`"},
    {"-9223372036854775808", "ok `-9223372036854775808`"},
    {"-9223372036854775809", "ok `-9.223372036854776e+18`"},
    {"-18446744073709551615", "ok `-1.8446744073709552e+19`"},
    {"123456789012345678901234567890", "ok `1.2345678901234568e+29`"},
    {"123456789012345678901234567890.5e-3", "ok `1.2345678901234568e+26`"},
    {"1.23456789012345678901234567890", "ok `1.2345678901234567`"},
    {"2.0000000000000001", "ok `2.0`"},
    {"0.1", "ok `0.1`"},
    {"1.5e300", "ok `1.5e+300`"},
    {"0.3e1", "ok `3.0`"},
    {"3.0", "ok `3.0`"},
    {"1E2", "ok `100.0`"},
    {"100e-2", "ok `1.0`"},
    {"7e22", "ok `7e+22`"},
    {"7e23", "ok `6.999999999999999e+23`"},
    {"4.35", "ok `4.35`"},
    {"1e308", "ok `1e+308`"},
    {"1.8e308", "err number out of range at line 1 column 7"},
    {"1e-320", "ok `1e-320`"},
    {"0.0000012", "ok `1.2e-6`"},
    {"[1] x", "err trailing characters at line 1 column 5"},
    {"[1]\n\n x", "err trailing characters at line 3 column 2"},
    {"\n\n [1, \n  2,]", "err trailing comma at line 4 column 5"},
    {"{\"a\":1,\"a\":2}", "ok an object of 1 a=`2`"},
    {"{\"a\":{\"b\":[true,null]},\"a\":\"x\"}", "ok an object of 1 a=`x`"},
    {"\357\273\2771", "err expected value at line 1 column 1"},
    {"1\302\240", "err trailing characters at line 1 column 2"},
    {"NaN", "err expected value at line 1 column 1"},
    {"Infinity", "err expected value at line 1 column 1"},
    {"'a'", "err expected value at line 1 column 1"},
    {"[1,2,3]\t\r\n", "ok an array of 3"},
    {"\"caf\303\251\" x", "err trailing characters at line 1 column 9"},
    {"\"\303\251\001\"", "err control character (\\u0000-\\u001F) found while parsing a string at line 1 column 4"},
};

struct float_case {
    double value;
    /* As serde_json's `Number` displays it, and as Rust's `{}` does. */
    const char *json;
    const char *display;
};

static const struct float_case FLOAT_CASES[] = {
    {1.0, "1.0", "1"},
    {3.0, "3.0", "3"},
    {1e15, "1000000000000000.0", "1000000000000000"},
    {1e16, "1e+16", "10000000000000000"},
    {1e-5, "0.00001", "0.00001"},
    {1e-6, "1e-6", "0.000001"},
    {1.5e-7, "1.5e-7", "0.00000015"},
    {123.456, "123.456", "123.456"},
    {-0.0, "-0.0", "-0"},
    {5e-324, "5e-324", "0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000005"},
    {1.7976931348623157e308, "1.7976931348623157e+308", "179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"},
    {0.1, "0.1", "0.1"},
    {0.30000000000000004, "0.30000000000000004", "0.30000000000000004"},
    {1e20, "1e+20", "100000000000000000000"},
    {1e300, "1e+300", "1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"},
    {123456789.0, "123456789.0", "123456789"},
    {9007199254740993.0, "9007199254740992.0", "9007199254740992"},
    {2.5e-5, "0.000025", "0.000025"},
    {1e21, "1e+21", "1000000000000000000000"},
    {12345678901234567890.0, "1.2345678901234567e+19", "12345678901234567000"},
    {100.0, "100.0", "100"},
    {0.001234, "0.001234", "0.001234"},
    {4.35, "4.35", "4.35"},
    {1e22, "1e+22", "10000000000000000000000"},
    {1e23, "1e+23", "100000000000000000000000"},
};

#endif
