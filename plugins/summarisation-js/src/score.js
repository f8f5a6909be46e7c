/**
 * Per-record metrics of a summary and their corpus values, as the Rust plugin's
 * `score.rs` computes them.
 *
 * Per record, with the reference and the prediction tokenized by `tokenize.js`:
 * - `rouge1`, `rouge2`, `rougel`: the F-measures of ROUGE-1, ROUGE-2 and ROUGE-L, the
 *   `fmeasure` of `rouge-score`'s `rouge1`, `rouge2` and `rougeL` (not `rougeLsum`) with
 *   `use_stemmer=True`;
 * - `length_ratio`: prediction tokens / reference tokens (a reference always has at least
 *   one token; see `record.summary`).
 *
 * Over a corpus: `rouge1`, `rouge2` and `rougel` are the arithmetic means of the
 * per-record values, summed in dataset order and divided by the number of records;
 * `length_ratio` pools the counts: Σ prediction tokens / Σ reference tokens. An empty
 * corpus has no metrics. The sums start where Rust's start (`0.0` for the means, `-0.0`
 * for `Iterator::sum` over the counts), so even a corpus without counts gives the same
 * bits.
 */

import { rustDisplay } from "./float-display.js";
import * as record from "./record.js";
import { rougeL, rougeN } from "./rouge.js";
import { other } from "./task-error.js";
import { tokenize } from "./tokenize.js";

export const ROUGE1 = "rouge1";
export const ROUGE2 = "rouge2";
export const ROUGEL = "rougel";
export const LENGTH_RATIO = "length_ratio";
const PREDICTION_TOKENS = "prediction_tokens";
const REFERENCE_TOKENS = "reference_tokens";

/** The metrics whose corpus value is the mean of the per-record values. */
const MEANS = [ROUGE1, ROUGE2, ROUGEL];

/**
 * Score a generated summary (raw text) against the record's reference.
 * @param {string} prediction
 * @param {Record<string, unknown>} example
 */
export function score(prediction, example) {
  const reference = record.summary(example).tokens;
  const predicted = tokenize(prediction);
  return {
    metrics: [
      { name: ROUGE1, value: rougeN(reference, predicted, 1).fmeasure },
      { name: ROUGE2, value: rougeN(reference, predicted, 2).fmeasure },
      { name: ROUGEL, value: rougeL(reference, predicted).fmeasure },
      { name: LENGTH_RATIO, value: predicted.length / reference.length },
    ],
    counts: [
      { key: PREDICTION_TOKENS, value: predicted.length },
      { key: REFERENCE_TOKENS, value: reference.length },
    ],
  };
}

/**
 * The reward: the record's ROUGE-L F-measure, in [0, 1].
 * @param {string} prediction
 * @param {Record<string, unknown>} example
 */
export function reward(prediction, example) {
  const reference = record.summary(example).tokens;
  return rougeL(reference, tokenize(prediction)).fmeasure;
}

/**
 * The sum of the count named `key` over all scores, in order, absent counts adding
 * nothing (the SDK's `sum_count`). Rust's `Iterator::sum` of f64 starts at `-0.0`.
 */
function sumCount(scores, key) {
  let sum = -0;
  for (const { counts } of scores) {
    for (const count of counts) {
      if (count.key === key) {
        sum += count.value;
      }
    }
  }
  return sum;
}

/**
 * Corpus metrics from per-record scores, in dataset order.
 * @param {{ metrics: { name: string, value: number }[], counts: { key: string, value: number }[] }[]} scores
 */
export function aggregate(scores) {
  if (scores.length === 0) {
    return [];
  }
  const metrics = [];
  for (const name of MEANS) {
    let sum = 0;
    for (let index = 0; index < scores.length; index++) {
      const metric = scores[index].metrics.find((m) => m.name === name);
      if (metric === undefined) {
        throw other(
          `aggregate: score ${index} has no metric \`${name}\`: expected the scores that \`score\` returned`,
        );
      }
      sum += metric.value;
    }
    metrics.push({ name, value: sum / scores.length });
  }
  const referenceTokens = sumCount(scores, REFERENCE_TOKENS);
  if (referenceTokens <= 0) {
    throw other(
      `aggregate: count \`${REFERENCE_TOKENS}\`: expected a positive total, found \`${rustDisplay(referenceTokens)}\``,
    );
  }
  metrics.push({ name: LENGTH_RATIO, value: sumCount(scores, PREDICTION_TOKENS) / referenceTokens });
  return metrics;
}

/**
 * A summary must contain at least one word; anything else is the model's choice, judged
 * by ROUGE. Throws the WIT `violation` when it has none.
 * @param {string} prediction
 */
export function validate(prediction) {
  if (tokenize(prediction).length === 0) {
    throw {
      path: "",
      reason: "summary has no words: expected at least one run of `[a-z0-9]` after lowercasing",
    };
  }
}
