import assert from "node:assert/strict";
import { test } from "node:test";

import { tokenize } from "../src/tokenize.js";

/**
 * Expected tokens printed by `plugins/summarisation/tests/reference.py` with rouge-score
 * 0.1.2 and nltk 3.10.4 (`tokenizers.DefaultTokenizer(use_stemmer=True).tokenize`).
 */
const TOKEN_CASES = [
  [
    "The patient's BP was 140/90 mm-Hg; HbA1c 7.2%.",
    ["the", "patient", "s", "bp", "was", "140", "90", "mm", "hg", "hba1c", "7", "2"],
  ],
  ["  Dying skies, studies & relational-databases\n", ["die", "sky", "studi", "relat", "databas"]],
  ["Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u2014 \u00fcber", ["caf", "na", "ve", "r", "sum", "ber"]],
  ["\u0130STANBUL 5 \u212aELVIN", ["i", "stanbul", "5", "kelvin"]],
  ["was has his wa ha hi abcd", ["was", "has", "his", "wa", "ha", "hi", "abcd"]],
  ["", []],
  ["... --- !!!", []],
];

test("tokenizes as rouge-score", () => {
  for (const [text, expected] of TOKEN_CASES) {
    assert.deepEqual(tokenize(text), expected, `tokens of ${JSON.stringify(text)}`);
  }
});

test("a character outside the Basic Multilingual Plane separates tokens", () => {
  assert.deepEqual(tokenize("abc\u{1F600}def\u{1D400}x"), ["abc", "def", "x"]);
});

/**
 * The tokenizer spells out the only code points whose full lowercase mapping contains
 * `[a-z0-9]`; Node's `toLowerCase` (ICU's tables, independent of that list) must agree for
 * every code point, and so did Rust's `char::to_lowercase` when the list was made.
 */
test("only A-Z, U+0130 and U+212A lowercase to ASCII letters", () => {
  const found = [];
  for (let code = 0x80; code <= 0x10ffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) {
      continue;
    }
    if (/[a-z0-9]/.test(String.fromCodePoint(code).toLowerCase())) {
      found.push(code.toString(16));
    }
  }
  assert.deepEqual(found, ["130", "212a"]);
  assert.deepEqual(tokenize("\u0130"), ["i"]);
  assert.deepEqual(tokenize("\u0130\u0130"), ["i", "i"]);
  assert.deepEqual(tokenize("x\u212a"), ["xk"]);
});
