import assert from "node:assert/strict";
import { test } from "node:test";

import { inSerdeRange, parseExample } from "../src/json.js";

const invalidJson = (error) => error.tag === "invalid-json" && error.val.startsWith("record: ");

test("refuses a record that is not a JSON object, naming what it is", () => {
  for (const [text, kind] of [["[1]", "an array"], ["3", "a number"], ['"s"', "a string"], ["null", "null"], ["true", "a boolean"]]) {
    assert.throws(() => parseExample(text), { tag: "invalid-json", val: `record: expected a JSON object, found ${kind}` });
  }
  for (const text of ["", "{", '{"a": 1} x', "\ufeff{}", '{"a": 01}', '{"a": 1.}', '{"a": "\u0001"}']) {
    assert.throws(() => parseExample(text), invalidJson, JSON.stringify(text));
  }
});

/** What serde_json refuses and JSON.parse accepts (the Rust plugin answers `invalid-json`). */
test("refuses what serde_json refuses", () => {
  assert.throws(() => parseExample('{"n": 1e400}'), invalidJson);
  assert.throws(() => parseExample('{"n": [-1e400]}'), invalidJson);
  assert.throws(() => parseExample('{"s": "\\ud800"}'), invalidJson);
  assert.throws(() => parseExample('{"s": "x\\udc00"}'), invalidJson);
  assert.throws(() => parseExample('{"\\ud800": 1}'), invalidJson);
  // serde_json's recursion limit: the 128th nested container is refused.
  const nested = (depth) => `{"d": ${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`;
  assert.deepEqual(Object.keys(parseExample(nested(127))), ["d"]);
  assert.throws(() => parseExample(nested(128)), invalidJson);
  assert.throws(() => parseExample(nested(100000)), invalidJson);
});

/**
 * Verdicts of the Rust plugin (serde_json 1.0.154, default features) on records holding
 * each number: `false` where it answered "number out of range".
 */
const SERDE_NUMBER_VERDICTS = [
  ["1.7976931348623157e308", true],
  ["1.7976931348623158e308", false],
  ["-1.7976931348623158e308", false],
  ["1.797693134862315807e308", false],
  [`17976931348623157${"0".repeat(292)}`, false],
  ["8.98846567431158e307", true],
  ["1e308", true],
  ["10e308", false],
  ["1e309", false],
  ["0.1e309", true],
  ["0e400", true],
  ["1e2147483648", false],
  ["1e-2147483648", true],
  ["0.000001e2147483648", false],
  ["18446744073709551615e289", false],
  ["184467440737095516190.5e288", false],
];

test("refuses numbers exactly where serde_json's arithmetic overflows", () => {
  for (const [literal, accepted] of SERDE_NUMBER_VERDICTS) {
    assert.equal(inSerdeRange(literal), accepted, literal);
    const record = `{"note": "a", "summary": "b", "n": [${literal}]}`;
    if (accepted) {
      assert.equal(parseExample(record).note, "a", literal);
    } else {
      assert.throws(() => parseExample(record), invalidJson, literal);
    }
  }
  // A string that looks like a huge number is not one.
  assert.equal(parseExample('{"s": "1e999", "n": 1e308}').s, "1e999");
});

test("accepts what serde_json accepts", () => {
  assert.deepEqual(parseExample(' {"n": 1e-400, "s": "\\ud83d\\ude00", "a": "x", "a": "y"}\r\n'), {
    n: 0,
    s: "\u{1F600}",
    a: "y",
  });
});
