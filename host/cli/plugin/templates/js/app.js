/**
 * The `{{id}}` task plugin for rapha-host.
 *
 * Every function of the contract is here: `info` is a valid declaration to edit, and the
 * others fail with "not implemented" until you fill them in. The contract, with an example
 * of each function, is PLUGINS.md in the rapha-host repository; the WIT files in `wit/`
 * (from `rapha-host plugin wit`) are its reference.
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
 * time. Keep the task logic in modules beside this file so that you can unit-test it
 * natively (`node --test`), then through the host with `plugin check`.
 */

/** The error every unfinished function throws, naming itself. */
function notImplemented(name) {
  return { tag: "other", val: `not implemented: fill in \`${name}\` in app.js` };
}

export const task = {
  /** Describe the task: id, version, metrics, output JSON Schema, hints, system prompt. */
  info() {
    return {
      id: "{{id}}",
      version: "0.1.0",
      description: "Describe the task in one line.",
      metrics: [
        {
          name: "placeholder",
          higherIsBetter: true,
          description: "Replace with the task's metrics.",
        },
      ],
      outputSchema: '{"type":"string"}',
      generation: { maxNewTokens: 256, stop: [] },
      systemPrompt: "Describe what the model should do.",
    };
  },

  /**
   * One record (`example`: its JSON text) → `{ messages: [{ role, content }], completion }`.
   * Parse it with `JSON.parse`; throw `{ tag: "missing-field", val: "/note" }` and the like
   * for a record you cannot use.
   */
  formatExample(example) {
    throw notImplemented("formatExample");
  },

  /** A prediction against its record → `{ metrics: [{ name, value }], counts: [{ key, value }] }`. */
  score(prediction, example) {
    throw notImplemented("score");
  },

  /** The records' scores, in dataset order → corpus metrics `[{ name, value }]`. */
  aggregate(scores) {
    throw notImplemented("aggregate");
  },

  /** A number in [0, 1] rewarding the prediction. */
  reward(prediction, example) {
    throw notImplemented("reward");
  },

  /** Return nothing when the prediction keeps the task's rules; throw the first violation. */
  validate(prediction) {
    throw { path: "", reason: "not implemented: fill in `validate` in app.js" };
  },
};
