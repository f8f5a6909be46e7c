//! `x · Wᵀ` for a few rows of `x` with a frozen weight `W`, without a dequantized copy.
//!
//! Generation pushes a handful of rows (one per sequence of the batch) through every linear
//! layer per step. The tiled path of [`crate::frozen`] dequantizes a tile of weight rows
//! into a scratch buffer as large as the L2 cache and hands it to `gemm`, which packs it
//! again: for few rows, moving the weight costs far more than the multiplications. Here each
//! weight row is decoded (NF4) or read in place (f32) once, into a buffer that stays in L1,
//! and dotted at once with every input row; rayon splits the weight rows.
//!
//! The NF4 absmax of each block is decoded from its double-quantized code as the block is
//! reached — one byte, one table entry, one multiply-add per 64 weights — rather than kept
//! as an f32 per block, which would add 0.5 bit per weight (12 %) to the resident model for
//! no measurable gain. Every output is summed by one thread in a fixed order, so results do
//! not depend on the number of threads (only, in the last bits, on whether the CPU has FMA,
//! as with `gemm`).
//!
//! The vector code is plain safe Rust over `pulp`'s portable vectors, which `pulp` compiles
//! once per instruction set and picks at run time (AVX2+FMA here, SSE2 being all a default
//! x86-64 build may assume); `gemm` dispatches the same way.

use std::sync::LazyLock;

use pulp::{Simd, WithSimd};
use rayon::prelude::*;

use crate::bf16_product;
use crate::nf4::{BLOCK_SIZE, CODE_BOOK, Nf4Matrix};
use crate::tiles::TileSource;

/// Most input rows the fused path takes. Measured on one core on SmolLM2's MLP shapes
/// (576 × 1536 both ways), against the tiled `gemm` path: 4.5× faster at 4 rows, 2.4× at
/// 16, 1.8× at 32, 1.3× at 64, even at 128 — where `gemm`'s reuse of each loaded weight
/// across many rows catches up with decoding the weight only once.
pub const MAX_ROWS: usize = 64;

/// Input rows dotted with one decoded weight row at a time: each weight vector is loaded
/// once per group, and the group's two accumulators per row (eight with four rows) hide
/// the latency of the fused multiply-adds.
const GROUP: usize = 4;

/// `x` [m, k] row-major times `Wᵀ`, with `W` [n, k]: returns [m, n] row-major.
pub(crate) fn matmul_transposed(
    weight: TileSource<'_>,
    (n, k): (usize, usize),
    x: &[f32],
    m: usize,
    bf16_operands: bool,
) -> Vec<f32> {
    debug_assert_eq!(x.len(), m * k, "input is [m, k]");
    if m == 0 || n == 0 || k == 0 {
        return vec![0.0; m * n];
    }
    // In bf16 operands (always for NF4, see `crate::frozen`) each weight row is rounded
    // as it is decoded, the input here.
    let x: std::borrow::Cow<'_, [f32]> =
        if bf16_operands { bf16_product::rounded(x).into() } else { x.into() };
    let x = &x[..];
    let mut transposed = vec![0.0f32; n * m];
    let threads = rayon::current_num_threads().max(1);
    // Several tasks per thread for balance, each long enough to dwarf rayon's overhead.
    let rows_per_task = n.div_ceil(8 * threads).max(8);
    let arch = pulp::Arch::new();
    transposed
        .par_chunks_mut(rows_per_task * m)
        .enumerate()
        .for_each_init(Vec::new, |decoded: &mut Vec<f32>, (task, out)| {
            arch.dispatch(Task {
                weight,
                bf16_operands,
                first: task * rows_per_task,
                k,
                x,
                out,
                decoded,
            });
        });
    let mut out = vec![0.0f32; m * n];
    for (j, column) in transposed.chunks_exact(m).enumerate() {
        for (i, &v) in column.iter().enumerate() {
            out[i * n + j] = v;
        }
    }
    out
}

/// One task of [`matmul_transposed`]: weight rows `first..`, one per `x.len() / k` outputs
/// of `out` ([rows, m], the transpose of the result).
struct Task<'a> {
    weight: TileSource<'a>,
    bf16_operands: bool,
    first: usize,
    k: usize,
    x: &'a [f32],
    out: &'a mut [f32],
    decoded: &'a mut Vec<f32>,
}

