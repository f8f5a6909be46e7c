//! NormalFloat4 (NF4): the 4-bit data type of QLoRA (Dettmers et al. 2023, §3).
//!
//! A weight matrix is cut, in row-major order, into blocks of [`BLOCK_SIZE`] = 64 values.
//! Each block is divided by its absolute maximum (its *absmax*) and every value is replaced
//! by the index of the nearest of the 16 [`CODE_BOOK`] levels — the quantiles of a standard
//! normal, rescaled to [-1, 1], with an exact zero. Two 4-bit indices share a byte, the
//! element with the lower index in the **high** nibble. This reproduces bitsandbytes'
//! `quantize_4bit(quant_type="nf4", blocksize=64)` and `dequantize_4bit`, including its
//! decision thresholds (`dQuantizeNF4` in `csrc/kernels.cu`: midpoints between levels, a
//! value on a midpoint goes to the lower level) and its packing (`packed = q[::2] << 4 |
//! q[1::2]`). The absmax values themselves are compressed by [`crate::double_quant`].

use rayon::prelude::*;

use crate::double_quant::DoubleQuant;

/// Values per NF4 block, each sharing one absmax (bitsandbytes' default `blocksize=64`).
pub const BLOCK_SIZE: usize = 64;

/// The 16 NF4 levels: bitsandbytes' `get_4bit_type("nf4")` literals, each exactly
/// representable in f32.
#[allow(
    clippy::excessive_precision,
    reason = "bitsandbytes' literals, kept verbatim"
)]
pub const CODE_BOOK: [f32; 16] = [
    -1.0,
    -0.6961928009986877,
    -0.5250730514526367,
    -0.39491748809814453,
    -0.28444138169288635,
    -0.18477343022823334,
    -0.09105003625154495,
    0.0,
    0.07958029955625534,
    0.16093020141124725,
    0.24611230194568634,
    0.33791524171829224,
    0.44070982933044434,
    0.5626170039176941,
    0.7229568362236023,
    1.0,
];

/// The code of the nearest level to `x` (already divided by its block's absmax).
///
/// The thresholds are the midpoints between neighbouring levels, as bitsandbytes'
/// `dQuantizeNF4` hard-codes them (`x > t` goes up, so a midpoint itself goes down). A NaN
/// lands on code 0, like every comparison with NaN failing in that decision tree.
pub fn quantize_value(x: f32) -> u8 {
    // The midpoints of neighbouring levels, computed in f64: bitsandbytes' literals, which
    // CUDA rounds to f32 (`x > 0.8614784181118011f`), as Rust does here.
    #[allow(
        clippy::excessive_precision,
        reason = "bitsandbytes' literals, kept verbatim"
    )]
    const THRESHOLDS: [f32; 15] = [
        -0.8480964004993439,
        -0.6106329262256622,
        -0.4599952697753906,
        -0.33967943489551544,
        -0.23460740596055984,
        -0.13791173323988914,
        -0.045525018125772476,
        0.03979014977812767,
        0.1202552504837513,
        0.2035212516784668,
        0.2920137718319893,
        0.3893125355243683,
        0.5016634166240692,
        0.6427869200706482,
        0.8614784181118011,
    ];
    // Equivalent to the decision tree: the number of thresholds strictly below `x`.
    THRESHOLDS.iter().map(|&t| u8::from(x > t)).sum()
}

/// Number of bytes that hold `len` packed 4-bit codes.
pub fn packed_len(len: usize) -> usize {
    len.div_ceil(2)
}

/// Number of absmax blocks for `len` values (the last block may be short).
pub fn block_count(len: usize) -> usize {
    len.div_ceil(BLOCK_SIZE)
}

