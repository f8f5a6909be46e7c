/**
 * The tokenizer of `rouge-score` (`rouge_score/tokenize.py`, version 0.1.2) with
 * `use_stemmer=True`, as the Rust plugin's `tokenize.rs` implements it: the text is
 * lowercased as Rust's `char::to_lowercase` (and Python's `str.lower`) does, every run of
 * characters outside `[a-z0-9]` becomes a separator, and each remaining run is a token.
 * Tokens longer than 3 characters are stemmed with NLTK's Porter stemmer; shorter ones are
 * kept as they are.
 *
 * Only lowercase letters that are ASCII survive, so the lowercase mapping is needed only
 * for the code points whose lowercase contains `[a-z0-9]`. Besides `A`–`Z` there are two
 * (every code point checked against Rust 1.95's `char::to_lowercase`, and against Node's
 * `toLowerCase` by `test/tokenize.test.js`): `İ` (U+0130), whose lowercase is `i` plus
 * U+0307 COMBINING DOT ABOVE (a separator), and the Kelvin sign `K` (U+212A), whose
 * lowercase is `k`. Spelling them out keeps the result independent of the JavaScript
 * engine's Unicode tables (QuickJS and SpiderMonkey embed their own).
 */

import { stem } from "./porter.js";

const UPPER_A = 0x41;
const UPPER_Z = 0x5a;
const LOWER_A = 0x61;
const LOWER_Z = 0x7a;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const CAPITAL_I_WITH_DOT_ABOVE = 0x130;
const KELVIN_SIGN = 0x212a;

/**
 * The ROUGE tokens of `text`, stemmed.
 * @param {string} text
 * @returns {string[]}
 */
export function tokenize(text) {
  const tokens = [];
  let current = "";
  let code = 0;
  const finishToken = () => {
    if (current !== "") {
      tokens.push(current.length > 3 ? stem(current) : current);
      current = "";
    }
  };
  // By code point; a code point outside the Basic Multilingual Plane takes two units.
  for (let i = 0; i < text.length; i += code > 0xffff ? 2 : 1) {
    code = text.codePointAt(i);
    if ((code >= LOWER_A && code <= LOWER_Z) || (code >= DIGIT_0 && code <= DIGIT_9)) {
      current += String.fromCharCode(code);
    } else if (code >= UPPER_A && code <= UPPER_Z) {
      current += String.fromCharCode(code - UPPER_A + LOWER_A);
    } else if (code === KELVIN_SIGN) {
      current += "k";
    } else if (code === CAPITAL_I_WITH_DOT_ABOVE) {
      current += "i";
      // The combining dot that follows the `i` in the lowercase ends the token.
      finishToken();
    } else {
      finishToken();
    }
  }
  finishToken();
  return tokens;
}
