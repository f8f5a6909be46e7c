/**
 * A record's JSON text parsed as the Rust plugins parse it (`serde_json` 1.0 with default
 * features, into a `serde_json::Value`), so that the same texts are accepted and refused.
 * `JSON.parse` follows the same grammar (RFC 8259), but accepts three things that
 * `serde_json` refuses:
 * - a number whose value `serde_json` finds out of range. Without its `float_roundtrip`
 *   feature, `serde_json` computes a number as its significand (the first digits that fit
 *   a u64) times powers of ten, in f64 steps that are not correctly rounded, and refuses
 *   it when a step overflows: `1e400`, but also `1.7976931348623158e308`, which
 *   `JSON.parse` rounds to the largest f64. `inSerdeRange` repeats those steps;
 * - a `\u` escape of a lone surrogate (`"\ud800"`), which cannot be a Rust string;
 * - arrays and objects nested 128 deep or more: `serde_json` stops at its recursion limit
 *   (the 128th nested container), `JSON.parse` at the engine's stack.
 * These are looked for after parsing. The error texts are the engine's and ours, not
 * `serde_json`'s; the variant (`invalid-json`) is the same.
 */

import { invalidJson } from "./task-error.js";

/** `serde_json`'s recursion limit: containers nested this deep are refused. */
const MAX_DEPTH = 128;

/**
 * Below this magnitude `serde_json`'s steps cannot overflow (it refuses only values
 * within a few units in the last place of the largest f64, or above), so only literals
 * that `JSON.parse` read as at least this large are checked with `inSerdeRange`.
 */
const HUGE = 1e308;

/**
 * Parse `text` as JSON, or throw the reason why `serde_json` would not.
 * @param {string} text
 * @returns {unknown} the parsed value
 */
function parseJson(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(String(error && error.message ? error.message : error));
  }
  const found = { huge: false };
  const problem = unrepresentable(value, 1, found) ?? (found.huge ? numberOutOfRange(text) : undefined);
  if (problem !== undefined) {
    throw new SyntaxError(problem);
  }
  return value;
}

/**
 * The first part of `value` (at nesting `depth`) that `serde_json` would refuse, other
 * than a number; sets `found.huge` when a number is large enough to need `inSerdeRange`.
 */
function unrepresentable(value, depth, found) {
  if (typeof value === "number") {
    found.huge = found.huge || !(Math.abs(value) < HUGE);
    return undefined;
  }
  if (typeof value === "string") {
    return loneSurrogate(value) ? "lone surrogate in a \\u escape" : undefined;
  }
  if (value === null || typeof value !== "object") {
    return undefined;
  }
  if (depth >= MAX_DEPTH) {
    return "recursion limit exceeded";
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = unrepresentable(value[i], depth + 1, found);
      if (problem !== undefined) {
        return problem;
      }
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (loneSurrogate(key)) {
      return "lone surrogate in a \\u escape";
    }
    const problem = unrepresentable(value[key], depth + 1, found);
    if (problem !== undefined) {
      return problem;
    }
  }
  return undefined;
}

const U64_MAX = 18446744073709551615n;
const I32_MAX = 2147483647;
const I32_MIN = -2147483648;

/** `serde_json`'s `POW10`: the f64 nearest to 1e0 … 1e308, as Rust rounds those literals. */
const POW10 = Array.from({ length: 309 }, (_, exponent) => Number(`1e${exponent}`));

/**
 * The first number literal of the JSON text `text` (valid JSON: `JSON.parse` read it)
 * that `serde_json` refuses as out of range, as a message; `undefined` if none.
 */
function numberOutOfRange(text) {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit === 0x22) {
      // Skip a string: its end is the next quote that no backslash escapes.
      for (i += 1; text.charCodeAt(i) !== 0x22; i++) {
        if (text.charCodeAt(i) === 0x5c) {
          i += 1;
        }
      }
    } else if (unit === 0x2d || (unit >= 0x30 && unit <= 0x39)) {
      let end = i + 1;
      while (end < text.length && "0123456789.eE+-".includes(text[end])) {
        end += 1;
      }
      const literal = text.slice(i, end);
      if (!inSerdeRange(literal)) {
        return `number \`${literal}\` out of range`;
      }
      i = end - 1;
    }
  }
  return undefined;
}

