//! Double quantization: the NF4 absmax values stored in 8 bits (QLoRA, Dettmers et al.
//! 2023, §3 "Double Quantization").
//!
//! One f32 absmax per 64 weights costs 0.5 bits per weight. As bitsandbytes'
//! `quantize_4bit(..., compress_statistics=True)` does, the absmax values get their mean
//! subtracted (the *offset*, which centres them so the signed code below is used fully),
//! then are quantized blockwise with 256 values per block: each block keeps one f32 scale
//! (its own absmax) and each value becomes the 8-bit index of the nearest level of
//! bitsandbytes' signed dynamic map (`create_dynamic_map(signed=True)`, the default code of
//! `quantize_blockwise`). That is 8/64 + 32/(64·256) ≈ 0.127 bits per weight for the scales.
//!
//! The dynamic map is a floating-point-like code (a decimal exponent, a linear fraction) that
//! is dense near zero; it reconstructs the scales more finely than a linear int8 would, where
//! it matters: scales near the mean. Its levels are computed here in f64 and rounded once to
//! f32; torch builds them with float32 `linspace` arithmetic, so a level can differ from
//! bitsandbytes' table in its last bit.

use std::sync::LazyLock;

/// Absmax values per second-level block (bitsandbytes' `blocksize=256` for nested stats).
pub const BLOCK_SIZE: usize = 256;

/// bitsandbytes' `create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)`,
/// sorted ascending: 127 negative levels, 0, 127 positive levels and 1.0.
///
/// For each exponent `i` in 0..7 the fractions are the midpoints of
/// `linspace(0.1, 1, 2^i + 1)`, scaled by `10^(i - 6)`, with both signs.
pub static DYNAMIC_MAP: LazyLock<[f32; 256]> = LazyLock::new(|| {
    let mut levels = Vec::with_capacity(256);
    for i in 0..7 {
        let steps = (1usize << i) + 1;
        let scale = 10f64.powi(i - 6);
        let boundary = |j: usize| 0.1 + 0.9 * j as f64 / (steps - 1) as f64;
        for j in 0..steps - 1 {
            let mean = (boundary(j) + boundary(j + 1)) / 2.0;
            levels.push(scale * mean);
            levels.push(-scale * mean);
        }
    }
    levels.push(0.0);
    levels.push(1.0);
    let mut map: Vec<f32> = levels.into_iter().map(|v| v as f32).collect();
    map.sort_by(f32::total_cmp);
    map.try_into()
        .expect("the dynamic map has 2 * 127 + 2 = 256 levels")
});

/// Index of the level of [`DYNAMIC_MAP`] nearest to `x` (ties go to the lower level, like
/// `argmin` in bitsandbytes' reference implementation).
pub fn quantize_value(x: f32) -> u8 {
    let map = &*DYNAMIC_MAP;
    let upper = map.partition_point(|&level| level < x).min(map.len() - 1);
    let index = if upper > 0 && (x - map[upper - 1]).abs() <= (map[upper] - x).abs() {
        upper - 1
    } else {
        upper
    };
    u8::try_from(index).expect("the dynamic map has 256 levels")
}

/// bitsandbytes' `quantize_blockwise(values, blocksize=256)` with the dynamic map: per block
/// of [`BLOCK_SIZE`] values, its absmax (the f32 scale) and each value's nearest level of
/// `value / scale`. A block of zeros gets scale 0 and code 127 (level 0).
pub fn quantize_blockwise(values: &[f32]) -> (Vec<u8>, Vec<f32>) {
    let mut codes = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(values.len().div_ceil(BLOCK_SIZE));
    for block in values.chunks(BLOCK_SIZE) {
        let scale = block.iter().fold(0.0f32, |m, &v| m.max(v.abs()));
        scales.push(scale);
        let inverse = if scale > 0.0 { 1.0 / scale } else { 0.0 };
        codes.extend(block.iter().map(|&v| quantize_value(v * inverse)));
    }
    (codes, scales)
}

/// The inverse of [`quantize_blockwise`]: `DYNAMIC_MAP[code] * scale`.
pub fn dequantize_blockwise(codes: &[u8], scales: &[f32]) -> Vec<f32> {
    codes
        .iter()
        .enumerate()
        .map(|(i, &c)| DYNAMIC_MAP[usize::from(c)] * scales[i / BLOCK_SIZE])
        .collect()
}

/// The absmax values of an NF4 tensor, compressed to 8 bits each.
#[derive(Debug, Clone, PartialEq)]
pub struct DoubleQuant {
    codes: Vec<u8>,
    scales: Vec<f32>,
    offset: f32,
}

impl DoubleQuant {
    /// Compress `absmax` (one value per NF4 block). The mean is summed in f64 and rounded
    /// once to f32 (torch sums in f32, which can differ in the last bit).
    pub fn quantize(absmax: &[f32]) -> Self {
        let offset = if absmax.is_empty() {
            0.0
        } else {
            (absmax.iter().map(|&v| f64::from(v)).sum::<f64>() / absmax.len() as f64) as f32
        };
        let centred: Vec<f32> = absmax.iter().map(|&v| v - offset).collect();
        let (codes, scales) = quantize_blockwise(&centred);
        Self {
            codes,
            scales,
            offset,
        }
    }