/// Quantize `values` blockwise: returns the packed codes and the absmax of every block.
///
/// Each value is multiplied by the reciprocal of its block's absmax, as bitsandbytes'
/// kernel does. A block of zeros (absmax 0) is stored as code 7 (level 0.0) and comes back
/// as zeros, where bitsandbytes would divide by zero. With an odd `len` the last byte's low
/// nibble is 0. Blocks are independent and each is whole bytes, so they are quantized in
/// parallel (a model's billions of weights are quantized as it loads).
pub fn quantize(values: &[f32]) -> (Vec<u8>, Vec<f32>) {
    let mut packed = vec![0u8; packed_len(values.len())];
    let absmax = packed
        .par_chunks_mut(BLOCK_SIZE / 2)
        .zip(values.par_chunks(BLOCK_SIZE))
        .map(|(bytes, block)| {
            let max = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let inverse = if max > 0.0 { 1.0 / max } else { 0.0 };
            for (i, &v) in block.iter().enumerate() {
                let shift = if i.is_multiple_of(2) { 4 } else { 0 };
                bytes[i / 2] |= quantize_value(v * inverse) << shift;
            }
            max
        })
        .collect();
    (packed, absmax)
}

/// Unpack one code: element `index` of the packed stream.
pub fn code_at(packed: &[u8], index: usize) -> u8 {
    let byte = packed[index / 2];
    if index.is_multiple_of(2) {
        byte >> 4
    } else {
        byte & 0x0f
    }
}

/// For each byte value, the two levels it encodes (high nibble first): dequantizing a pair
/// is one table load instead of two shifts, two masks and two loads.
static PAIR_TABLE: std::sync::LazyLock<[[f32; 2]; 256]> = std::sync::LazyLock::new(|| {
    std::array::from_fn(|byte| [CODE_BOOK[byte >> 4], CODE_BOOK[byte & 0x0f]])
});

/// A float type NF4 dequantizes into. The level times the absmax is computed in f32, as
/// bitsandbytes does, then widened: every dtype sees the same weights.
pub trait Float: Copy + Default + Send + Sync + 'static {
    /// Convert a dequantized f32 value.
    fn from_f32(value: f32) -> Self;

    /// `values` as this type without converting them, when it is f32 (a full-precision
    /// weight is then read in place rather than copied).
    fn in_place(values: &[f32]) -> Option<&[Self]>;
}

impl Float for f32 {
    fn from_f32(value: f32) -> Self {
        value
    }

    fn in_place(values: &[f32]) -> Option<&[Self]> {
        Some(values)
    }
}

impl Float for f64 {
    fn from_f32(value: f32) -> Self {
        Self::from(value)
    }

    fn in_place(_: &[f32]) -> Option<&[Self]> {
        None
    }
}

/// Dequantize elements `start .. start + out.len()` of a packed stream into `out`, given a
/// function that yields the absmax of block `b`.
///
/// This is the inner loop of the NF4 linear layer: it runs once per tile in the forward pass
/// and again in the backward pass, so it works a block (one absmax) at a time and a byte
/// (two values) at a time when the range is aligned.
pub fn dequantize_range<T: Float>(
    packed: &[u8],
    start: usize,
    out: &mut [T],
    mut absmax_of_block: impl FnMut(usize) -> f32,
) {
    let table = &*PAIR_TABLE;
    let end = start + out.len();
    let mut index = start;
    let mut written = 0;
    while index < end {
        let block = index / BLOCK_SIZE;
        let block_end = ((block + 1) * BLOCK_SIZE).min(end);
        let scale = absmax_of_block(block);
        let mut i = index;
        if i % 2 == 1 && i < block_end {
            out[written] = T::from_f32(CODE_BOOK[usize::from(packed[i / 2] & 0x0f)] * scale);
            written += 1;
            i += 1;
        }
        let pairs = (block_end - i) / 2;
        let bytes = &packed[i / 2..i / 2 + pairs];
        for (pair, &byte) in out[written..written + 2 * pairs]
            .chunks_exact_mut(2)
            .zip(bytes)
        {
            let [hi, lo] = table[usize::from(byte)];
            pair[0] = T::from_f32(hi * scale);
            pair[1] = T::from_f32(lo * scale);
        }
        written += 2 * pairs;
        i += 2 * pairs;
        if i < block_end {
            out[written] = T::from_f32(CODE_BOOK[usize::from(packed[i / 2] >> 4)] * scale);
            written += 1;
            i += 1;
        }
        index = i;
    }
}

