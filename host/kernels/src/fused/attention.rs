//! Attention probabilities as one CPU op: `P = softmax(scale · q·kᵀ + mask)` over the keys.
//!
//! The composite it replaces (a batched matmul, then `softmax::masked_softmax`: affine,
//! mask add, max, subtract, exp, sum, divide) keeps about six `[b, heads, t, t_kv]` tensors
//! alive per layer for the backward pass: the raw scores, the scaled and the masked scores,
//! the shifted scores, their exponentials and the normalised result. This op keeps only its
//! inputs `q`, `k` and its output `P`. The backward pass rebuilds what it needs from `P`
//! (the softmax Jacobian needs nothing else):
//!
//! - `dS = P ⊙ (dP − rowsum(dP ⊙ P))`,
//! - `dq = scale · dS · k`, `dk = scale · dSᵀ · q`.
//!
//! The query heads that share one key/value head are folded into the rows of `q` (row
//! `r = gi · t + ti`, as `Attention::forward` lays them out), so each `[g·t, d] × [d, t_kv]`
//! product is one `gemm` call per block of rows, and the keys are never repeated per head.
//! The mask is a frozen constant; it gets no gradient.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, DType, Layout, Shape, Storage, Tensor, WithDType};
use rayon::prelude::*;

/// Rows of one `[g·t, d]` query matrix (or of one `[t_kv, d]` key gradient) per parallel
/// task: small enough that a batch of a few matrices splits into many tasks, large enough
/// that `gemm` amortises its packing of the shared right-hand side.
const ROW_BLOCK: usize = 32;

/// `softmax(scale · q·kᵀ + mask)` over the last dimension, differentiable in `q` and `k`.
///
/// `q` is `[b, kvh, g·t, d]` (the `g` query heads of each key/value head folded into the
/// rows, row `gi · t + ti`), `k` is `[b, kvh, t_kv, d]`, and `mask` is additive f32
/// `[mb, 1, t, t_kv]` with `mb` 1 or `b` (0 where a query may attend, `f32::MIN`
/// elsewhere); query row `r` gets mask row `r mod t`. Returns `[b, kvh, g·t, t_kv]` in the
/// dtype of `q` (f32 or f64; in f64 the mask is widened).
///
/// As in transformers (and the composite this replaces), the mask is added after scaling
/// and the row maximum is subtracted before `exp`: `f32::MIN` absorbs any score, so a query
/// that sees no key gets a uniform distribution rather than NaN.
pub(crate) fn attention_probs(
    q: &Tensor,
    k: &Tensor,
    mask: Option<&Tensor>,
    scale: f64,
) -> candle_core::Result<Tensor> {
    let q = q.contiguous()?;
    let k = k.contiguous()?;
    let mask = mask.map(Tensor::contiguous).transpose()?;
    q.apply_op2(&k, AttentionProbs { mask, scale })
}

/// The custom op behind [`attention_probs`]: the frozen mask and the scale.
struct AttentionProbs {
    mask: Option<Tensor>,
    scale: f64,
}

/// Sizes of one call, checked against each other.
#[derive(Clone, Copy)]
struct Dims {
    /// Batch size `b`.
    batch: usize,
    /// Key/value heads `kvh`.
    kv_heads: usize,
    /// Rows of one query matrix, `g · t`.
    rows: usize,
    /// Query positions `t`: the period of the mask rows (`rows` without a mask).
    t: usize,
    /// Keys `t_kv`.
    keys: usize,
    /// Head dimension `d`.
    head_dim: usize,
    /// Batch size of the mask, 1 or `b` (1 without a mask).
    mask_batch: usize,
}

impl Dims {
    /// Number of `[rows, d]` query matrices, `b · kvh`.
    fn matrices(&self) -> usize {
        self.batch * self.kv_heads
    }

    /// Mask rows `[t, t_kv]` of matrix `m`, if there is a mask.
    fn mask_of<'a>(&self, mask: Option<&'a [f32]>, m: usize) -> Option<&'a [f32]> {
        let plane = self.t * self.keys;
        let batch = if self.mask_batch == 1 {
            0
        } else {
            m / self.kv_heads
        };
        mask.map(|mask| &mask[batch * plane..(batch + 1) * plane])
    }
}

