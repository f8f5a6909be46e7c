//! Matrix products on slices, for the fused ops: a checked view type over the `gemm` crate's
//! raw-pointer interface.

use candle_core::WithDType;

/// A `rows × cols` matrix read from a slice with the given strides: row-major as built,
/// transposed by [`Mat::t`] without copying.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T> Mat<'a, T> {
    /// `data` as a row-major `rows × cols` matrix.
    ///
    /// # Panics
    /// When `data` does not hold exactly `rows · cols` values (a caller's shape bug).
    pub(crate) fn new(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "a {rows}×{cols} matrix");
        Self { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    /// The transpose, reading the same values.
    pub(crate) fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// `dst` (row-major `lhs.rows × rhs.cols`) `= beta · lhs · rhs`, plus `dst`'s own values
/// when `accumulate`. Runs on rayon's threads when the product is big enough to share.
///
/// # Panics
/// When the inner or outer dimensions disagree (a caller's shape bug).
pub(crate) fn product<T: WithDType>(dst: &mut [T], lhs: Mat<'_, T>, rhs: Mat<'_, T>, beta: f64, accumulate: bool) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "inner dimensions of a product");
    assert_eq!(dst.len(), m * n, "a {m}×{n} product");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(T::zero());
        }
        return;
    }
    let threads = rayon::current_num_threads();
    let parallelism =
        if threads > 1 && m * n * k >= 1 << 18 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: `Mat::new` checked that each slice holds rows · cols values, so every index
    // i · row_stride + j · col_stride (i < rows, j < cols) of either view is in bounds, and
    // `dst` holds m · n values written row-major (column stride 1, row stride n).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            T::one(),
            T::from_f64(beta),
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain loops: the reference.
    fn naive(a: &[f64], (m, k): (usize, usize), b: &[f64], n: usize) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        out
    }

    fn values(len: usize, salt: usize) -> Vec<f64> {
        (0..len).map(|i| ((i * 37 + salt * 11) % 23) as f64 - 11.0).collect()
    }

    #[test]
    fn products_of_views_match_loops() {
        let (m, k, n) = (70, 33, 45);
        let a = values(m * k, 1);
        let b = values(k * n, 2);
        let want = naive(&a, (m, k), &b, n);
        let mut got = vec![0.0; m * n];
        product(&mut got, Mat::new(&a, m, k), Mat::new(&b, k, n), 1.0, false);
        assert_eq!(got, want);

        // The same product from stored transposes: (Bᵀ)ᵀ.
        let bt: Vec<f64> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let mut from_t = vec![0.0; m * n];
        product(&mut from_t, Mat::new(&a, m, k), Mat::new(&bt, n, k).t(), 1.0, false);
        assert_eq!(from_t, want);

        // Accumulate with a factor: dst + 0.5 · A · B.
        let mut acc = vec![1.0; m * n];
        product(&mut acc, Mat::new(&a, m, k), Mat::new(&b, k, n), 0.5, true);
        let expected: Vec<f64> = want.iter().map(|w| 1.0 + 0.5 * w).collect();
        assert_eq!(acc, expected);
    }

    #[test]
    fn an_empty_inner_dimension_gives_zeros() {
        let mut dst = vec![3.0f32; 6];
        product(&mut dst, Mat::new(&[], 2, 0), Mat::new(&[], 0, 3), 1.0, false);
        assert_eq!(dst, vec![0.0; 6]);
    }

    #[test]
    #[should_panic(expected = "inner dimensions")]
    fn mismatched_dimensions_are_refused() {
        let a = [1.0f32; 6];
        let mut dst = [0.0f32; 4];
        product(&mut dst, Mat::new(&a, 2, 3), Mat::new(&a, 2, 3), 1.0, false);
    }
}
