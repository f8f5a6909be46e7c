"""JSON read exactly as the Rust plugins read it (serde_json 1.0, default features).

Python's `json` module accepts more than serde_json does, and where the two disagree the
Rust plugin would call a prediction "not JSON" while this one would not. The differences,
and how each is closed:

- `NaN`, `Infinity`, `-Infinity`: rejected (`parse_constant`).
- Numbers: serde_json fails with "number out of range" when its own arithmetic (not
  correctly rounded: `float_roundtrip` is off) overflows. `_serde_number_in_range`
  repeats that arithmetic step by step; Python floats are the same IEEE doubles.
  Digits outside ASCII, which Python's pure-Python scanner would take, are rejected.
- Escapes that leave a lone UTF-16 surrogate (`"\\ud800"`): serde_json refuses them;
  Python keeps the surrogate, so any string holding one is rejected after parsing.
- Nesting: serde_json refuses arrays and objects nested 128 deep (its recursion limit);
  deeper text is refused here before Python's recursive parser sees it.
- Surrounding white space: Rust's `str::trim` removes Unicode `White_Space`, Python's
  `str.strip()` a different set (it includes U+001C..U+001F): `trim` uses Rust's set.

Duplicate object keys keep the last value in both.
"""

import json

# Unicode `White_Space`, which Rust's `char::is_whitespace` and `str::trim` use.
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

# serde_json's recursion limit: an array or object at this depth is an error.
MAX_DEPTH = 128

_U64_MAX = 2**64 - 1
_I32_MAX = 2**31 - 1
_I32_MIN = -(2**31)
# serde_json's `POW10`: the doubles nearest 1e0 .. 1e308, as Rust's literals round them.
_POW10 = tuple(float(f"1e{exponent}") for exponent in range(309))


class NotJson(ValueError):
    """The text is not JSON as serde_json reads it."""


def trim(text: str) -> str:
    """`text` without surrounding Unicode white space, as Rust's `str::trim`."""
    return text.strip(WHITE_SPACE)


def _serde_number_in_range(literal: str) -> bool:
    """Whether serde_json reads the JSON number `literal` without "number out of range".

    `literal` matches JSON's number grammar (the scanner checked it). This follows
    serde_json's `parse_integer`, `parse_long_integer`, `parse_decimal`,
    `parse_decimal_overflow`, `parse_exponent`, `parse_exponent_overflow` and
    `f64_from_parts` without `float_roundtrip`: digits accumulate in a u64 significand
    until it would overflow, further integer digits raise the decimal exponent, further
    fraction digits are dropped, and the double is `significand as f64` scaled by
    powers of ten, failing if a step reaches infinity."""
    text = literal.lstrip("-")
    length = len(text)
    index = 0
    significand = 0
    exponent = 0
    overflowed = False
    while index < length and text[index].isdigit():
        if overflowed or significand * 10 + int(text[index]) > _U64_MAX:
            overflowed = True
            exponent += 1
        else:
            significand = significand * 10 + int(text[index])
        index += 1
    if index < length and text[index] == ".":
        index += 1
        fraction_overflowed = False
        while index < length and text[index].isdigit():
            digit = int(text[index])
            if not fraction_overflowed and significand * 10 + digit > _U64_MAX:
                fraction_overflowed = True
            if not fraction_overflowed:
                significand = significand * 10 + digit
                exponent -= 1
            index += 1
    if index < length and text[index] in "eE":
        index += 1
        positive_exponent = text[index] != "-"
        if text[index] in "+-":
            index += 1
        written = 0
        while index < length:
            written = written * 10 + int(text[index])
            if written > _I32_MAX:
                # `parse_exponent_overflow`: zero, unless it overflows upwards.
                return significand == 0 or not positive_exponent
            index += 1
        exponent = exponent + written if positive_exponent else exponent - written
        exponent = max(_I32_MIN, min(_I32_MAX, exponent))
    value = float(significand)
    while True:
        magnitude = abs(exponent)
        if magnitude < len(_POW10):
            if exponent >= 0:
                return value * _POW10[magnitude] != float("inf")
            return True
        if value == 0.0:
            return True
        if exponent >= 0:
            return False
        value /= 1e308
        exponent += 308


def _number(literal: str) -> float:
    if not literal.isascii() or not _serde_number_in_range(literal):
        raise NotJson(f"number `{literal}` out of range")
    return float(literal)


def _constant(name: str):
    raise NotJson(f"`{name}` is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_number, parse_int=_number)


def _too_deep(text: str) -> bool:
    """Whether arrays and objects outside strings nest `MAX_DEPTH` deep somewhere."""
    if text.count("[") + text.count("{") < MAX_DEPTH:
        return False
    depth = 0
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth >= MAX_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _has_surrogate(value) -> bool:
    """Whether a string in `value` (a key or a value, at any depth) holds a surrogate,
    which UTF-8 cannot encode."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
    return False


def parse(text: str):
    """The JSON value of `text` (white space around it allowed, as JSON's grammar says),
    or `NotJson` where serde_json would fail."""
    if _too_deep(text):
        raise NotJson(f"recursion limit exceeded: arrays or objects nested {MAX_DEPTH} deep")
    try:
        value = _DECODER.decode(text)
    except RecursionError as error:
        raise NotJson("recursion limit exceeded") from error
    except ValueError as error:
        raise NotJson(str(error)) from error
    # Only a `\u` escape can put a surrogate in a string: the text itself is valid Unicode.
    if "\\u" in text and _has_surrogate(value):
        raise NotJson("lone surrogate in a string escape")
    return value


def _strip_fence(text: str):
    if not (text.startswith("```") and text[3:].endswith("```")):
        return None
    body = text[3:-3]
    return trim(body.removeprefix("json"))


def parse_prediction_json(prediction: str):
    """A prediction read as JSON, as `rapha_task_sdk::parse_prediction_json`: surrounding
    white space is ignored, and so is one Markdown code fence around the value
    (```` ```json … ``` ````); anything else around it makes it invalid. Returns
    `(True, value)`, or `(False, None)` when it is not JSON."""
    text = trim(prediction)
    fenced = _strip_fence(text)
    try:
        return True, parse(text if fenced is None else fenced)
    except NotJson:
        return False, None


def json_kind(value) -> str:
    """The JSON type name of a value, for error messages, as `rapha_task_sdk::json_kind`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
