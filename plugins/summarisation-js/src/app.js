/**
 * `summarisation-js`: the `summarisation` task of rapha-host in JavaScript, a port of the
 * Rust plugin `plugins/summarisation` that gives the same results to the last bit.
 *
 * A record is `{"id", "note", "summary"}`; the model writes a summary of the note, and the
 * plugin scores it with ROUGE-1, ROUGE-2 and ROUGE-L F-measures computed exactly as
 * Google's `rouge-score` 0.1.2 computes them with `use_stemmer=True`, plus a length ratio.
 * The reward is the ROUGE-L F-measure.
 *
 * This module is the component's export: the interface `task` of the WIT world
 * `task-plugin` (package `rapha:task@0.1.0`; PLUGINS.md explains the contract). A WIT
 * record is an object with camelCase fields, an enum a string, and a function returning
 * `result<T, E>` returns T or throws E. Modules: `tokenize` and `porter` produce the
 * tokens, `rouge` compares them, `score` defines the metrics and their corpus values,
 * `format` builds the training pair, `record` and `json` read the record, `info` declares
 * it all to the host.
 */

import { formatExample } from "./format.js";
import { info } from "./info.js";
import { parseExample } from "./json.js";
import { aggregate, reward, score, validate } from "./score.js";
import { isTaskError, other } from "./task-error.js";

/**
 * Run `call`, turning anything it throws that is not a `task-error` (a bug) into an
 * `other` error that names the function, instead of a value the bindings cannot lower.
 */
function guarded(name, call) {
  try {
    return call();
  } catch (error) {
    if (isTaskError(error)) {
      throw error;
    }
    throw other(`internal error in \`${name}\`: ${error}`);
  }
}

export const task = {
  info,

  formatExample(example) {
    return guarded("format-example", () => formatExample(parseExample(example)));
  },

  score(prediction, example) {
    return guarded("score", () => score(prediction, parseExample(example)));
  },

  aggregate(scores) {
    return guarded("aggregate", () => aggregate(scores));
  },

  reward(prediction, example) {
    return guarded("reward", () => reward(prediction, parseExample(example)));
  },

  validate(prediction) {
    validate(prediction);
  },
};
