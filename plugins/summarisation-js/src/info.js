/**
 * What the plugin declares about itself: metrics, output schema, hints. Everything but
 * the id, the version and the description is the Rust plugin's `info.rs`, byte for byte.
 */

import { SYSTEM_PROMPT } from "./format.js";
import { LENGTH_RATIO, ROUGE1, ROUGE2, ROUGEL } from "./score.js";

/** The plugin's own version (semver). */
const VERSION = "0.1.0";

/**
 * The prediction is the summary itself, plain text rather than JSON; as a JSON value it
 * is one string, which is what this schema describes.
 */
export const OUTPUT_SCHEMA = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Clinical note summary",
  "description": "The summary as plain text. The prediction is the generated text itself, not JSON: its value is this string.",
  "type": "string",
  "minLength": 1
}`;

export function info() {
  return {
    id: "summarisation-js",
    version: VERSION,
    description:
      "Summarise a clinical note; scored with ROUGE as Google's rouge-score computes it (JavaScript port of `summarisation`).",
    metrics: [
      {
        name: ROUGE1,
        higherIsBetter: true,
        description:
          "ROUGE-1 F-measure as rouge-score 0.1.2 computes `rouge1` with use_stemmer=True; corpus: mean over records.",
      },
      {
        name: ROUGE2,
        higherIsBetter: true,
        description:
          "ROUGE-2 F-measure as rouge-score 0.1.2 computes `rouge2` with use_stemmer=True; corpus: mean over records.",
      },
      {
        name: ROUGEL,
        higherIsBetter: true,
        description:
          "ROUGE-L F-measure (sentence-level LCS, not rougeLsum) as rouge-score 0.1.2 computes `rougeL` with use_stemmer=True; corpus: mean over records.",
      },
      {
        name: LENGTH_RATIO,
        higherIsBetter: false,
        description:
          "Prediction tokens / reference tokens (rouge-score tokens); corpus: total prediction tokens / total reference tokens; 1 is ideal, neither direction is better.",
      },
    ],
    outputSchema: OUTPUT_SCHEMA,
    generation: { maxNewTokens: 256, stop: [] },
    systemPrompt: SYSTEM_PROMPT,
  };
}