impl AttentionProbs {
    const NAME: &'static str = "attention-probs";

    /// Sizes from the layouts of `q` and `k` and the mask's shape, or an error naming them.
    fn dims(&self, q: &Layout, k: &Layout) -> candle_core::Result<Dims> {
        let (batch, kv_heads, rows, head_dim) = q.shape().dims4()?;
        let k_dims = k.shape().dims4()?;
        if k_dims.0 != batch || k_dims.1 != kv_heads || k_dims.3 != head_dim {
            candle_core::bail!(
                "{}: k {:?}: expected [{batch}, {kv_heads}, t_kv, {head_dim}] for q {:?}",
                Self::NAME,
                k.shape(),
                q.shape()
            );
        }
        let keys = k_dims.2;
        let Some(mask) = &self.mask else {
            return Ok(Dims {
                batch,
                kv_heads,
                rows,
                t: rows,
                keys,
                head_dim,
                mask_batch: 1,
            });
        };
        let (mask_batch, one, t, mask_keys) = mask.dims4()?;
        let batch_ok = mask_batch == 1 || mask_batch == batch;
        let rows_ok = if t == 0 { rows == 0 } else { rows % t == 0 };
        if !batch_ok || one != 1 || mask_keys != keys || !rows_ok {
            candle_core::bail!(
                "{}: mask {:?}: expected [1 or {batch}, 1, t, {keys}] with t dividing the {rows} \
                 query rows (q {:?}, k {:?})",
                Self::NAME,
                mask.shape(),
                q.shape(),
                k.shape()
            );
        }
        Ok(Dims {
            batch,
            kv_heads,
            rows,
            t,
            keys,
            head_dim,
            mask_batch,
        })
    }

    /// Runs `f` with the mask's values (read in place, under its storage's lock), or `None`.
    fn with_mask<R>(&self, f: impl FnOnce(Option<&[f32]>) -> R) -> candle_core::Result<R> {
        let Some(mask) = &self.mask else {
            return Ok(f(None));
        };
        let (storage, layout) = mask.storage_and_layout();
        match (&*storage, layout.contiguous_offsets()) {
            (Storage::Cpu(CpuStorage::F32(data)), Some((start, end))) => {
                Ok(f(Some(&data[start..end])))
            }
            _ => candle_core::bail!(
                "{}: mask {:?} on {:?}: expected contiguous f32 on the cpu",
                Self::NAME,
                mask.dtype(),
                mask.device().location()
            ),
        }
    }

    /// The gradients `(dq, dk)` in dtype `T`, from the op's inputs, output `p` and the
    /// output's gradient `dp`.
    fn gradients<T: Real>(
        &self,
        q: &Tensor,
        k: &Tensor,
        p: &Tensor,
        dp: &Tensor,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let dims = self.dims(q.layout(), k.layout())?;
        let expected = [dims.batch, dims.kv_heads, dims.rows, dims.keys];
        if p.dims() != expected || dp.dims() != expected {
            candle_core::bail!(
                "{} backward: output {:?} and its gradient {:?}: expected {expected:?}",
                Self::NAME,
                p.shape(),
                dp.shape()
            );
        }
        let guards = [q, k, p, dp].map(Tensor::storage_and_layout);
        let [q_values, k_values, p_values, dp_values] =
            [("q", 0), ("k", 1), ("output", 2), ("output gradient", 3)].map(|(what, i)| {
                let (storage, layout) = &guards[i];
                cpu_values::<T>(storage, layout, what)
            });
        let (dq, dk) = backward(
            q_values?,
            k_values?,
            p_values?,
            dp_values?,
            dims,
            T::from_f64(self.scale),
        );
        drop(guards);
        Ok((
            Tensor::from_vec(dq, q.shape(), q.device())?,
            Tensor::from_vec(dk, k.shape(), k.device())?,
        ))
    }
}

