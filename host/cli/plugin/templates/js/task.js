/**
 * The task itself, in plain JavaScript: no bindings, so `test/` runs it natively
 * (`node --test`).
 *
 * The skeleton's task labels a clinical note (`{"id", "note", "label"}` records; the answer
 * is `{"label": "..."}`): small enough to read in a minute, complete enough to build, check
 * and score. Replace it with yours.
 *
 * To add a metric, add an entry to `METRICS`: `info` declares it, `score` computes it for
 * every record and `aggregate` averages it; nothing else changes.
 */

export const OUTPUT_SCHEMA = JSON.stringify({
  type: "object",
  properties: { label: { type: "string", minLength: 1 } },
  required: ["label"],
  additionalProperties: false,
});

export const SYSTEM_PROMPT = 'Read the clinical note and answer with its label as JSON: {"label": "..."}.';

/** A record the task cannot use: `field` is a JSON Pointer ("" for the whole record). */
export class RecordError extends Error {
  constructor(field, reason) {
    super(`${field || "record"}: ${reason}`);
    this.field = field;
    this.reason = reason;
  }
}

/**
 * Per-record metrics: `compute(predictedLabel, record)`, where the label is null when the
 * prediction is not a JSON object with a string `label`.
 */
export const METRICS = [
  {
    name: "exact_match",
    higherIsBetter: true,
    description: "1 when the predicted label equals the record's, else 0",
    compute: (predicted, record) => (predicted === record.label ? 1 : 0),
  },
  // A new metric: one more entry here.
];

/** The record's fields the task uses, or a `RecordError`. */
export function parseRecord(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RecordError("", `not JSON: ${error.message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new RecordError("", "expected a JSON object");
  }
  for (const name of ["note", "label"]) {
    if (!(name in value)) throw new RecordError(`/${name}`, "missing");
    if (typeof value[name] !== "string") throw new RecordError(`/${name}`, "expected a string");
  }
  return { note: value.note, label: value.label };
}

/** The completion a run trains on: the answer a perfect model gives. */
export function target(record) {
  return JSON.stringify({ label: record.label });
}

/** The label of a prediction, or null when it is not `{"label": "..."}` JSON. */
export function predictedLabel(prediction) {
  let value;
  try {
    value = JSON.parse(prediction);
  } catch {
    return null;
  }
  const isObject = value !== null && typeof value === "object" && !Array.isArray(value);
  return isObject && typeof value.label === "string" ? value.label : null;
}

/** `[{ name, value }]`, one per metric in `METRICS` order. */
export function score(prediction, record) {
  const label = predictedLabel(prediction);
  return METRICS.map((metric) => ({ name: metric.name, value: metric.compute(label, record) }));
}

/** Each metric's mean over the records' scores (0 for none); a score is `{ name: value }`. */
export function aggregate(scores) {
  return METRICS.map((metric) => ({
    name: metric.name,
    value: scores.length === 0 ? 0 : scores.reduce((sum, s) => sum + s[metric.name], 0) / scores.length,
  }));
}

export function reward(prediction, record) {
  return predictedLabel(prediction) === record.label ? 1 : 0;
}

/** The first rule the prediction breaks, as `{ path, reason }`, or null. */
export function violation(prediction) {
  return predictedLabel(prediction) === null
    ? { path: "", reason: 'expected a JSON object with a string "label"' }
    : null;
}
