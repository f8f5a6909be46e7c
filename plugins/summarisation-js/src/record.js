/**
 * The fields of a summarisation record: `{"id", "note", "summary"}`, checked as the Rust
 * plugin's `record.rs` checks them, with the same field pointers and reasons.
 */

import { jsonKind } from "./json.js";
import { invalidField, missingField } from "./task-error.js";
import { tokenize } from "./tokenize.js";
import { trim } from "./whitespace.js";

/**
 * A required string field of a record, or the `task-error` that names it (the SDK's
 * `required_str`).
 * @param {Record<string, unknown>} example
 * @param {string} field
 * @returns {string}
 */
export function requiredStr(example, field) {
  if (!Object.hasOwn(example, field)) {
    throw missingField(`/${field}`);
  }
  const value = example[field];
  if (typeof value !== "string") {
    throw invalidField(`/${field}`, `expected a string, found ${jsonKind(value)}`);
  }
  return value;
}

/**
 * The clinical note to summarise: a string with at least one non-space character.
 * @param {Record<string, unknown>} example
 * @returns {string}
 */
export function note(example) {
  const text = requiredStr(example, "note");
  if (trim(text) === "") {
    throw invalidField("/note", "expected a non-empty string, found only whitespace");
  }
  return text;
}

/**
 * The reference summary and its ROUGE tokens. A reference without a single `[a-z0-9]`
 * run is refused: ROUGE and the length ratio are undefined against it.
 * @param {Record<string, unknown>} example
 * @returns {{ text: string, tokens: string[] }}
 */
export function summary(example) {
  const text = requiredStr(example, "summary");
  const tokens = tokenize(text);
  if (tokens.length === 0) {
    throw invalidField(
      "/summary",
      "expected a summary with at least one word (a run of `[a-z0-9]` after lowercasing), found none",
    );
  }
  return { text, tokens };
}
