/**
 * ROUGE-N and ROUGE-L between two token lists, as `rouge-score` 0.1.2 computes them
 * (`rouge_scorer._score_ngrams`, `_score_lcs` and `scoring.fmeasure`), and as the Rust
 * plugin's `rouge.rs` does: the same f64 operations in the same order, so the results
 * agree bit for bit.
 * - ROUGE-N: overlap = Σ over the reference's distinct n-grams of
 *   min(count in reference, count in prediction);
 *   precision = overlap / max(prediction n-grams, 1);
 *   recall = overlap / max(reference n-grams, 1).
 * - ROUGE-L: with l the length of a longest common subsequence of tokens,
 *   precision = l / prediction tokens, recall = l / reference tokens; all three values
 *   are 0 when either side has no token.
 * - F = 2·P·R / (P + R), evaluated as `(2·P)·R / (P + R)`, and 0 when P + R = 0.
 *
 * Counts are integers (exact in an f64), so the order in which n-grams are visited does
 * not change the overlap.
 */

/** `rouge_score.scoring.fmeasure`. */
function fmeasure(precision, recall) {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

function score(precision, recall) {
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/**
 * How often each n-gram of `tokens` occurs. Tokens are `[a-z0-9]+`, so a space joins an
 * n-gram's tokens into a key without ambiguity.
 */
function ngramCounts(tokens, n) {
  const counts = new Map();
  for (let i = 0; i + n <= tokens.length; i++) {
    let key = tokens[i];
    for (let k = 1; k < n; k++) {
      key += ` ${tokens[i + k]}`;
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * ROUGE-N (n ≥ 1) of `prediction` against `reference`.
 * @param {string[]} reference
 * @param {string[]} prediction
 * @param {number} n
 */
export function rougeN(reference, prediction, n) {
  const referenceNgrams = ngramCounts(reference, n);
  const predictionNgrams = ngramCounts(prediction, n);
  let overlap = 0;
  let referenceTotal = 0;
  for (const [ngram, count] of referenceNgrams) {
    overlap += Math.min(count, predictionNgrams.get(ngram) ?? 0);
    referenceTotal += count;
  }
  let predictionTotal = 0;
  for (const count of predictionNgrams.values()) {
    predictionTotal += count;
  }
  return score(overlap / Math.max(predictionTotal, 1), overlap / Math.max(referenceTotal, 1));
}

/**
 * ROUGE-L (sentence-level LCS; not `rougeLsum`) of `prediction` against `reference`.
 * @param {string[]} reference
 * @param {string[]} prediction
 */
export function rougeL(reference, prediction) {
  if (reference.length === 0 || prediction.length === 0) {
    return { precision: 0, recall: 0, fmeasure: 0 };
  }
  const lcs = lcsLength(reference, prediction);
  return score(lcs / prediction.length, lcs / reference.length);
}

/**
 * Length of a longest common subsequence, by the usual dynamic programme kept to two rows.
 * Tokens are compared as small integers (one per distinct token), which an interpreter
 * compares far faster than strings.
 */
function lcsLength(a, b) {
  const ids = new Map();
  const idOf = (token) => {
    let id = ids.get(token);
    if (id === undefined) {
      id = ids.size;
      ids.set(token, id);
    }
    return id;
  };
  const aIds = a.map(idOf);
  const bIds = b.map(idOf);
  let previous = new Int32Array(b.length + 1);
  let current = new Int32Array(b.length + 1);
  for (let i = 0; i < aIds.length; i++) {
    const token = aIds[i];
    for (let j = 0; j < bIds.length; j++) {
      if (token === bIds[j]) {
        current[j + 1] = previous[j] + 1;
      } else {
        const up = previous[j + 1];
        const left = current[j];
        current[j + 1] = up > left ? up : left;
      }
    }
    const swap = previous;
    previous = current;
    current = swap;
  }
  return previous[b.length];
}