impl CustomOp2 for AttentionProbs {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn cpu_fwd(
        &self,
        q_storage: &CpuStorage,
        q_layout: &Layout,
        k_storage: &CpuStorage,
        k_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dims = self.dims(q_layout, k_layout)?;
        let (Some((q_start, q_end)), Some((k_start, k_end))) =
            (q_layout.contiguous_offsets(), k_layout.contiguous_offsets())
        else {
            candle_core::bail!("{}: expected contiguous q and k", Self::NAME);
        };
        let scale = self.scale;
        let out = match (q_storage, k_storage) {
            (CpuStorage::F32(q), CpuStorage::F32(k)) => {
                CpuStorage::F32(self.with_mask(|mask| {
                    forward(
                        &q[q_start..q_end],
                        &k[k_start..k_end],
                        mask,
                        dims,
                        scale as f32,
                    )
                })?)
            }
            (CpuStorage::F64(q), CpuStorage::F64(k)) => {
                CpuStorage::F64(self.with_mask(|mask| {
                    forward(&q[q_start..q_end], &k[k_start..k_end], mask, dims, scale)
                })?)
            }
            (q, k) => candle_core::bail!(
                "{}: q {:?} and k {:?}: expected both f32 or both f64",
                Self::NAME,
                q.dtype(),
                k.dtype()
            ),
        };
        let shape = Shape::from((dims.batch, dims.kv_heads, dims.rows, dims.keys));
        Ok((out, shape))
    }

    /// `dS = P ⊙ (dP − rowsum(dP ⊙ P))`, `dq = scale · dS · k`, `dk = scale · dSᵀ · q`: one
    /// pass over `P` and `dP` and two `gemm`s per matrix; only `dS` is allocated besides the
    /// gradients, and it is freed on return.
    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        p: &Tensor,
        dp: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let dp = dp.contiguous()?;
        let (dq, dk) = match q.dtype() {
            DType::F32 => self.gradients::<f32>(q, k, p, &dp)?,
            DType::F64 => self.gradients::<f64>(q, k, p, &dp)?,
            other => {
                candle_core::bail!("{} backward: q {other:?}: expected f32 or f64", Self::NAME)
            }
        };
        Ok((Some(dq), Some(dk)))
    }
}

/// A float dtype the op computes in.
trait Real: WithDType {
    /// `e^self`.
    fn exp(self) -> Self;
}

impl Real for f32 {
    fn exp(self) -> Self {
        f32::exp(self)
    }
}

impl Real for f64 {
    fn exp(self) -> Self {
        f64::exp(self)
    }
}

/// The contiguous values of a cpu tensor of dtype `T`, given its locked storage.
fn cpu_values<'a, T: Real>(
    storage: &'a Storage,
    layout: &Layout,
    what: &str,
) -> candle_core::Result<&'a [T]> {
    let (Storage::Cpu(cpu), Some((start, end))) = (storage, layout.contiguous_offsets()) else {
        candle_core::bail!(
            "{} backward: {what}: expected a contiguous tensor on the cpu",
            AttentionProbs::NAME
        );
    };
    Ok(&cpu.as_slice::<T>()?[start..end])
}

/// Mask values at or below this hide their key: `f32::MIN` plus any finite score is far
/// below it, and 0 plus a score far above.
const HIDDEN: f32 = f32::MIN / 2.0;

