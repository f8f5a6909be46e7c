//! What may leave as numbers: the small-cell rule for counts, and a fixed, coarse precision
//! for every value a task plugin computes, so that the metric channel carries a bounded,
//! stated number of bits whatever the plugin does.
//!
//! A plugin sees every record and computes its metrics as it likes, so an exported metric is
//! as good a carrier as text: an `f64` holds 64 bits, and a plugin that writes a note's
//! characters into the digits of its metrics gets them through any content check. The gate
//! cannot tell such a number from an honest one; the host therefore decides what a number can
//! be before it leaves. At most [`MAX_EXPORTED_METRICS`] metrics leave, each value rounded to
//! [`SIGNIFICANT_DIGITS`] significant digits between [`MIN_MAGNITUDE`] and [`MAX_MAGNITUDE`]
//! in magnitude (zero below, clamped above): such a value is one of [`VALUE_LEVELS`] numbers
//! (or absent), about 13.4 bits, however it was computed. [`channel_bits`] adds up what a
//! run exports.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Fewest records a count or a statistic may describe and still leave the building; smaller
/// non-zero counts leave as `"<11"`, whatever a recipe says.
pub const MIN_CELL: u64 = 11;

/// Significant digits of an exported value.
pub const SIGNIFICANT_DIGITS: i32 = 3;

/// The smallest non-zero magnitude an exported value has; smaller values leave as 0.
pub const MIN_MAGNITUDE: f64 = 0.001;

/// The largest magnitude an exported value has; larger values are clamped to it.
pub const MAX_MAGNITUDE: f64 = 999.0;

/// Most plugin metrics whose values leave a run (for the base model and for the adapter).
pub const MAX_EXPORTED_METRICS: usize = 4;

/// How many values a rounded value can be, counting "absent": 900 mantissas (1.00 to 9.99) in
/// each of the 6 decades from [`MIN_MAGNITUDE`] to [`MAX_MAGNITUDE`], with either sign, plus
/// zero and absent.
pub const VALUE_LEVELS: u64 = 2 * 6 * 900 + 2;

/// Bits one exported value can carry: log2 of [`VALUE_LEVELS`].
pub fn bits_per_value() -> f64 {
    (VALUE_LEVELS as f64).log2()
}

/// `value` as it may leave: rounded to [`SIGNIFICANT_DIGITS`], 0 below [`MIN_MAGNITUDE`],
/// clamped to ±[`MAX_MAGNITUDE`]; `None` when it is not finite.
pub fn round(value: f64) -> Option<f64> {
    if !value.is_finite() {
        return None;
    }
    let magnitude = value.abs();
    let rounded = if magnitude >= MAX_MAGNITUDE {
        MAX_MAGNITUDE
    } else if magnitude == 0.0 {
        0.0
    } else {
        let exponent = magnitude.log10().floor() as i32;
        // Dividing by an exact power of ten gives the double nearest the decimal.
        let scale = 10f64.powi(SIGNIFICANT_DIGITS - 1 - exponent);
        let rounded = (magnitude * scale).round() / scale;
        if rounded < MIN_MAGNITUDE { 0.0 } else { rounded.min(MAX_MAGNITUDE) }
    };
    Some(if value.is_sign_negative() && rounded != 0.0 { -rounded } else { rounded })
}

/// Whether `value` is one that [`round`] gives: 0, or ±m/10^k with m an integer of 100 to 999
/// and k from 0 to 5, one of the [`VALUE_LEVELS`]. Checks what an export holds.
pub fn on_grid(value: f64) -> bool {
    value == 0.0
        || (0..=5).any(|places| {
            let scale = 10f64.powi(places);
            let mantissa = (value.abs() * scale).round();
            mantissa / scale == value.abs() && (100.0..1000.0).contains(&mantissa)
        })
}

/// Decimal places a [`round`]ed value needs to be shown exactly (0.426 → 3, 12.3 → 1).
pub fn decimals(rounded: f64) -> usize {
    (0..=6)
        .find(|&places| {
            let scale = 10f64.powi(places);
            (rounded * scale).round() / scale == rounded
        })
        .unwrap_or(6) as usize
}

/// A [`round`]ed value as text, with exactly its significant digits (0.430, 12.3, 999).
pub fn display(rounded: f64) -> String {
    let shown = if rounded == 0.0 { 0.0 } else { rounded };
    let places = places(shown);
    format!("{shown:.places$}")
}

/// Decimal places [`display`] shows of a [`round`]ed value: its [`SIGNIFICANT_DIGITS`],
/// trailing zeros kept (0.43 → 3).
pub fn places(rounded: f64) -> usize {
    if rounded == 0.0 {
        return 0;
    }
    let exponent = rounded.abs().log10().floor() as i32;
    decimals(rounded).max((SIGNIFICANT_DIGITS - 1 - exponent).max(0) as usize)
}

/// `value`, computed over `records` records, as it may leave: [`round`]ed, or `None`
/// (suppressed) over fewer than [`MIN_CELL`] records.
pub fn cell(records: usize, value: f64) -> Option<f64> {
    if (records as u64) < MIN_CELL { None } else { round(value) }
}

