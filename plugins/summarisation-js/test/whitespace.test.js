import assert from "node:assert/strict";
import { test } from "node:test";

import { trim, WHITE_SPACE } from "../src/whitespace.js";

test("the set is Unicode's White_Space property", () => {
  const expected = [];
  for (let code = 0; code <= 0x10ffff; code++) {
    if (!(code >= 0xd800 && code <= 0xdfff) && /\p{White_Space}/u.test(String.fromCodePoint(code))) {
      expected.push(code);
    }
  }
  assert.deepEqual([...WHITE_SPACE].sort((a, b) => a - b), expected);
});

test("trims as Rust's str::trim, not as String.prototype.trim", () => {
  assert.equal(trim(" \t\n a b \r\n"), "a b");
  assert.equal(trim("\u0085note\u3000"), "note");
  // U+FEFF is not White_Space: Rust keeps it, JavaScript's trim would not.
  assert.equal(trim("\ufeffnote\ufeff"), "\ufeffnote\ufeff");
  // U+001C..U+001F are not White_Space either (Python's isspace says they are).
  assert.equal(trim("\u001cnote"), "\u001cnote");
  assert.equal(trim(" \u00a0 "), "");
  assert.equal(trim(""), "");
});