impl WithSimd for Task<'_> {
    type Output = ();

    /// Compiled once per instruction set `pulp` dispatches to (AVX2+FMA, AVX-512, NEON or
    /// scalar), so the plain loops below get the widest vectors the CPU has.
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Self {
            weight,
            bf16_operands,
            first,
            k,
            x,
            out,
            decoded,
        } = self;
        let m = x.len() / k;
        for (offset, dots) in out.chunks_exact_mut(m).enumerate() {
            let row = first + offset;
            let w = match (weight, bf16_operands) {
                (TileSource::Nf4(matrix), _) => {
                    decoded.resize(k, 0.0);
                    decode_row(matrix, row, decoded);
                    if bf16_operands {
                        bf16_product::round_in_place(decoded);
                    }
                    &decoded[..]
                }
                (TileSource::Full(values), true) => {
                    decoded.clear();
                    decoded.extend_from_slice(&values[row * k..(row + 1) * k]);
                    bf16_product::round_in_place(decoded);
                    &decoded[..]
                }
                (TileSource::Full(values), false) => &values[row * k..(row + 1) * k],
            };
            let mut rows = x.chunks_exact(k);
            for group in dots.chunks_mut(GROUP) {
                match group.len() {
                    4 => group.copy_from_slice(&dot_group::<S, 4>(simd, w, &mut rows)),
                    3 => group.copy_from_slice(&dot_group::<S, 3>(simd, w, &mut rows)),
                    2 => group.copy_from_slice(&dot_group::<S, 2>(simd, w, &mut rows)),
                    _ => group.copy_from_slice(&dot_group::<S, 1>(simd, w, &mut rows)),
                }
            }
        }
    }
}

/// For each byte, the two NF4 levels it packs (high nibble first): one load per two weights.
static PAIR_TABLE: LazyLock<[[f32; 2]; 256]> =
    LazyLock::new(|| std::array::from_fn(|byte| [CODE_BOOK[byte >> 4], CODE_BOOK[byte & 0x0f]]));

/// Row `row` of `matrix` into `out` (`cols` values), as [`Nf4Matrix::dequantize_rows`]
/// computes it. When rows are whole blocks (`cols` a multiple of 64, as in every model
/// we load) a block is decoded eight values at a time, which the compiler turns into one
/// vector multiply and store; otherwise the general routine handles blocks that straddle
/// rows.
#[inline(always)]
fn decode_row(matrix: &Nf4Matrix, row: usize, out: &mut [f32]) {
    let cols = out.len();
    if !cols.is_multiple_of(BLOCK_SIZE) {
        matrix.dequantize_rows(row, out);
        return;
    }
    let table = &*PAIR_TABLE;
    let first_block = row * cols / BLOCK_SIZE;
    let bytes = &matrix.packed()[row * cols / 2..(row + 1) * cols / 2];
    let (out_blocks, _) = out.as_chunks_mut::<BLOCK_SIZE>();
    let (byte_blocks, _) = bytes.as_chunks::<{ BLOCK_SIZE / 2 }>();
    for (b, (values, codes)) in out_blocks.iter_mut().zip(byte_blocks).enumerate() {
        let scale = matrix.absmax().value(first_block + b);
        for (eight, four) in values
            .as_chunks_mut::<8>()
            .0
            .iter_mut()
            .zip(codes.as_chunks::<4>().0)
        {
            *eight = std::array::from_fn(|i| table[usize::from(four[i / 2])][i % 2] * scale);
        }
    }
}

