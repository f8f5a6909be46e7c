/**
 * An f64 as Rust's `Display` (`format!("{}", x)`) writes it, for error messages that
 * quote a number the way the Rust plugin's do: the shortest digits that read back as the
 * same f64 (which JavaScript's `String(x)` also chooses), but always in positional
 * notation (`1e21` is `1000000000000000000000`, `1e-7` is `0.0000001`), `-0` for negative
 * zero, and `inf`, `-inf`, `NaN`.
 */

/**
 * @param {number} value
 * @returns {string}
 */
export function rustDisplay(value) {
  if (Number.isNaN(value)) {
    return "NaN";
  }
  const sign = value < 0 || Object.is(value, -0) ? "-" : "";
  const magnitude = Math.abs(value);
  if (magnitude === Infinity) {
    return `${sign}inf`;
  }
  const text = String(magnitude);
  const exponentAt = text.indexOf("e");
  if (exponentAt < 0) {
    return sign + text;
  }
  const mantissa = text.slice(0, exponentAt);
  const exponent = Number(text.slice(exponentAt + 1));
  const point = mantissa.indexOf(".");
  const digits = point < 0 ? mantissa : mantissa.slice(0, point) + mantissa.slice(point + 1);
  // The position of the decimal point after the first digit, moved by the exponent.
  const integerDigits = (point < 0 ? mantissa.length : point) + exponent;
  if (integerDigits <= 0) {
    return `${sign}0.${"0".repeat(-integerDigits)}${digits}`;
  }
  if (integerDigits >= digits.length) {
    return sign + digits + "0".repeat(integerDigits - digits.length);
  }
  return `${sign}${digits.slice(0, integerDigits)}.${digits.slice(integerDigits)}`;
}
