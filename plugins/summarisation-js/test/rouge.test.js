import assert from "node:assert/strict";
import { test } from "node:test";

import { rougeL, rougeN } from "../src/rouge.js";

const tokens = (text) => text.split(" ").filter((t) => t !== "");

/**
 * Reference "a b c a b", prediction "a b a b b":
 * unigrams: a 2/2, b 2/3, c 1/0 → overlap min(2,2)+min(2,3)+min(1,0) = 4, P = 4/5, R = 4/5.
 * bigrams: ref {ab:2, bc:1, ca:1}, pred {ab:2, ba:1, bb:1} → overlap 2, P = 2/4, R = 2/4.
 * LCS "a b a b" = 4 → P = 4/5, R = 4/5, F = 0.8.
 */
test("clips n-gram counts and finds the LCS", () => {
  const [reference, prediction] = [tokens("a b c a b"), tokens("a b a b b")];
  const r1 = rougeN(reference, prediction, 1);
  assert.deepEqual([r1.precision, r1.recall], [0.8, 0.8]);
  assert.ok(Math.abs(r1.fmeasure - 0.8) < 1e-15);
  assert.deepEqual(rougeN(reference, prediction, 2), { precision: 0.5, recall: 0.5, fmeasure: 0.5 });
  const rl = rougeL(reference, prediction);
  assert.deepEqual([rl.precision, rl.recall], [0.8, 0.8]);
});

/**
 * Reference "x y z", prediction "x": bigrams 0 in the prediction, so the denominators are
 * max(0, 1) = 1 and every ROUGE-2 value is 0; ROUGE-1 has P = 1/1, R = 1/3,
 * F = 2·(1/3)/(4/3) = 0.5.
 */
test("empty sides score zero", () => {
  assert.deepEqual(rougeN(tokens("x y z"), tokens("x"), 2), { precision: 0, recall: 0, fmeasure: 0 });
  const r1 = rougeN(tokens("x y z"), tokens("x"), 1);
  assert.equal(r1.precision, 1);
  assert.ok(Math.abs(r1.fmeasure - 0.5) < 1e-15);
  assert.equal(rougeL(tokens("x y z"), []).fmeasure, 0);
  assert.equal(rougeN([], [], 1).fmeasure, 0);
});

/** Tokens that join into the same text must stay distinct n-grams: `ab c` is not `a bc`. */
test("n-grams are sequences of tokens, not of letters", () => {
  assert.equal(rougeN(tokens("ab c"), tokens("a bc"), 2).fmeasure, 0);
});
