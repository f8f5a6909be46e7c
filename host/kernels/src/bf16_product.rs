//! The frozen NF4 product in bf16 on the CPU: `x · Wᵀ` (forward) or `g · W` (the backward
//! pass to the input) with both operands rounded to bf16 and the sums kept in f32 — the
//! arithmetic of QLoRA as bitsandbytes runs it (`bnb_4bit_compute_dtype = bfloat16`), and
//! of the CUDA path.
//!
//! Where the CPU has AMX (`amx`), the layer's weight is decoded (NF4) or rounded
//! (an f32 weight, the LM head of an NF4 model) once per call into a temporary bf16 copy
//! laid out as the tile instructions read it (pairs of inner values side by side), the
//! input is rounded into another, and each thread computes whole rows of the output,
//! 32 × 32 at a time. The copy is freed when the call returns: as on a GPU, at
//! most one layer's weight exists decoded at a time and the autograd graph holds none.
//! Elsewhere [`crate::frozen`] computes the same products with f32 kernels on rounded
//! values (`rounded`), so a run's numbers do not depend on the CPU beyond the order of sums.

use rayon::prelude::*;

use crate::amx::{self, BLOCK, TILE_DEPTH, TILE_ROWS, Tiles};
pub use crate::amx::available as amx_available;
use crate::tiles::TileSource;

/// The bf16 bit pattern nearest to `value` (ties to even); NaN stays NaN. Branch-free,
/// so loops over it vectorize.
pub(crate) fn to_bits(value: f32) -> u16 {
    let bits = value.to_bits();
    let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16;
    let quiet_nan = (bits >> 16) | 0x40;
    (if value.is_nan() { quiet_nan } else { rounded }) as u16
}

/// `value` rounded to the nearest bf16, as an f32.
fn round(value: f32) -> f32 {
    f32::from_bits(u32::from(to_bits(value)) << 16)
}

/// Every value rounded to the nearest bf16, in place: the operands of an f32 kernel that
/// computes what bf16 products would.
pub(crate) fn round_in_place(values: &mut [f32]) {
    values.iter_mut().for_each(|v| *v = round(*v));
}

/// `values` rounded to the nearest bf16.
pub fn rounded(values: &[f32]) -> Vec<f32> {
    values.iter().map(|&v| round(v)).collect()
}

/// [`to_bits`] of every value of `src` into `dst` (as long as `src`): with AVX-512 BF16's
/// conversion, 32 values an instruction, where the CPU has it (every CPU with AMX does).
fn to_bits_slice(src: &[f32], dst: &mut [u16]) {
    let dst = &mut dst[..src.len()];
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512bf16") {
        // SAFETY: the CPU has the instructions the function is compiled for.
        unsafe { to_bits_avx512(src, dst) };
        return;
    }
    for (d, &v) in dst.iter_mut().zip(src) {
        *d = to_bits(v);
    }
}

/// [`to_bits_slice`] with `vcvtne2ps2bf16` (round to nearest even; denormals become zero,
/// as the tile products treat them anyway). `dst` is as long as `src`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
fn to_bits_avx512(src: &[f32], dst: &mut [u16]) {
    use std::arch::x86_64::{__m512bh, __m512i, _mm512_cvtne2ps_pbh, _mm512_loadu_ps, _mm512_storeu_si512};
    let (src32, src_tail) = src.as_chunks::<32>();
    let (dst32, dst_tail) = dst.as_chunks_mut::<32>();
    for (d, s) in dst32.iter_mut().zip(src32) {
        // SAFETY: `s` holds 32 floats and `d` 32 u16 (64 bytes); unaligned loads and
        // stores. The low half of the result converts the second argument.
        unsafe {
            let low = _mm512_loadu_ps(s.as_ptr());
            let high = _mm512_loadu_ps(s.as_ptr().add(16));
            let packed = _mm512_cvtne2ps_pbh(high, low);
            _mm512_storeu_si512(d.as_mut_ptr().cast(), std::mem::transmute::<__m512bh, __m512i>(packed));
        }
    }
    for (d, &v) in dst_tail.iter_mut().zip(src_tail) {
        *d = to_bits(v);
    }
}