/**
 * Whether `serde_json` reads the JSON number `literal` without "number out of range".
 * Its `parse_integer`, `parse_long_integer`, `parse_decimal`, `parse_decimal_overflow`,
 * `parse_exponent`, `parse_exponent_overflow` and `f64_from_parts` (without
 * `float_roundtrip`): digits accumulate in a u64 significand until the next one would
 * overflow it; further integer digits raise the decimal exponent, further fraction digits
 * are dropped; the value is `significand as f64` scaled by powers of ten, failing when a
 * multiplication reaches infinity.
 * @param {string} literal a number as JSON's grammar spells it
 */
export function inSerdeRange(literal) {
  const text = literal.startsWith("-") ? literal.slice(1) : literal;
  const isDigit = (index) => index < text.length && text[index] >= "0" && text[index] <= "9";
  let index = 0;
  let significand = 0n;
  let exponent = 0;
  let overflowed = false;
  for (; isDigit(index); index++) {
    const next = significand * 10n + BigInt(text[index]);
    if (overflowed || next > U64_MAX) {
      overflowed = true;
      exponent += 1;
    } else {
      significand = next;
    }
  }
  if (text[index] === ".") {
    let dropping = false;
    for (index += 1; isDigit(index); index++) {
      const next = significand * 10n + BigInt(text[index]);
      dropping = dropping || next > U64_MAX;
      if (!dropping) {
        significand = next;
        exponent -= 1;
      }
    }
  }
  if (text[index] === "e" || text[index] === "E") {
    index += 1;
    const positiveExponent = text[index] !== "-";
    if (text[index] === "+" || text[index] === "-") {
      index += 1;
    }
    let written = 0;
    for (; isDigit(index); index++) {
      written = written * 10 + Number(text[index]);
      if (written > I32_MAX) {
        // `parse_exponent_overflow`: zero, unless the exponent overflows upwards.
        return significand === 0n || !positiveExponent;
      }
    }
    exponent = Math.min(I32_MAX, Math.max(I32_MIN, positiveExponent ? exponent + written : exponent - written));
  }
  let value = Number(significand);
  for (;;) {
    const magnitude = Math.abs(exponent);
    if (magnitude < POW10.length) {
      return exponent < 0 || value * POW10[magnitude] !== Infinity;
    }
    if (value === 0) {
      return true;
    }
    if (exponent >= 0) {
      return false;
    }
    value /= 1e308;
    exponent += 308;
  }
}

/** Whether `text` holds a UTF-16 surrogate that is not half of a pair. */
function loneSurrogate(text) {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (next < 0xdc00 || next > 0xdfff) {
        return true;
      }
      i += 1;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return true;
    }
  }
  return false;
}

/**
 * The JSON type name of a value, for error messages (the SDK's `json_kind`).
 * @param {unknown} value
 */
export function jsonKind(value) {
  if (value === null) {
    return "null";
  }
  if (Array.isArray(value)) {
    return "an array";
  }
  switch (typeof value) {
    case "boolean":
      return "a boolean";
    case "number":
      return "a number";
    case "string":
      return "a string";
    default:
      return "an object";
  }
}

/**
 * Parse a record's JSON text into an object, or throw the `task-error` that says why it
 * is not one (the SDK's `parse_example`).
 * @param {string} text
 * @returns {Record<string, unknown>}
 */
export function parseExample(text) {
  let value;
  try {
    value = parseJson(text);
  } catch (error) {
    throw invalidJson(`record: ${error.message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalidJson(`record: expected a JSON object, found ${jsonKind(value)}`);
  }
  return value;
}