/// `P` `[b·kvh, rows, t_kv]`: per block of rows, the scaled scores by `gemm` straight into
/// the output, then the mask and the softmax in place.
fn forward<T: Real>(q: &[T], k: &[T], mask: Option<&[f32]>, dims: Dims, scale: T) -> Vec<T> {
    let Dims {
        rows,
        t,
        keys,
        head_dim: d,
        ..
    } = dims;
    let mut p = vec![T::zero(); dims.matrices() * rows * keys];
    if p.is_empty() {
        return p;
    }
    p.par_chunks_mut(rows * keys)
        .enumerate()
        .for_each(|(m, p_m)| {
            let q_m = &q[m * rows * d..(m + 1) * rows * d];
            let k_m = &k[m * keys * d..(m + 1) * keys * d];
            let mask_m = dims.mask_of(mask, m);
            p_m.par_chunks_mut(ROW_BLOCK * keys)
                .enumerate()
                .for_each(|(block, p_block)| {
                    let first = block * ROW_BLOCK;
                    let count = p_block.len() / keys;
                    // SAFETY: `p_block` is `count × keys` row-major and exclusively ours;
                    // the lhs is rows `first..first + count` of `q_m` (`d` wide, row-major);
                    // the rhs is `k_mᵀ` [d, keys], read through `k_m`'s strides.
                    unsafe {
                        gemm::gemm(
                            count,
                            keys,
                            d,
                            p_block.as_mut_ptr(),
                            1,
                            keys as isize,
                            false,
                            q_m[first * d..].as_ptr(),
                            1,
                            d as isize,
                            k_m.as_ptr(),
                            d as isize,
                            1,
                            T::zero(),
                            scale,
                            false,
                            false,
                            false,
                            gemm::Parallelism::None,
                        );
                    }
                    for (i, row) in p_block.chunks_exact_mut(keys).enumerate() {
                        let ti = (first + i) % t;
                        softmax_in_place(row, mask_m.map(|mask| &mask[ti * keys..(ti + 1) * keys]));
                    }
                });
        });
    p
}

/// `row ← softmax(row + mask)`, the maximum subtracted before `exp`.
///
/// When the row sees some key, a masked entry's `exp` underflows to exactly 0, so it is set
/// to 0 without calling `exp` (whose underflow path is slow): half of a causal mask.
fn softmax_in_place<T: Real>(row: &mut [T], mask: Option<&[f32]>) {
    if let Some(mask) = mask {
        for (x, &m) in row.iter_mut().zip(mask) {
            *x += T::from_f64(f64::from(m));
        }
    }
    let max = row.iter().copied().fold(
        T::from_f64(f64::NEG_INFINITY),
        |a, x| if x > a { x } else { a },
    );
    let sees_a_key = mask.is_some_and(|mask| mask.iter().any(|&m| m > HIDDEN));
    let mut sum = T::zero();
    for (i, x) in row.iter_mut().enumerate() {
        *x = match mask {
            Some(mask) if sees_a_key && mask[i] <= HIDDEN => T::zero(),
            _ => (*x - max).exp(),
        };
        sum += *x;
    }
    for x in row.iter_mut() {
        *x /= sum;
    }
}