/// A matrix in NF4 with double-quantized absmax values: the whole frozen weight of a layer.
///
/// Holds only the packed codes and the compressed scales — about 4.127 bits per weight —
/// and dequantizes any range of rows or columns on demand.
#[derive(Debug, Clone)]
pub struct Nf4Matrix {
    rows: usize,
    cols: usize,
    packed: Vec<u8>,
    absmax: DoubleQuant,
}

impl Nf4Matrix {
    /// Quantize a row-major `rows × cols` matrix (`values.len() == rows * cols`).
    pub fn quantize(values: &[f32], rows: usize, cols: usize) -> Self {
        assert_eq!(
            values.len(),
            rows * cols,
            "nf4 matrix: values do not match its shape"
        );
        let (packed, absmax) = quantize(values);
        Self {
            rows,
            cols,
            packed,
            absmax: DoubleQuant::quantize(&absmax),
        }
    }

    /// Number of rows (a linear layer's output features).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (a linear layer's input features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The packed codes, two per byte, first element in the high nibble.
    pub fn packed(&self) -> &[u8] {
        &self.packed
    }

    /// The double-quantized absmax values.
    pub fn absmax(&self) -> &DoubleQuant {
        &self.absmax
    }

    /// Bytes held: packed codes plus compressed scales.
    pub fn stored_bytes(&self) -> usize {
        self.packed.len() + self.absmax.stored_bytes()
    }

    /// Dequantize `out.len()` consecutive elements starting at flat index `start`.
    pub fn dequantize_range<T: Float>(&self, start: usize, out: &mut [T]) {
        dequantize_range(&self.packed, start, out, |b| self.absmax.value(b));
    }

    /// Dequantize rows `first .. first + out.len() / cols` into `out` (row-major).
    pub fn dequantize_rows<T: Float>(&self, first: usize, out: &mut [T]) {
        self.dequantize_range(first * self.cols, out);
    }

    /// Dequantize columns `first .. first + width` of every row into `out`, row-major
    /// `rows × width`.
    pub fn dequantize_cols<T: Float>(&self, first: usize, width: usize, out: &mut [T]) {
        for (row, chunk) in out.chunks_exact_mut(width).enumerate() {
            self.dequantize_range(row * self.cols + first, chunk);
        }
    }

    /// The whole matrix in f32, row-major.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.rows * self.cols];
        self.dequantize_range(0, &mut out);
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    use crate::sample::standard_normal;

