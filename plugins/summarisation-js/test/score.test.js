import assert from "node:assert/strict";
import { test } from "node:test";

import { aggregate, LENGTH_RATIO, reward, ROUGE1, ROUGE2, ROUGEL, score, validate } from "../src/score.js";

/**
 * (reference, prediction, rouge1 F, rouge2 F, rougeL F, prediction tokens, reference
 * tokens), printed by `plugins/summarisation/tests/reference.py` with rouge-score 0.1.2
 * and nltk 3.10.4 (`RougeScorer(["rouge1", "rouge2", "rougeL"],
 * use_stemmer=True).score(reference, prediction)`). Compared bit for bit: the plugin
 * performs the same f64 operations in the same order.
 */
const ROUGE_CASES = [
  [
    "Admitted with pneumonia, treated with IV antibiotics and discharged home.",
    "Admitted with pneumonia, treated with IV antibiotics and discharged home.",
    1.0, 1.0, 1.0, 10, 10,
  ],
  [
    "The patient was admitted with community-acquired pneumonia and treated with IV antibiotics.",
    "Patient admitted for pneumonia; treated with intravenous antibiotics and discharged.",
    0.608695652173913, 0.09523809523809525, 0.5217391304347826, 10, 13,
  ],
  [
    "Studies of dying patients' relational databases",
    "study of the die patient relate database",
    0.923076923076923, 0.7272727272727272, 0.923076923076923, 7, 6,
  ],
  [
    "skies innings outings news proceeding generalizations",
    "sky inning outing news proceed general",
    1.0, 1.0, 1.0, 6, 6,
  ],
  [
    "BP 140/90, HR 88 bpm, SpO2 97% on 2L.",
    "BP was 140/90 with HR 88 and SpO2 of 97 % on 2 L",
    0.6666666666666666, 0.27272727272727276, 0.6666666666666666, 14, 10,
  ],
  ["the cat the cat the cat", "the the the the cat", 0.7272727272727272, 0.22222222222222224, 0.7272727272727272, 5, 6],
  ["Stable for discharge.", "", 0.0, 0.0, 0.0, 0, 3],
  ["Stable.", "!!!", 0.0, 0.0, 0.0, 0, 1],
  ["Stable", "stable condition", 0.6666666666666666, 0.0, 0.6666666666666666, 2, 1],
  [
    "\u0130leus and \u212aelvin-scale caf\u00e9",
    "ileus kelvin cafe",
    0.2222222222222222, 0.0, 0.2222222222222222, 3, 6,
  ],
  ["hypertension diabetes", "fracture of femur", 0.0, 0.0, 0.0, 3, 2],
  ["was has dies lies", "wa ha die lie", 0.5, 0.3333333333333333, 0.5, 4, 4],
  [
    "72-year-old man with type 2 diabetes mellitus and hypertension presented with 2 days of crushing chest pain; ECG showed ST elevation in leads II, III and aVF. He underwent primary PCI to the RCA and was discharged on aspirin, ticagrelor, atorvastatin and ramipril.",
    "A 72 year old diabetic, hypertensive man had chest pain for two days with inferior ST elevation; the RCA was stented (primary PCI). Discharge medications: aspirin, ticagrelor, atorvastatin, ramipril.",
    0.5945945945945945, 0.2222222222222222, 0.45945945945945943, 29, 45,
  ],
  ["HbA1c 7.2% (previously 8.1%)", "hba1c improved from 8.1 to 7.2", 0.7142857142857143, 0.3333333333333333, 0.42857142857142855, 8, 6],
  ["a b c d e f", "f e d c b a", 1.0, 0.0, 0.16666666666666666, 6, 6],
  [
    "Generally hopeful; conditional relationally operational hospitalizations",
    "general hope condition relation operation hospitalization",
    1.0, 1.0, 1.0, 6, 6,
  ],
];

/**
 * Corpus values over ROUGE_CASES 1, 2, 4, 6 and 12 in that order, printed by the same
 * script: the means of rouge1, rouge2 and rougeL (summed in order), then Σ prediction
 * tokens / Σ reference tokens.
 */
const AGGREGATE = [0.5586067673024194, 0.26349206349206344, 0.5141884359275662, 0.7792207792207793];
const AGGREGATE_CASES = [1, 2, 4, 6, 12];