/// `(dq, dk)` from `q`, `k`, `P` and `dP` (all contiguous, shapes as in [`Dims`]).
fn backward<T: Real>(
    q: &[T],
    k: &[T],
    p: &[T],
    dp: &[T],
    dims: Dims,
    scale: T,
) -> (Vec<T>, Vec<T>) {
    let Dims {
        rows,
        keys,
        head_dim: d,
        ..
    } = dims;
    let matrices = dims.matrices();
    let mut dq = vec![T::zero(); matrices * rows * d];
    let mut dk = vec![T::zero(); matrices * keys * d];
    if rows == 0 || keys == 0 || d == 0 || matrices == 0 {
        return (dq, dk);
    }
    let mut ds = vec![T::zero(); matrices * rows * keys];
    // dS a block of rows at a time, then that block's dq = scale · dS · k.
    ds.par_chunks_mut(rows * keys)
        .zip(dq.par_chunks_mut(rows * d))
        .enumerate()
        .for_each(|(m, (ds_m, dq_m))| {
            let k_m = &k[m * keys * d..(m + 1) * keys * d];
            let p_m = &p[m * rows * keys..(m + 1) * rows * keys];
            let dp_m = &dp[m * rows * keys..(m + 1) * rows * keys];
            ds_m.par_chunks_mut(ROW_BLOCK * keys)
                .zip(dq_m.par_chunks_mut(ROW_BLOCK * d))
                .enumerate()
                .for_each(|(block, (ds_block, dq_block))| {
                    let first = block * ROW_BLOCK;
                    let count = dq_block.len() / d;
                    let span = first * keys..(first + count) * keys;
                    for ((ds_row, p_row), dp_row) in ds_block
                        .chunks_exact_mut(keys)
                        .zip(p_m[span.clone()].chunks_exact(keys))
                        .zip(dp_m[span].chunks_exact(keys))
                    {
                        let mut dot = T::zero();
                        for (&pj, &gj) in p_row.iter().zip(dp_row) {
                            dot += pj * gj;
                        }
                        for ((s, &pj), &gj) in ds_row.iter_mut().zip(p_row).zip(dp_row) {
                            *s = pj * (gj - dot);
                        }
                    }
                    // SAFETY: `dq_block` is `count × d` row-major and exclusively ours;
                    // `ds_block` is `count × keys` and `k_m` is `keys × d`, both row-major.
                    unsafe {
                        gemm::gemm(
                            count,
                            d,
                            keys,
                            dq_block.as_mut_ptr(),
                            1,
                            d as isize,
                            false,
                            ds_block.as_ptr(),
                            1,
                            keys as isize,
                            k_m.as_ptr(),
                            1,
                            d as isize,
                            T::zero(),
                            scale,
                            false,
                            false,
                            false,
                            gemm::Parallelism::None,
                        );
                    }
                });
        });
    // dk = scale · dSᵀ · q, a block of key rows at a time.
    dk.par_chunks_mut(keys * d)
        .enumerate()
        .for_each(|(m, dk_m)| {
            let q_m = &q[m * rows * d..(m + 1) * rows * d];
            let ds_m = &ds[m * rows * keys..(m + 1) * rows * keys];
            dk_m.par_chunks_mut(ROW_BLOCK * d)
                .enumerate()
                .for_each(|(block, dk_block)| {
                    let first = block * ROW_BLOCK;
                    let count = dk_block.len() / d;
                    // SAFETY: `dk_block` is `count × d` row-major and exclusively ours; the
                    // lhs is columns `first..first + count` of `ds_m` [rows, keys] read
                    // transposed ([count, rows]: column stride `keys`, row stride 1); `q_m` is
                    // `rows × d` row-major.
                    unsafe {
                        gemm::gemm(
                            count,
                            d,
                            rows,
                            dk_block.as_mut_ptr(),
                            1,
                            d as isize,
                            false,
                            ds_m[first..].as_ptr(),
                            keys as isize,
                            1,
                            q_m.as_ptr(),
                            1,
                            d as isize,
                            T::zero(),
                            scale,
                            false,
                            false,
                            false,
                            gemm::Parallelism::None,
                        );
                    }
                });
        });
    (dq, dk)
}

#[cfg(test)]
mod tests {
    use candle_core::{D, Device, Var};

    use super::*;
    use crate::fused::testing::assert_close;
    use crate::sample::standard_normal;

    /// `[b, kvh, g·t, d]` queries and `[b, kvh, t_kv, d]` keys of N(0, 1) values, as
    /// variables of `dtype`.
    fn inputs(
        (b, kvh, g, t, t_kv, d): (usize, usize, usize, usize, usize, usize),
        dtype: DType,
        seed: u64,
    ) -> (Var, Var) {
        let make = |shape: &[usize], seed: u64| {
            let values = standard_normal(shape.iter().product(), seed);
            let tensor = Tensor::from_vec(values, shape, &Device::Cpu)
                .and_then(|x| x.to_dtype(dtype))
                .expect("test tensor");
            Var::from_tensor(&tensor).expect("variable")
        };
        (
            make(&[b, kvh, g * t, d], seed),
            make(&[b, kvh, t_kv, d], seed + 1),
        )
    }