/// Two bf16 bit patterns in one `u32`, `even` in the low half: a pair of consecutive inner
/// values as the tile instructions read the right-hand side.
fn pair(even: u16, odd: u16) -> u32 {
    u32::from(even) | (u32::from(odd) << 16)
}

/// Output rows one task computes: four 32-row blocks share each panel of the weight
/// while it is in the L2 cache.
const ROWS_PER_TASK: usize = 4 * BLOCK;
/// Output columns per panel: four blocks of 32 columns.
const PANEL: usize = 4 * BLOCK;
/// Inner steps (of 32 values) per pass: a pass's share of a row block (32 KiB) stays in
/// the L1 cache while the panel's four column blocks (128 KiB) pass over it from L2,
/// however long the inner dimension (the LM head's backward pass sums over the whole
/// vocabulary).
const STEPS_PER_PASS: usize = 16;

/// `x` [m, k] times `Wᵀ` (or `W` when `transposed`), `W` [rows, cols], with AMX: [m, n]
/// row-major, or `None` when this CPU or process has no AMX, or when `n` is not a
/// multiple of 32.
pub(crate) fn amx_product(
    w: TileSource<'_>,
    dims: (usize, usize),
    x: &[f32],
    m: usize,
    transposed: bool,
) -> Option<Vec<f32>> {
    if m == 0 {
        return None;
    }
    PairedWeight::new(w, dims, transposed).map(|weight| weight.product(x, m))
}

/// A weight decoded or rounded to bf16 once, laid out for the tiles, for several products
/// in one direction (the LM head multiplies chunk after chunk of rows through it).
pub struct PairedWeight {
    pairs: Vec<u32>,
    /// `(k, n)` of the products: the input's columns, the output's.
    k: usize,
    n: usize,
}

impl PairedWeight {
    /// `W` [rows, cols] as the right-hand side of `x · Wᵀ` (or of `x · W` when
    /// `transposed`), or `None` when this CPU or process has no AMX, or when the products'
    /// `n` is not a multiple of 32.
    pub(crate) fn new(w: TileSource<'_>, (rows, cols): (usize, usize), transposed: bool) -> Option<Self> {
        let (k, n) = if transposed { (rows, cols) } else { (cols, rows) };
        if n % BLOCK != 0 || k == 0 || !amx::available() {
            return None;
        }
        let pairs = paired_weight(w, (rows, cols), transposed, k.div_ceil(TILE_DEPTH));
        Some(Self { pairs, k, n })
    }

    /// `x` [m, k] times the weight: [m, n] row-major.
    pub fn product(&self, x: &[f32], m: usize) -> Vec<f32> {
        let (k, n, b) = (self.k, self.n, &self.pairs);
        assert_eq!(x.len(), m * k, "input is [{m}, {k}]");
        let steps = k.div_ceil(TILE_DEPTH);
        let a = tiled_rows(x, k, steps, m.next_multiple_of(BLOCK));
        let band = steps * TILE_ROWS * TILE_DEPTH;
        let column_block = steps * TILE_ROWS * BLOCK;
        let len = m.next_multiple_of(BLOCK) * n;
        let mut out = Vec::with_capacity(len);
        out.spare_capacity_mut()[..len].par_chunks_mut(ROWS_PER_TASK * n).enumerate().for_each(|(task, out)| {
            let tiles = Tiles::new().expect("AMX was available for this weight");
            let first_band = task * ROWS_PER_TASK / TILE_ROWS;
            let task_rows = out.len() / n;
            // Passes of equal length: 18 steps go as 9 + 9, not 16 + 2.
            let per_pass = steps.div_ceil(steps.div_ceil(STEPS_PER_PASS));
            for first_step in (0..steps).step_by(per_pass) {
                let pass = per_pass.min(steps - first_step);
                for panel in (0..n).step_by(PANEL) {
                    for row in (0..task_rows).step_by(BLOCK) {
                        let a = &a[(first_band + row / TILE_ROWS) * band + first_step * TILE_ROWS * TILE_DEPTH..];
                        for col in (panel..(panel + PANEL).min(n)).step_by(BLOCK) {
                            let b = &b[col / BLOCK * column_block + first_step * TILE_ROWS * BLOCK..];
                            // SAFETY: the first pass (`first_step` 0) writes every block
                            // of the task (its rows are whole blocks, `n` is whole blocks)
                            // before a later pass accumulates into it.
                            unsafe { tiles.block(a, band, b, pass, &mut out[row * n + col..], n, first_step > 0) };
                        }
                    }
                }
            }
        });
        // SAFETY: every element was written above: the tasks' chunks cover all `len`.
        unsafe { out.set_len(len) };
        out.truncate(m * n);
        out
    }
}