const example = (summary) => ({ id: "r", note: "note", summary });

function value(result, name) {
  const metric = result.metrics.find((m) => m.name === name);
  assert.ok(metric, `metric ${name} present`);
  return metric.value;
}

test("scores exactly as rouge-score", () => {
  for (const [reference, prediction, rouge1, rouge2, rougel, predicted, expected] of ROUGE_CASES) {
    const result = score(prediction, example(reference));
    assert.deepEqual(
      [value(result, ROUGE1), value(result, ROUGE2), value(result, ROUGEL)],
      [rouge1, rouge2, rougel],
      `rouge1, rouge2, rougeL of ${JSON.stringify(prediction)} against ${JSON.stringify(reference)}`,
    );
    assert.equal(value(result, LENGTH_RATIO), predicted / expected);
    assert.deepEqual(result.counts, [
      { key: "prediction_tokens", value: predicted },
      { key: "reference_tokens", value: expected },
    ]);
    assert.equal(reward(prediction, example(reference)), rougel);
  }
});

test("returns the metrics in the Rust plugin's order", () => {
  const result = score("stable", example("stable"));
  assert.deepEqual(
    result.metrics.map((m) => m.name),
    ["rouge1", "rouge2", "rougel", "length_ratio"],
  );
});

test("aggregates means of rouge and pooled length ratio", () => {
  const scores = AGGREGATE_CASES.map((i) => score(ROUGE_CASES[i][1], example(ROUGE_CASES[i][0])));
  assert.deepEqual(aggregate(scores), [
    { name: ROUGE1, value: AGGREGATE[0] },
    { name: ROUGE2, value: AGGREGATE[1] },
    { name: ROUGEL, value: AGGREGATE[2] },
    { name: LENGTH_RATIO, value: AGGREGATE[3] },
  ]);
});

/**
 * Hand computation: record A has 2 prediction and 1 reference tokens (ratio 2), record B
 * 1 and 9 (ratio 1/9). Pooled: (2 + 1) / (1 + 9) = 0.3, whereas the mean of the ratios
 * would be (2 + 1/9) / 2 ≈ 1.06.
 */
test("pools length ratio counts rather than averaging ratios", () => {
  const a = score("stable condition", example("stable"));
  const b = score("stable", example("one two three four five six seven eight nine"));
  assert.equal(value(a, LENGTH_RATIO), 2);
  assert.equal(value({ metrics: aggregate([a, b]) }, LENGTH_RATIO), 0.3);
});

test("an empty corpus has no metrics", () => {
  assert.deepEqual(aggregate([]), []);
});

test("refuses scores without their metrics or counts", () => {
  assert.throws(() => aggregate([{ metrics: [], counts: [] }]), {
    tag: "other",
    val: "aggregate: score 0 has no metric `rouge1`: expected the scores that `score` returned",
  });
  const metrics = [ROUGE1, ROUGE2, ROUGEL].map((name) => ({ name, value: 1 }));
  // Rust's `Iterator::sum` of no f64 is -0.0, which its `Display` writes as `-0`.
  assert.throws(() => aggregate([{ metrics, counts: [] }]), {
    tag: "other",
    val: "aggregate: count `reference_tokens`: expected a positive total, found `-0`",
  });
  assert.throws(() => aggregate([{ metrics, counts: [{ key: "reference_tokens", value: -1e21 }] }]), {
    tag: "other",
    val: "aggregate: count `reference_tokens`: expected a positive total, found `-1000000000000000000000`",
  });
  // No `prediction_tokens` at all: Rust's sum starts at -0.0, so the ratio is -0.
  const [, , , ratio] = aggregate([{ metrics, counts: [{ key: "reference_tokens", value: 2 }] }]);
  assert.ok(Object.is(ratio.value, -0), `length ratio ${ratio.value}`);
});

test("refuses a reference without words", () => {
  assert.throws(() => score("anything", example(" -- ")), (error) => error.tag === "invalid-field" && error.val.field === "/summary");
});

test("validates that a summary has a word", () => {
  assert.equal(validate("Stable, discharged."), undefined);
  assert.throws(() => validate(" ... "), {
    path: "",
    reason: "summary has no words: expected at least one run of `[a-z0-9]` after lowercasing",
  });
});