    /// Additive mask `[mb, 1, t, t_kv]`: query `i` sees key `j ≤ past + i` (`past = t_kv − t`)
    /// unless key `j` is padding of batch row `bi` (`j < pad[bi]`, left padding).
    /// With `pad[bi] > past`, query 0 of that row sees no key at all.
    fn causal_padding_mask(pad: &[usize], t: usize, t_kv: usize) -> Tensor {
        let past = t_kv - t;
        let values: Vec<f32> = pad
            .iter()
            .flat_map(|&pad| {
                (0..t).flat_map(move |i| {
                    (0..t_kv).map(move |j| {
                        if j <= past + i && j >= pad {
                            0.0
                        } else {
                            f32::MIN
                        }
                    })
                })
            })
            .collect();
        Tensor::from_vec(values, (pad.len(), 1, t, t_kv), &Device::Cpu).expect("mask")
    }

    /// The composite this op replaces, from plain candle ops: grouped scores by a batched
    /// matmul, then in f32 `softmax::masked_softmax`, and in f64 the same ops inline
    /// (with the mask widened, as the op does, rather than the scores narrowed to f32).
    fn reference(q: &Tensor, k: &Tensor, mask: Option<&Tensor>, scale: f64, g: usize) -> Tensor {
        let run = || -> candle_core::Result<Tensor> {
            let (b, kvh, rows, _) = q.dims4()?;
            let t_kv = k.dims()[2];
            let scores = q.matmul(&k.t()?)?.reshape((b, kvh * g, rows / g, t_kv))?;
            let probs = if q.dtype() == DType::F32 {
                crate::softmax::masked_softmax(&scores, mask, scale)?
            } else {
                let scores = scores.affine(scale, 0.0)?;
                let scores = match mask {
                    Some(mask) => scores.broadcast_add(&mask.to_dtype(DType::F64)?)?,
                    None => scores,
                };
                candle_nn::ops::softmax(&scores, D::Minus1)?
            };
            probs.reshape((b, kvh, rows, t_kv))
        };
        run().expect("reference attention probabilities")
    }

    /// `(P, dq, dk)` of `sum(P ⊙ w)` for fixed random weights `w`, through candle's autograd.
    fn probs_and_grads(
        q: &Var,
        k: &Var,
        probs: impl Fn(&Tensor, &Tensor) -> Tensor,
    ) -> (Tensor, Tensor, Tensor) {
        let p = probs(q.as_tensor(), k.as_tensor());
        let weights =
            Tensor::from_vec(standard_normal(p.elem_count(), 99), p.shape(), &Device::Cpu)
                .and_then(|w| w.to_dtype(p.dtype()))
                .expect("weights");
        let grads = p
            .mul(&weights)
            .and_then(|x| x.sum_all())
            .and_then(|loss| loss.backward())
            .expect("backward");
        let grad = |v: &Var| grads.get(v.as_tensor()).expect("gradient").clone();
        (p.clone(), grad(q), grad(k))
    }

    /// The op against the composite, forward and both gradients.
    fn check(
        sizes: (usize, usize, usize, usize, usize, usize),
        mask: Option<&Tensor>,
        dtype: DType,
        tolerance: f64,
        what: &str,
    ) {
        let (_, _, g, _, _, d) = sizes;
        let scale = 1.0 / (d as f64).sqrt();
        let (q, k) = inputs(sizes, dtype, 7);
        let (p, dq, dk) = probs_and_grads(&q, &k, |q, k| {
            attention_probs(q, k, mask, scale).expect("fused attention probabilities")
        });
        let (p_ref, dq_ref, dk_ref) =
            probs_and_grads(&q, &k, |q, k| reference(q, k, mask, scale, g));
        assert_eq!(p.dtype(), dtype, "{what}: dtype");
        assert_close(&p, &p_ref, tolerance, &format!("{what}: P"));
        assert_close(&dq, &dq_ref, tolerance, &format!("{what}: dq"));
        assert_close(&dk, &dk_ref, tolerance, &format!("{what}: dk"));
    }

    // Sizes `(b, kvh, g, t, t_kv, d)`: odd, with g·t = 39 rows (two row blocks) and 4 matrices.
    const SELF: (usize, usize, usize, usize, usize, usize) = (2, 2, 3, 13, 13, 11);
    const CACHED: (usize, usize, usize, usize, usize, usize) = (2, 2, 3, 13, 37, 11);

