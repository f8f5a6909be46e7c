import assert from "node:assert/strict";
import { test } from "node:test";

import { task } from "../src/app.js";
import { OUTPUT_SCHEMA } from "../src/info.js";

test("declares valid metric names and a string schema", () => {
  const info = task.info();
  assert.equal(info.id, "summarisation-js");
  assert.deepEqual(
    info.metrics.map((m) => [m.name, m.higherIsBetter]),
    [["rouge1", true], ["rouge2", true], ["rougel", true], ["length_ratio", false]],
  );
  for (const metric of info.metrics) {
    assert.match(metric.name, /^[a-z0-9_-]{1,48}$/);
  }
  const schema = JSON.parse(info.outputSchema);
  assert.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
  assert.equal(schema.type, "string");
  assert.equal(info.outputSchema, OUTPUT_SCHEMA);
  assert.deepEqual(info.generation, { maxNewTokens: 256, stop: [] });
});

test("parses the record before each call and reports unusable records", () => {
  const record = '{"id": "s1", "note": "Chest pain.", "summary": "Chest pain; troponin negative."}';
  assert.equal(task.formatExample(record).completion, "Chest pain; troponin negative.");
  assert.equal(task.reward("chest pain, troponin negative", record), 1);
  assert.equal(task.score("chest pain", record).metrics.length, 4);
  assert.throws(() => task.score("x", "[1]"), { tag: "invalid-json", val: "record: expected a JSON object, found an array" });
  assert.throws(() => task.reward("x", "{"), (error) => error.tag === "invalid-json");
});

test("turns a bug into an `other` error naming the function", () => {
  assert.throws(() => task.aggregate([null]), (error) => error.tag === "other" && error.val.startsWith("internal error in `aggregate`: "));
});
