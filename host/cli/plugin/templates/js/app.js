/**
 * The `{{id}}` task plugin for rapha-host: the contract's glue around `task.js`.
 *
 * The contract, with an example of each function, is PLUGINS.md in the rapha-host
 * repository; the WIT files in `wit/` (from `rapha-host plugin wit`) are its reference.
 *
 * How jco maps the WIT to JavaScript: the exported interface `task` is the exported object
 * `task`, its functions camelCase (`format-example` is `formatExample`); a WIT record is a
 * plain object with camelCase fields (`higher-is-better` is `higherIsBetter`); an enum is a
 * string (`"system"`, `"user"`); a list is an array; `f64` and `u32` are numbers. A function
 * returning `result<T, E>` returns T, or throws E: a `task-error` is thrown as
 * `{ tag: "other", val: "why" }` (tags `invalid-json`, `missing-field`, `invalid-field`
 * with `val: { field, reason }`, `other`), a `violation` as `{ path, reason }`.
 *
 * Any other exception makes the call trap; its message and stack go to the plugin's log.
 *
 * Keep every function pure (PLUGINS.md, "Determinism"): no state between calls, no clock,
 * no randomness. Plain ES modules only: the plugin has no I/O and no npm packages at run
 * time.
 */

import * as logic from "./task.js";

/** The record, or the contract's error naming what is wrong with it. */
function record(example) {
  try {
    return logic.parseRecord(example);
  } catch (error) {
    if (!(error instanceof logic.RecordError)) throw error;
    if (error.field === "") throw { tag: "invalid-json", val: error.reason };
    if (error.reason === "missing") throw { tag: "missing-field", val: error.field };
    throw { tag: "invalid-field", val: { field: error.field, reason: error.reason } };
  }
}

export const task = {
  info() {
    return {
      id: "{{id}}",
      version: "0.1.0",
      description: "Label a clinical note (the skeleton's task: replace it with yours).",
      metrics: logic.METRICS.map(({ name, higherIsBetter, description }) => ({ name, higherIsBetter, description })),
      outputSchema: logic.OUTPUT_SCHEMA,
      generation: { maxNewTokens: 32, stop: [] },
      systemPrompt: logic.SYSTEM_PROMPT,
    };
  },

  formatExample(example) {
    const parsed = record(example);
    return { messages: [{ role: "user", content: parsed.note }], completion: logic.target(parsed) };
  },

  score(prediction, example) {
    return { metrics: logic.score(prediction, record(example)), counts: [] };
  },

  aggregate(scores) {
    const values = scores.map((s) => Object.fromEntries(s.metrics.map((m) => [m.name, m.value])));
    return logic.aggregate(values);
  },

  reward(prediction, example) {
    return logic.reward(prediction, record(example));
  },

  validate(prediction) {
    const broken = logic.violation(prediction);
    if (broken !== null) throw broken;
  },
};
