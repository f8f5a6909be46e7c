/**
 * A summarisation record as a training pair: the system prompt and the note as messages,
 * and the reference summary as the completion (the Rust plugin's `format.rs`).
 */

import * as record from "./record.js";
import { trim } from "./whitespace.js";

/** The system prompt used when a recipe sets none. */
export const SYSTEM_PROMPT =
  "You are a clinical documentation assistant. Summarise the clinical note you are " +
  "given in a few plain sentences: the presenting problem, the key findings, the diagnoses, the treatment and the plan. " +
  "Use only facts stated in the note and do not add advice. Answer with the summary alone.";

/**
 * Messages `[system, user]`, the system one being `SYSTEM_PROMPT`, and the completion:
 * the reference summary without surrounding whitespace (which ROUGE ignores and the model
 * need not learn).
 * @param {Record<string, unknown>} example
 */
export function formatExample(example) {
  const note = record.note(example);
  const { text: summary } = record.summary(example);
  return {
    messages: [
      { role: "system", content: SYSTEM_PROMPT },
      { role: "user", content: `Summarise this clinical note.\n\nNote:\n${trim(note)}` },
    ],
    completion: trim(summary),
  };
}
