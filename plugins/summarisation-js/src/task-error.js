/**
 * The values of the WIT variant `task-error` (wit/types.wit), as the component bindings
 * expect them to be thrown from a function that returns `result<_, task-error>`:
 * `{ tag, val }` with the case's kebab-case name as `tag`.
 */

/** The input was not a JSON object (the record) or not JSON at all. */
export function invalidJson(reason) {
  return { tag: "invalid-json", val: reason };
}

/** A required field is absent; `field` is its JSON Pointer. */
export function missingField(field) {
  return { tag: "missing-field", val: field };
}

/** A field is present but unusable. */
export function invalidField(field, reason) {
  return { tag: "invalid-field", val: { field, reason } };
}

/** Anything else. */
export function other(reason) {
  return { tag: "other", val: reason };
}

/** Whether `value` is one of the values above. */
export function isTaskError(value) {
  return (
    typeof value === "object" &&
    value !== null &&
    ["invalid-json", "missing-field", "invalid-field", "other"].includes(value.tag) &&
    "val" in value
  );
}
