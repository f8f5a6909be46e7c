import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { stem } from "../src/porter.js";

/**
 * The Rust plugin's fixture, written by `plugins/summarisation/tests/porter_fixture.py`
 * with NLTK 3.10.4: tricky words for each rule and every word of the ICD-10-CM FY2026
 * descriptions, each with NLTK's stem.
 */
const FIXTURE = new URL("../../summarisation/tests/porter-nltk.tsv", import.meta.url);

test("stems the fixture exactly as NLTK", () => {
  const wrong = [];
  let checked = 0;
  for (const line of readFileSync(FIXTURE, "utf8").split("\n")) {
    if (line === "") {
      continue;
    }
    const [word, expected] = line.split("\t");
    const got = stem(word);
    if (got !== expected) {
      wrong.push(`${word}: expected \`${expected}\`, got \`${got}\``);
    }
    checked += 1;
  }
  assert.ok(checked > 7000, `fixture too small: ${checked} words`);
  assert.deepEqual(wrong, [], `${wrong.length} of ${checked} stems differ from NLTK`);
});

test("applies NLTK extensions rather than the original algorithm", () => {
  // Irregular forms, before any rule.
  assert.equal(stem("dying"), "die");
  assert.equal(stem("skies"), "sky");
  // Four-letter -ies and -ied keep their e; the paper gives `di`.
  assert.equal(stem("dies"), "die");
  assert.equal(stem("died"), "die");
  assert.equal(stem("spied"), "spi");
  // y → i only after a consonant that is not the first letter.
  assert.equal(stem("happy"), "happi");
  assert.equal(stem("enjoy"), "enjoy");
  // alli → al, then step 2 again; bli → ble.
  assert.equal(stem("radically"), "radic");
  assert.equal(stem("possibly"), "possibl");
  // Step 4 cuts -ational words back to the root after step 2's ational → ate.
  assert.equal(stem("relational"), "relat");
  assert.equal(stem("1990s"), "1990");
});
