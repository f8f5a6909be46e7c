/**
 * Rust's `str::trim`: the characters with the Unicode property White_Space removed from
 * both ends. JavaScript's own `String.prototype.trim` differs (it removes U+FEFF and keeps
 * U+0085), and the `\p{White_Space}` regex class is missing from the SpiderMonkey build
 * (a syntax error there); hence the explicit set: the code points for which Rust 1.95's
 * `char::is_whitespace` holds (the property has not changed since Unicode 6.3).
 * `test/whitespace.test.js` checks it against Node's `\p{White_Space}`.
 */

export const WHITE_SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
  0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f,
  0x3000,
]);

/**
 * `text` without leading and trailing White_Space, as Rust's `str::trim` returns it.
 * Every White_Space character is in the Basic Multilingual Plane, so UTF-16 units are
 * compared directly: a surrogate is never one.
 * @param {string} text
 * @returns {string}
 */
export function trim(text) {
  let start = 0;
  let end = text.length;
  while (start < end && WHITE_SPACE.has(text.charCodeAt(start))) {
    start += 1;
  }
  while (end > start && WHITE_SPACE.has(text.charCodeAt(end - 1))) {
    end -= 1;
  }
  return text.slice(start, end);
}