/// The dot products of `w` with the next `R` rows of `rows`: two vector accumulators per
/// row, summed in a fixed order, plus a scalar tail.
#[inline(always)]
fn dot_group<'x, S: Simd, const R: usize>(
    simd: S,
    w: &[f32],
    rows: &mut impl Iterator<Item = &'x [f32]>,
) -> [f32; R] {
    let xs: [&[f32]; R] = std::array::from_fn(|_| rows.next().expect("one input row per output"));
    let (w_vectors, w_tail) = S::as_simd_f32s(w);
    let (w_pairs, w_last) = w_vectors.as_chunks::<2>();
    let x_vectors: [&[S::f32s]; R] =
        std::array::from_fn(|r| &S::as_simd_f32s(xs[r]).0[..w_vectors.len()]);
    let x_pairs: [&[[S::f32s; 2]]; R] =
        std::array::from_fn(|r| &x_vectors[r].as_chunks::<2>().0[..w_pairs.len()]);
    let zero = simd.splat_f32s(0.0);
    let mut even = [zero; R];
    let mut odd = [zero; R];
    for (c, [w0, w1]) in w_pairs.iter().enumerate() {
        for r in 0..R {
            let [x0, x1] = x_pairs[r][c];
            even[r] = simd.mul_add_e_f32s(*w0, x0, even[r]);
            odd[r] = simd.mul_add_e_f32s(*w1, x1, odd[r]);
        }
    }
    if let [w_last] = w_last {
        for r in 0..R {
            even[r] = simd.mul_add_e_f32s(*w_last, x_vectors[r][w_vectors.len() - 1], even[r]);
        }
    }
    let tail_start = w.len() - w_tail.len();
    std::array::from_fn(|r| {
        let tail: f32 = w_tail
            .iter()
            .zip(&xs[r][tail_start..])
            .map(|(a, b)| a * b)
            .sum();
        simd.reduce_sum_f32s(simd.add_f32s(even[r], odd[r])) + tail
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::standard_normal;

    /// `x · Wᵀ` in f64 by plain loops, with the sum of `|x_i · w_i|` of every output: the
    /// reference, and the scale its rounding error is measured against.
    fn reference(x: &[f32], w: &[f32], m: usize, n: usize, k: usize) -> Vec<(f64, f64)> {
        let mut out = Vec::with_capacity(m * n);
        for i in 0..m {
            for j in 0..n {
                let terms = (0..k).map(|p| f64::from(x[i * k + p]) * f64::from(w[j * k + p]));
                out.push(terms.fold((0.0, 0.0), |(sum, size), t| (sum + t, size + t.abs())));
            }
        }
        out
    }

    fn assert_matches(got: &[f32], want: &[(f64, f64)], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (&g, &(sum, size))) in got.iter().zip(want).enumerate() {
            assert!(
                (f64::from(g) - sum).abs() <= 1e-5 * size.max(f64::MIN_POSITIVE),
                "{what}[{i}]: got {g}, want {sum} (terms of size {size})"
            );
        }
    }

    /// Shapes around every special case: `k` a multiple of 64 (whole blocks per row), not
    /// (blocks straddle rows, and a vector tail), below one vector; odd `n`; every row
    /// count up to 17, and the largest the kernel takes.
    #[test]
    fn few_rows_equal_the_matmul_of_the_weight() {
        for (n, k) in [(37, 64), (9, 576), (33, 80), (5, 7), (11, 130)] {
            let values = standard_normal(n * k, (n * k) as u64);
            let nf4 = Nf4Matrix::quantize(&values, n, k);
            // NF4's operands in bf16.
            let dequantized = bf16_product::rounded(&nf4.dequantize());
            for m in (1..=17).chain([MAX_ROWS]) {
                let x = standard_normal(m * k, m as u64);
                let got = matmul_transposed(TileSource::Nf4(&nf4), (n, k), &x, m, true);
                assert_matches(
                    &got,
                    &reference(&bf16_product::rounded(&x), &dequantized, m, n, k),
                    &format!("nf4 [{n}, {k}] × {m} rows"),
                );
                let got = matmul_transposed(TileSource::Full(&values), (n, k), &x, m, false);
                assert_matches(
                    &got,
                    &reference(&x, &values, m, n, k),
                    &format!("f32 [{n}, {k}] × {m} rows"),
                );
            }
        }
    }

    #[test]
    fn empty_products_are_zeros() {
        assert_eq!(
            matmul_transposed(TileSource::Full(&[]), (3, 0), &[], 2, false),
            [0.0; 6]
        );
        assert!(matmul_transposed(TileSource::Full(&[0.0; 6]), (3, 2), &[], 0, false).is_empty());
    }

    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        let (n, k, m) = (301, 192, 5);
        let nf4 = Nf4Matrix::quantize(&standard_normal(n * k, 1), n, k);
        let x = standard_normal(m * k, 2);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            pool.install(|| matmul_transposed(TileSource::Nf4(&nf4), (n, k), &x, m, true))
        };
        let one = run(1);
        assert_eq!(one.len(), m * n);
        assert_eq!(one, run(3));
        assert_eq!(one, run(8));
    }
}