    /// The reconstructed absmax of NF4 block `block`, as bitsandbytes' `dequantize_4bit`
    /// computes it: `code[q] * scale + offset`, in f32.
    pub fn value(&self, block: usize) -> f32 {
        DYNAMIC_MAP[usize::from(self.codes[block])] * self.scales[block / BLOCK_SIZE] + self.offset
    }

    /// All reconstructed absmax values.
    pub fn dequantize(&self) -> Vec<f32> {
        (0..self.codes.len()).map(|b| self.value(b)).collect()
    }

    /// Number of absmax values held.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether no absmax value is held.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The 8-bit codes, one per NF4 block.
    pub fn codes(&self) -> &[u8] {
        &self.codes
    }

    /// The f32 scale of each block of [`BLOCK_SIZE`] codes.
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }

    /// The mean subtracted before quantizing.
    pub fn offset(&self) -> f32 {
        self.offset
    }

    /// Bytes held: one per code, four per scale, four for the offset.
    pub fn stored_bytes(&self) -> usize {
        self.codes.len() + 4 * self.scales.len() + 4
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::sample::standard_normal;

    #[test]
    fn dynamic_map_has_the_levels_of_its_definition() {
        let map = &*DYNAMIC_MAP;
        assert!(map.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
        // 127 negative levels, then 0, then 127 positive levels and 1.
        assert_eq!(map[127], 0.0);
        assert_eq!(map[255], 1.0);
        // Smallest magnitude: 10⁻⁶ · mean(0.1, 1) = 5.5e-7. Largest below 1:
        // mean(0.1 + 0.9 · 63/64, 1) = 0.99296875.
        assert!((map[128] - 5.5e-7).abs() < 1e-12, "{}", map[128]);
        assert!((map[126] + 5.5e-7).abs() < 1e-12, "{}", map[126]);
        assert!((map[254] - 0.992_968_75).abs() < 1e-7, "{}", map[254]);
        assert!((map[0] + 0.992_968_75).abs() < 1e-7, "{}", map[0]);
        // Exponent 5 (values in [0.01, 0.1]) has 32 levels per sign.
        assert_eq!(
            map.iter().filter(|&&v| (0.01..0.1).contains(&v)).count(),
            32
        );
    }

    #[test]
    fn nearest_level_with_ties_to_the_lower() {
        let map = &*DYNAMIC_MAP;
        for (i, &level) in map.iter().enumerate() {
            assert_eq!(usize::from(quantize_value(level)), i);
        }
        let mid = (map[200] + map[201]) / 2.0;
        assert_eq!(quantize_value(mid), 200);
        assert_eq!(quantize_value(2.0), 255);
        assert_eq!(quantize_value(-2.0), 0);
    }

    #[test]
    fn blockwise_error_matches_bitsandbytes() {
        // bitsandbytes' tests/test_functional.py::test_dynamic_blockwise_quantization
        // (signed dynamic map, blocksize 256): randn(1024, 1024) mean abs error < 0.011,
        // mean rel error < 0.018; rand(1024, 1024) mean abs error < 0.0036 (rel < 0.015).
        let normal = standard_normal(1024 * 1024, 11);
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let uniform: Vec<f32> = (0..normal.len()).map(|_| rng.random()).collect();
        for (values, abs_bound, rel_bound) in [(&normal, 0.011, 0.018), (&uniform, 0.0036, 0.015)] {
            let (codes, scales) = quantize_blockwise(values);
            let back = dequantize_blockwise(&codes, &scales);
            let n = values.len() as f64;
            let err = values
                .iter()
                .zip(&back)
                .map(|(a, b)| f64::from((a - b).abs()))
                .sum::<f64>()
                / n;
            let rel = values
                .iter()
                .zip(&back)
                .map(|(a, b)| f64::from((a - b).abs() / (a.abs() + 1e-8)))
                .sum::<f64>()
                / n;
            assert!(err < abs_bound, "mean abs error {err}");
            assert!(rel < rel_bound, "mean rel error {rel}");
        }
    }

    #[test]
    fn reconstructs_nf4_scales_within_half_the_widest_gap() {
        // The absmax values of randn blocks of 64, as NF4 hands them over.
        let absmax: Vec<f32> = standard_normal(64 * 4096, 5)
            .chunks(64)
            .map(|b| b.iter().fold(0.0f32, |m, v| m.max(v.abs())))
            .collect();
        let dq = DoubleQuant::quantize(&absmax);
        let back = dq.dequantize();
        // The widest gap of the map is 0.9/64 (the top decade), so no value moves by more
        // than half of it times its block's scale.
        let mut relative = 0.0;
        for (i, (a, b)) in absmax.iter().zip(&back).enumerate() {
            let bound = dq.scales()[i / BLOCK_SIZE] * 0.9 / 128.0 * (1.0 + 1e-4) + 1e-6;
            assert!(
                (a - b).abs() <= bound,
                "absmax {i}: {a} → {b}, bound {bound}"
            );
            relative += f64::from((a - b).abs() / a);
        }
        let mean_relative = relative / absmax.len() as f64;
        assert!(
            mean_relative < 2e-3,
            "mean relative error of the scales {mean_relative}"
        );
    }

    #[test]
    fn equal_scales_round_trip_exactly_through_the_offset() {
        let dq = DoubleQuant::quantize(&[2.5; 300]);
        assert_eq!(dq.offset(), 2.5);
        assert_eq!(dq.dequantize(), vec![2.5; 300]);
        assert_eq!(dq.stored_bytes(), 300 + 2 * 4 + 4);
    }
}