/// `to - from` of two [`round`]ed values, exact on the finer of their decimal grids: a
/// difference adds no bits, so it needs no rounding of its own beyond float noise.
pub fn difference(from: f64, to: f64) -> f64 {
    let scale = 10f64.powi(decimals(from).max(decimals(to)) as i32);
    let delta = ((to - from) * scale).round() / scale;
    if delta == 0.0 { 0.0 } else { delta }
}

/// The most bits a task plugin can pass out of one run through what leaves as numbers:
/// `metric_values` rounded values, the step of the best adapter and the step where training
/// stopped (each one of `evaluations`), and the three record counts, which the plugin moves by
/// rejecting records (at most `max_rejected` of them).
pub fn channel_bits(metric_values: usize, evaluations: u64, max_rejected: u64) -> f64 {
    let choices = |n: u64| (n.max(1) as f64).log2();
    metric_values as f64 * bits_per_value() + 2.0 * choices(evaluations) + 3.0 * choices(max_rejected + 1)
}

/// A count as it may leave: shown when 0 or at least [`MIN_CELL`], else suppressed. Written
/// as a JSON number, or as the string `"<11"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// The count itself.
    Shown(u64),
    /// 1 to 10: too few to leave.
    Suppressed,
}

/// How a suppressed count is written.
const SUPPRESSED: &str = "<11";

impl Count {
    /// `n` under the small-cell rule.
    pub fn of(n: u64) -> Count {
        if n == 0 || n >= MIN_CELL { Count::Shown(n) } else { Count::Suppressed }
    }

    /// The count, when it may be shown.
    pub fn shown(self) -> Option<u64> {
        match self {
            Count::Shown(n) => Some(n),
            Count::Suppressed => None,
        }
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Count::Shown(n) => write!(f, "{n}"),
            Count::Suppressed => f.write_str(SUPPRESSED),
        }
    }
}

impl Serialize for Count {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Count::Shown(n) => serializer.serialize_u64(*n),
            Count::Suppressed => serializer.serialize_str(SUPPRESSED),
        }
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Number(u64),
            Text(String),
        }
        match Written::deserialize(deserializer)? {
            Written::Number(n) if Count::of(n) == Count::Shown(n) => Ok(Count::Shown(n)),
            Written::Text(text) if text == SUPPRESSED => Ok(Count::Suppressed),
            _ => Err(serde::de::Error::custom(format!("expected 0, a count of at least {MIN_CELL}, or \"{SUPPRESSED}\""))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_three_significant_digits_within_bounds() {
        let cases = [
            (0.42634, 0.426),
            (0.4265, 0.427),
            (12.349, 12.3),
            (0.0012345, 0.00123),
            (0.0004, 0.0),
            (0.0009996, 0.001),
            (-4.56789, -4.57),
            (1234.5, 999.0),
            (-1e300, -999.0),
            (-1e-9, 0.0),
            (1.0, 1.0),
        ];
        for (value, expected) in cases {
            assert_eq!(round(value), Some(expected), "{value}");
        }
        assert_eq!(round(f64::NAN), None);
        assert_eq!(round(f64::INFINITY), None);
        assert!(round(-0.0).is_some_and(|zero| zero.is_sign_positive()));
    }

    #[test]
    fn any_f64_leaves_as_one_of_the_counted_levels() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for i in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Every bit pattern, and values spread over the range that is kept.
            let value = if i % 2 == 0 { f64::from_bits(state) } else { (state as f64 / u64::MAX as f64 - 0.5) * 2.0e3 };
            if let Some(rounded) = round(value) {
                assert!(on_grid(rounded), "{value} → {rounded}");
                assert!(rounded.abs() <= MAX_MAGNITUDE, "{value} → {rounded}");
            }
        }
    }

    #[test]
    fn display_shows_the_significant_digits_and_differences_stay_exact() {
        assert_eq!(display(0.43), "0.430");
        assert_eq!(display(12.3), "12.3");
        assert_eq!(display(999.0), "999");
        assert_eq!(display(0.00123), "0.00123");
        assert_eq!(display(0.0), "0");
        assert_eq!(difference(0.213, 0.426), 0.213);
        assert_eq!(difference(0.5, 0.45), -0.05);
        assert_eq!(difference(12.3, 0.426), -11.874);
        assert_eq!(difference(0.5, 0.5), 0.0);
    }

    #[test]
    fn the_bound_adds_values_choices_and_rejections() {
        let bits = channel_bits(8, 4, 0);
        assert!((bits - (8.0 * 13.399 + 4.0)).abs() < 0.01, "{bits}");
        assert!((channel_bits(0, 1, 3) - 6.0).abs() < 1e-9);
    }

    #[test]
    fn small_counts_leave_as_a_mark() {
        assert_eq!(Count::of(0), Count::Shown(0));
        assert_eq!(Count::of(1), Count::Suppressed);
        assert_eq!(Count::of(10), Count::Suppressed);
        assert_eq!(Count::of(11), Count::Shown(11));
        assert_eq!(serde_json::to_string(&Count::of(7)).expect("serialises"), "\"<11\"");
        assert_eq!(serde_json::to_string(&Count::of(12)).expect("serialises"), "12");
        let back: Count = serde_json::from_str("\"<11\"").expect("parses");
        assert_eq!(back, Count::Suppressed);
        assert!(serde_json::from_str::<Count>("5").is_err(), "a small count written as a number");
    }
}
