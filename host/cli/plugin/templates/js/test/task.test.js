// Native tests of `task.js` (`node --test`): no toolchain, no component.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import * as task from "../task.js";

const records = readFileSync(new URL("../data/val.jsonl", import.meta.url), "utf8").split("\n").filter(Boolean);
const record = { note: "Chest pain.", label: "urgent" };
const exactMatch = (prediction) => task.score(prediction, record).find((m) => m.name === "exact_match").value;

test("the target is the record's label as JSON", () => {
  for (const line of records) {
    assert.deepEqual(JSON.parse(task.target(task.parseRecord(line))), { label: JSON.parse(line).label });
  }
});

test("a record without a label names the field", () => {
  assert.throws(() => task.parseRecord('{"id": "x", "note": "text"}'), { field: "/label", reason: "missing" });
  assert.throws(() => task.parseRecord("note: text"), { field: "" });
});

test("every metric is scored, in order", () => {
  assert.deepEqual(
    task.score(task.target(record), record).map((m) => m.name),
    task.METRICS.map((m) => m.name),
  );
});

test("exact match", () => {
  assert.equal(exactMatch(task.target(record)), 1);
  assert.equal(exactMatch('{"label": "routine"}'), 0);
  assert.equal(exactMatch("urgent"), 0);
});

test("the target earns a perfect reward and passes validate", () => {
  assert.equal(task.reward(task.target(record), record), 1);
  assert.equal(task.violation(task.target(record)), null);
  assert.equal(task.violation("[]").path, "");
});

test("aggregate is each metric's mean", () => {
  const scores = [task.target(record), "no"].map((p) =>
    Object.fromEntries(task.score(p, record).map((m) => [m.name, m.value])),
  );
  assert.equal(task.aggregate(scores).find((m) => m.name === "exact_match").value, 0.5);
  assert.equal(task.aggregate([]).find((m) => m.name === "exact_match").value, 0);
});