    #[test]
    fn matches_the_composite_with_a_per_batch_causal_padding_mask() {
        // Row 1 has 3 padding keys: its queries 0..3 see nothing and must come out uniform.
        let mask = causal_padding_mask(&[0, 3], 13, 13);
        for (dtype, tolerance) in [(DType::F64, 1e-10), (DType::F32, 1e-5)] {
            check(
                SELF,
                Some(&mask),
                dtype,
                tolerance,
                &format!("{dtype:?}, mask [b]"),
            );
        }
        let (q, k) = inputs(SELF, DType::F64, 3);
        let p = attention_probs(q.as_tensor(), k.as_tensor(), Some(&mask), 0.3).expect("probs");
        for gi in 0..3 {
            let row: Vec<f64> = p
                .get(1)
                .and_then(|x| x.get(1))
                .and_then(|x| x.get(gi * 13))
                .and_then(|x| x.to_vec1())
                .expect("row");
            assert!(
                row.iter().all(|&x| (x - 1.0 / 13.0).abs() < 1e-15),
                "{row:?}"
            );
        }
    }

    #[test]
    fn matches_the_composite_with_a_shared_mask_over_cached_keys() {
        // t_kv > t as in decoding with a KV cache; 25 padding keys leave query 0 (which sees
        // keys 0..=24) with none, so the shared mask has a fully masked row too.
        let mask = causal_padding_mask(&[25], 13, 37);
        for (dtype, tolerance) in [(DType::F64, 1e-10), (DType::F32, 1e-5)] {
            check(
                CACHED,
                Some(&mask),
                dtype,
                tolerance,
                &format!("{dtype:?}, mask [1]"),
            );
        }
    }

    #[test]
    fn matches_the_composite_without_a_mask() {
        for (dtype, tolerance) in [(DType::F64, 1e-10), (DType::F32, 1e-5)] {
            check(
                CACHED,
                None,
                dtype,
                tolerance,
                &format!("{dtype:?}, no mask"),
            );
        }
    }

    #[test]
    fn refuses_other_dtypes_and_mismatched_shapes() {
        let (q, k) = inputs(SELF, DType::F32, 1);
        let (q, k) = (q.as_tensor(), k.as_tensor());
        let mask = causal_padding_mask(&[0, 3], 13, 13);
        let error = |q: &Tensor, k: &Tensor, mask: Option<&Tensor>| {
            attention_probs(q, k, mask, 1.0)
                .expect_err("must be refused")
                .to_string()
        };
        let bf16 = |x: &Tensor| x.to_dtype(DType::BF16).expect("bf16");
        let message = error(&bf16(q), &bf16(k), None);
        assert!(
            message.contains("attention-probs") && message.contains("BF16"),
            "{message}"
        );
        let message = error(q, &k.to_dtype(DType::F64).expect("f64"), None);
        assert!(
            message.contains("F32") && message.contains("F64"),
            "{message}"
        );
        let message = error(q, &k.narrow(3, 0, 10).expect("narrow"), None);
        assert!(message.contains("[2, 2, 13, 10]"), "{message}");
        let message = error(
            q,
            k,
            Some(&Tensor::zeros((2, 1, 13, 12), DType::F32, &Device::Cpu).expect("mask")),
        );
        assert!(message.contains("mask [2, 1, 13, 12]"), "{message}");
        let message = error(q, k, Some(&causal_padding_mask(&[0, 0, 0], 13, 13)));
        assert!(message.contains("mask [3, 1, 13, 13]"), "{message}");
        // 39 rows are not a whole number of groups of 10 query positions.
        let message = error(
            q,
            &k.narrow(2, 0, 10).expect("narrow"),
            Some(&causal_padding_mask(&[0], 10, 10)),
        );
        assert!(message.contains("39 query rows"), "{message}");
        let message = error(q, k, Some(&mask.to_dtype(DType::F64).expect("f64")));
        assert!(message.contains("mask F64"), "{message}");
    }
}