    /// The standard normal quantile function (Acklam's rational approximation, relative
    /// error below 1.2e-9): an independent route to the NF4 levels.
    fn normal_quantile(p: f64) -> f64 {
        #[allow(
            clippy::excessive_precision,
            reason = "Acklam's published coefficients, kept verbatim"
        )]
        const A: [f64; 6] = [
            -3.969683028665376e1,
            2.209460984245205e2,
            -2.759285104469687e2,
            1.383577518672690e2,
            -3.066479806614716e1,
            2.506628277459239,
        ];
        const B: [f64; 5] = [
            -5.447609879822406e1,
            1.615858368580409e2,
            -1.556989798598866e2,
            6.680131188771972e1,
            -1.328068155288572e1,
        ];
        const C: [f64; 6] = [
            -7.784894002430293e-3,
            -3.223964580411365e-1,
            -2.400758277161838,
            -2.549732539343734,
            4.374664141464968,
            2.938163982698783,
        ];
        const D: [f64; 4] = [
            7.784695709041462e-3,
            3.224671290700398e-1,
            2.445134137142996,
            3.754408661907416,
        ];
        let tail = |q: f64| {
            (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
                / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
        };
        if p < 0.02425 {
            tail((-2.0 * p.ln()).sqrt())
        } else if p > 1.0 - 0.02425 {
            -tail((-2.0 * (1.0 - p).ln()).sqrt())
        } else {
            let q = p - 0.5;
            let r = q * q;
            (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
                / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
        }
    }

    #[test]
    fn code_book_is_the_normal_quantiles_of_the_qlora_paper() {
        // QLoRA §3 / bitsandbytes `create_normal_map(offset=0.9677083)`: 8 positive
        // quantiles over linspace(offset, 0.5, 9)[:-1], 7 negative over linspace(offset,
        // 0.5, 8)[:-1], an exact zero, all divided by the largest.
        let offset = 0.9677083;
        let linspace =
            |n: usize| (0..n - 1).map(move |i| offset + (0.5 - offset) * i as f64 / (n - 1) as f64);
        let mut levels: Vec<f64> = linspace(9).map(normal_quantile).collect();
        levels.extend(linspace(8).map(|p| -normal_quantile(p)));
        levels.push(0.0);
        levels.sort_by(f64::total_cmp);
        let max = levels[15];
        for (i, (&ours, reference)) in CODE_BOOK
            .iter()
            .zip(levels.iter().map(|v| v / max))
            .enumerate()
        {
            assert!(
                (f64::from(ours) - reference).abs() < 1e-6,
                "level {i}: {ours} vs {reference}"
            );
        }
    }

    #[test]
    fn every_level_quantizes_to_itself_and_others_to_the_nearest() {
        for (code, &level) in CODE_BOOK.iter().enumerate() {
            assert_eq!(usize::from(quantize_value(level)), code, "level {level}");
        }
        // Away from a midpoint by a few ulps, the code is the nearest level. Within an ulp,
        // the f32 rounding of bitsandbytes' threshold literals decides (as on CUDA).
        for i in 0..15 {
            let mid = (f64::from(CODE_BOOK[i]) + f64::from(CODE_BOOK[i + 1])) / 2.0;
            let near = mid as f32;
            let below = near.next_down().next_down();
            let above = near.next_up().next_up();
            assert!(f64::from(below) < mid && f64::from(above) > mid);
            assert_eq!(
                usize::from(quantize_value(below)),
                i,
                "just below midpoint {mid}"
            );
            assert_eq!(
                usize::from(quantize_value(above)),
                i + 1,
                "just above midpoint {mid}"
            );
            if f64::from(near) == mid {
                assert_eq!(
                    usize::from(quantize_value(near)),
                    i,
                    "exactly on midpoint {mid}"
                );
            }
        }
        assert_eq!(quantize_value(-3.0), 0);
        assert_eq!(quantize_value(3.0), 15);
    }

    #[test]
    fn code_book_block_round_trips_exactly() {
        // Four copies of the levels scaled by a power of two: every value is a level times
        // the block's absmax, so quantize → dequantize reproduces it bit for bit.
        let block: Vec<f32> = CODE_BOOK
            .iter()
            .cycle()
            .take(BLOCK_SIZE)
            .map(|v| v * 0.25)
            .collect();
        let (packed, absmax) = quantize(&block);
        assert_eq!(absmax, vec![0.25]);
        let mut out = vec![0.0; BLOCK_SIZE];
        dequantize_range(&packed, 0, &mut out, |_| absmax[0]);
        assert_eq!(out, block);
    }

    #[test]
    fn packs_two_codes_per_byte_first_in_the_high_nibble() {
        // Codes 0, 1, …, 15 in order: bytes 0x01, 0x23, …, 0xef (bitsandbytes:
        // `packed = q[::2] << 4 | q[1::2]`).
        let values: Vec<f32> = CODE_BOOK.to_vec();
        let (packed, _) = quantize(&values);
        assert_eq!(packed, vec![0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
        // An odd length leaves the last low nibble 0; a zero block is all code 7.
        let (packed, absmax) = quantize(&[1.0, -1.0, 1.0]);
        assert_eq!(packed, vec![0xf0, 0xf0]);
        assert_eq!(absmax, vec![1.0]);
        let (packed, absmax) = quantize(&[0.0; 4]);
        assert_eq!(packed, vec![0x77, 0x77]);
        assert_eq!(absmax, vec![0.0]);
    }

    #[test]
    fn blocks_are_64_values_each_with_its_absmax() {
        let mut values = vec![0.5f32; 130];
        values[3] = -2.0;
        values[64] = 4.0;
        values[129] = 0.25;
        let (packed, absmax) = quantize(&values);
        assert_eq!(packed.len(), 65);
        assert_eq!(absmax, vec![2.0, 4.0, 0.5]);
        assert_eq!(code_at(&packed, 3), 0);
        assert_eq!(code_at(&packed, 64), 15);
        assert_eq!(code_at(&packed, 128), 15);
    }

    #[test]
    fn random_normal_error_matches_bitsandbytes() {
        // bitsandbytes' tests/test_functional.py::test_4bit_quant, nf4, blocksize 64: over
        // randn(1024, 1024) the mean absolute error averages 0.072792 and the mean relative
        // error 0.203299 (1k samples); it asserts each below that + 1e-3.
        let values = standard_normal(1024 * 1024, 7);
        let (packed, absmax) = quantize(&values);
        let mut out = vec![0.0; values.len()];
        dequantize_range(&packed, 0, &mut out, |b| absmax[b]);
        let n = values.len() as f64;
        let err: f64 = values
            .iter()
            .zip(&out)
            .map(|(a, b)| f64::from((a - b).abs()))
            .sum::<f64>()
            / n;
        let rel: f64 = values
            .iter()
            .zip(&out)
            .map(|(a, b)| f64::from((a - b).abs() / (a.abs() + 1e-8)))
            .sum::<f64>()
            / n;
        assert!((err - 0.072792).abs() < 1e-3, "mean abs error {err}");
        assert!(rel < 0.203299 + 1e-3, "mean rel error {rel}");
        // And no value is further from its original than half the widest gap between
        // levels (-1 to -0.696…) times its block's absmax.
        let widest = CODE_BOOK
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(0.0f32, f32::max);
        for (i, (a, b)) in values.iter().zip(&out).enumerate() {
            let bound = absmax[i / BLOCK_SIZE] * widest / 2.0 * (1.0 + 1e-5);
            assert!((a - b).abs() <= bound, "value {i}: {a} → {b}");
        }
    }

    #[test]
    fn dequantize_range_agrees_with_elementwise_decoding_at_any_alignment() {
        let values = standard_normal(3 * BLOCK_SIZE + 7, 3);
        let (packed, absmax) = quantize(&values);
        let reference: Vec<f32> = (0..values.len())
            .map(|i| CODE_BOOK[usize::from(code_at(&packed, i))] * absmax[i / BLOCK_SIZE])
            .collect();
        for (start, len) in [
            (0, values.len()),
            (1, 64),
            (63, 2),
            (64, 65),
            (5, 1),
            (127, 70),
            (199, 0),
        ] {
            let mut out = vec![f32::NAN; len];
            dequantize_range(&packed, start, &mut out, |b| absmax[b]);
            assert_eq!(out, reference[start..start + len], "range {start}+{len}");
        }
    }

    #[test]
    fn matrix_stores_about_4_127_bits_per_weight() {
        // 4 bits per code + 8/64 per absmax code + 32/(64·256) per second-level scale,
        // + 32 bits of offset over the whole matrix.
        let (rows, cols) = (256, 1024);
        let matrix = Nf4Matrix::quantize(&standard_normal(rows * cols, 1), rows, cols);
        let bits = matrix.stored_bytes() as f64 * 8.0 / (rows * cols) as f64;
        let expected = 4.0 + 8.0 / 64.0 + 32.0 / (64.0 * 256.0) + 32.0 / (rows * cols) as f64;
        assert!(
            (bits - expected).abs() < 1e-12,
            "{bits} bits per weight, expected {expected}"
        );
        assert!((bits - 4.127).abs() < 0.001);
    }

    #[test]
    fn matrix_rows_and_columns_match_the_full_dequantization() {
        let (rows, cols) = (5, 96);
        let matrix = Nf4Matrix::quantize(&standard_normal(rows * cols, 9), rows, cols);
        let full = matrix.dequantize();
        let mut two_rows = vec![0.0; 2 * cols];
        matrix.dequantize_rows(2, &mut two_rows);
        assert_eq!(two_rows, full[2 * cols..4 * cols]);
        let (first, width) = (32, 40);
        let mut block = vec![0.0; rows * width];
        matrix.dequantize_cols(first, width, &mut block);
        for r in 0..rows {
            assert_eq!(
                block[r * width..(r + 1) * width],
                full[r * cols + first..r * cols + first + width]
            );
        }
    }
}