/// `x` [m, k] in bf16 tiles: bands of 16 rows, each `steps` tiles of 16 × 32 values
/// ([`Tiles::block`]'s `a`), zeros past `m` rows and `k` columns, `rows` rows in all.
fn tiled_rows(x: &[f32], k: usize, steps: usize, rows: usize) -> Vec<u16> {
    let band = steps * TILE_ROWS * TILE_DEPTH;
    let mut out = vec![0u16; rows / TILE_ROWS * band];
    out.par_chunks_mut(band).zip(x.par_chunks(TILE_ROWS * k)).for_each(|(tiles, x)| {
        for (r, row) in x.chunks_exact(k).enumerate() {
            for (tile, values) in tiles.chunks_exact_mut(TILE_ROWS * TILE_DEPTH).zip(row.chunks(TILE_DEPTH)) {
                to_bits_slice(values, &mut tile[r * TILE_DEPTH..]);
            }
        }
    });
    out
}

/// The right-hand side [k, n] in bf16 for [`Tiles::block`]: blocks of 32 columns, each
/// `steps · 16` rows of pairs of inner values, zeros past `k`. Forward it is `Wᵀ` (the
/// inner index runs along W's rows), backward `W` itself (down its columns).
fn paired_weight(w: TileSource<'_>, (rows, cols): (usize, usize), transposed: bool, steps: usize) -> Vec<u32> {
    let (k, n) = if transposed { (rows, cols) } else { (cols, rows) };
    let column_block = steps * TILE_ROWS * BLOCK;
    let mut out = vec![0u32; n / BLOCK * column_block];
    out.par_chunks_mut(column_block).enumerate().for_each_init(
        || (Vec::new(), Vec::new()),
        |(decoded, bits): &mut (Vec<f32>, Vec<u16>), (block, pairs)| {
            let first = block * BLOCK;
            decoded.resize(BLOCK * k, 0.0);
            // The decoded values in bf16, with a zero past an odd `k` (a zero row when
            // transposed, a zero column otherwise).
            let even = k.next_multiple_of(2);
            bits.clear();
            bits.resize(BLOCK * even, 0);
            if transposed {
                // [k, 32]: W's columns first.. of every row; rows 2p and 2p + 1 make pair
                // row p.
                w.cols(first, BLOCK, cols, decoded);
                to_bits_slice(decoded, bits);
                for (dst, two_rows) in pairs.chunks_exact_mut(BLOCK).zip(bits.chunks_exact(2 * BLOCK)) {
                    let (evens, odds) = two_rows.split_at(BLOCK);
                    for ((d, &e), &o) in dst.iter_mut().zip(evens).zip(odds) {
                        *d = pair(e, o);
                    }
                }
            } else {
                // [32, k]: W's rows first..; values 2p and 2p + 1 of row j make pair (p, j).
                w.rows(first, cols, decoded);
                for (src, dst) in decoded.chunks_exact(k).zip(bits.chunks_exact_mut(even)) {
                    to_bits_slice(src, dst);
                }
                for (j, row) in bits.chunks_exact(even).enumerate() {
                    for (d, two) in pairs[j..].iter_mut().step_by(BLOCK).zip(row.as_chunks::<2>().0) {
                        *d = pair(two[0], two[1]);
                    }
                }
            }
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nf4::Nf4Matrix;
    use crate::sample::standard_normal;

    #[test]
    fn rounding_is_to_the_nearest_bf16_ties_to_even() {
        assert_eq!(to_bits(1.0), 0x3f80);
        // 1 + 2⁻⁸ lies halfway between 1 and 1 + 2⁻⁷: ties go to the even mantissa, 1.
        assert_eq!(to_bits(1.0 + 2f32.powi(-8)), 0x3f80);
        // 1 + 3 · 2⁻⁸ lies halfway between 1 + 2⁻⁷ (odd) and 1 + 2⁻⁶: up, to even.
        assert_eq!(to_bits(1.0 + 3.0 * 2f32.powi(-8)), 0x3f82);
        assert_eq!(to_bits(1.0 + 2f32.powi(-8) + 2f32.powi(-20)), 0x3f81);
        assert_eq!(to_bits(-2.5), 0xc020);
        assert!(round(f32::NAN).is_nan());
        assert_eq!(round(f32::INFINITY), f32::INFINITY);
        assert_eq!(round(f32::MAX), f32::INFINITY, "past bf16's largest value");
    }

    #[test]
    fn slices_convert_as_single_values_do() {
        // 1000 values: whole vectors of 32 and a tail; ties, both signs, large and small.
        let values: Vec<f32> = standard_normal(1000, 6)
            .iter()
            .enumerate()
            .map(|(i, v)| match i % 4 {
                0 => 1.0 + (i as f32) * 2f32.powi(-8),
                1 => -v * 1e3,
                _ => v * 1e-3,
            })
            .collect();
        let mut bits = vec![0u16; values.len()];
        to_bits_slice(&values, &mut bits);
        for (i, (&b, &v)) in bits.iter().zip(&values).enumerate() {
            assert_eq!(b, to_bits(v), "value {i}: {v}");
        }
    }

    /// The product of the bf16-rounded operands in f64: what AMX must give up to f32 sums.
    fn reference(w: &[f32], (rows, cols): (usize, usize), x: &[f32], m: usize, transposed: bool) -> Vec<f64> {
        let (k, n) = if transposed { (rows, cols) } else { (cols, rows) };
        let weight = |i: usize, j: usize| f64::from(round(if transposed { w[i * cols + j] } else { w[j * cols + i] }));
        let mut out = vec![0.0; m * n];
        for r in 0..m {
            for j in 0..n {
                out[r * n + j] = (0..k).map(|i| f64::from(round(x[r * k + i])) * weight(i, j)).sum();
            }
        }
        out
    }

    #[test]
    fn amx_products_match_the_rounded_operands_both_ways() {
        if !amx::available() {
            eprintln!("no AMX on this CPU: the tile path is not exercised");
            return;
        }
        // (rows, cols, transposed): inner dimensions that need padding (200 forward, 150
        // backward), odd ones (75), long ones summed in several passes (600), two panels of
        // output columns (160), and 150 input rows: two tasks, the last block padded.
        let m = 150;
        let shapes = [(160, 200, false), (150, 96, true), (96, 75, false), (75, 64, true), (32, 600, false), (600, 64, true)];
        for (rows, cols, transposed) in shapes {
            let nf4 = Nf4Matrix::quantize(&standard_normal(rows * cols, 3), rows, cols);
            let k = if transposed { rows } else { cols };
            let x = standard_normal(m * k, 4);
            let weight = nf4.dequantize();
            let want = reference(&weight, (rows, cols), &x, m, transposed);
            let scale = want.iter().fold(0.0f64, |a, v| a.max(v.abs()));
            // The NF4 weight, and the same values as an f32 weight (an NF4 model's LM head).
            for source in [TileSource::Nf4(&nf4), TileSource::Full(&weight)] {
                let got = amx_product(source, (rows, cols), &x, m, transposed).expect("n is whole blocks");
                assert_eq!(got.len(), want.len());
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!((f64::from(*g) - w).abs() <= 1e-5 * scale, "{rows}×{cols} transposed {transposed}, element {i}: {g} vs {w}");
                }
            }
        }
    }
}
