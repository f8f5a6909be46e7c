import assert from "node:assert/strict";
import { test } from "node:test";

import { formatExample, SYSTEM_PROMPT } from "../src/format.js";
import { parseExample } from "../src/json.js";
import { note, summary } from "../src/record.js";

test("names the missing or unusable field", () => {
  assert.throws(() => summary(parseExample('{"id": "1", "note": "Seen today."}')), {
    tag: "missing-field",
    val: "/summary",
  });
  const blank = parseExample('{"id": "1", "note": "  ", "summary": "\u2014 !"}');
  assert.throws(() => note(blank), {
    tag: "invalid-field",
    val: { field: "/note", reason: "expected a non-empty string, found only whitespace" },
  });
  assert.throws(() => summary(blank), {
    tag: "invalid-field",
    val: {
      field: "/summary",
      reason: "expected a summary with at least one word (a run of `[a-z0-9]` after lowercasing), found none",
    },
  });
  assert.throws(() => note(parseExample('{"note": 3}')), {
    tag: "invalid-field",
    val: { field: "/note", reason: "expected a string, found a number" },
  });
  for (const [json, kind] of [["null", "null"], ["true", "a boolean"], ["[]", "an array"], ["{}", "an object"]]) {
    assert.throws(() => note(parseExample(`{"note": ${json}}`)), {
      tag: "invalid-field",
      val: { field: "/note", reason: `expected a string, found ${kind}` },
    });
  }
});

test("builds system and user messages and the trimmed summary", () => {
  const formatted = formatExample(
    parseExample(
      '{"id": "s1", "note": "  72M, chest pain x2d. Trop neg.\\n", "summary": " Chest pain; troponin negative.\\n"}',
    ),
  );
  assert.deepEqual(formatted, {
    messages: [
      { role: "system", content: SYSTEM_PROMPT },
      { role: "user", content: "Summarise this clinical note.\n\nNote:\n72M, chest pain x2d. Trop neg." },
    ],
    completion: "Chest pain; troponin negative.",
  });
});

test("checks the note before the summary", () => {
  assert.throws(() => formatExample(parseExample('{"id": "s1", "summary": "ok"}')), {
    tag: "missing-field",
    val: "/note",
  });
});
