//! Rotary position embedding fused with the split into heads, as one CPU op with its own
//! backward pass.
//!
//! A projection's output `x` `[b, t, heads·d]` becomes `[b, heads, t, d]` with each head
//! rotated in the Hugging Face layout (the engine's `rope` module):
//! `out[b, h, t, :] = x_h · cos + rotate_half(x_h) · sin`, `rotate_half([x1, x2]) = [−x2, x1]`.
//! A CPU forward pass that records gradients (training) uses it for q and k
//! (`ops::rotary_heads`); elsewhere the split is a reshape and a transposing copy and the
//! rotation `ops::rotate`, a composite of `narrow`, `neg`, `cat`, two `broadcast_mul` and an `add`: five or six tensors
//! the size of `x` alive in the autograd graph for each of q and k, and as many backward
//! passes. This op reads `x` once,
//! writes the contiguous result once and keeps nothing but its input; `cos` and `sin` are
//! frozen constants of the op. The map is linear, so its backward pass is its transpose,
//! `dx_h = dy · cos + rotate_halfᵀ(dy · sin)` with `rotate_halfᵀ([z1, z2]) = [z2, −z1]`, one
//! more pass that also merges the heads back into `[b, t, heads·d]`.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Storage, Tensor};
use candle_core::{WithDType, bail};
use rayon::prelude::*;

/// Split `x` `[b, t, heads·d]` into `heads` heads and rotate each by `cos` and `sin`
/// `[b, t, d]` (from `RotaryEmbedding::cos_sin`: the half width repeated), giving a
/// contiguous `[b, heads, t, d]`. On the CPU in f32 or f64; `cos` and `sin` are converted to
/// `x`'s dtype. The result carries a gradient to `x` only.
pub(crate) fn rope_heads(
    x: &Tensor,
    heads: usize,
    cos: &Tensor,
    sin: &Tensor,
) -> candle_core::Result<Tensor> {
    let constant = |t: &Tensor| -> candle_core::Result<Tensor> {
        let t = t.detach();
        let t = if t.dtype() == x.dtype() {
            t
        } else {
            t.to_dtype(x.dtype())?
        };
        t.contiguous()
    };
    let op = RopeHeads {
        heads,
        cos: constant(cos)?,
        sin: constant(sin)?,
        direction: Direction::Split,
    };
    x.contiguous()?.apply_op1(op)
}

/// Which of the two mutually transposed linear maps an op applies.
#[derive(Clone, Copy)]
enum Direction {
    /// `[b, t, heads·d]` → rotated `[b, heads, t, d]`: the forward pass.
    Split,
    /// `[b, heads, t, d]` → `[b, t, heads·d]` by the transposed rotation: its gradient.
    Merge,
}

/// The op in either direction; each one's backward pass is the other.
#[derive(Clone)]
struct RopeHeads {
    heads: usize,
    /// `[b, t, d]`, in the input's dtype.
    cos: Tensor,
    sin: Tensor,
    direction: Direction,
}

/// The sizes of one application.
#[derive(Clone, Copy)]
struct Dims {
    b: usize,
    t: usize,
    heads: usize,
    d: usize,
}

impl RopeHeads {
    /// The sizes, with the input's shape checked against `heads`, `cos` and `sin`.
    fn dims(&self, shape: &Shape) -> candle_core::Result<Dims> {
        let op = self.name();
        let heads = self.heads;
        let dims = match (self.direction, shape.dims()) {
            (Direction::Split, &[b, t, width]) if heads > 0 && width % heads == 0 => Dims {
                b,
                t,
                heads,
                d: width / heads,
            },
            (Direction::Split, dims) => bail!(
                "{op}: input shape: expected [b, t, {heads}·d] for {heads} heads, found {dims:?}"
            ),
            (Direction::Merge, &[b, h, t, d]) if h == heads => Dims { b, t, heads, d },
            (Direction::Merge, dims) => {
                bail!("{op}: gradient shape: expected [b, {heads}, t, d], found {dims:?}")
            }
        };
        if dims.d % 2 != 0 {
            bail!(
                "{op}: head dimension: expected an even number, found {}",
                dims.d
            );
        }
        for (what, table) in [("cos", &self.cos), ("sin", &self.sin)] {
            if table.dims() != [dims.b, dims.t, dims.d] {
                bail!(
                    "{op}: {what} shape: expected [{}, {}, {}] for input {:?}, found {:?}",
                    dims.b,
                    dims.t,
                    dims.d,
                    shape.dims(),
                    table.dims()
                );
            }
        }
        Ok(dims)
    }

    fn run<T: WithDType>(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dims = self.dims(layout.shape())?;
        let Dims { b, t, heads, d } = dims;
        let Some((start, end)) = layout.contiguous_offsets() else {
            bail!("{}: input: expected a contiguous tensor", self.name());
        };
        let x = &T::cpu_storage_as_slice(storage)?[start..end];
        let mut out = vec![T::zero(); x.len()];
        if !out.is_empty() {
            with_values(self.name(), &self.cos, |cos: &[T]| {
                with_values(self.name(), &self.sin, |sin: &[T]| match self.direction {
                    Direction::Split => split(dims, x, cos, sin, &mut out),
                    Direction::Merge => merge(dims, x, cos, sin, &mut out),
                })
            })??;
        }
        let shape = match self.direction {
            Direction::Split => Shape::from((b, heads, t, d)),
            Direction::Merge => Shape::from((b, t, heads * d)),
        };
        Ok((T::to_cpu_storage_owned(out), shape))
    }
}

impl CustomOp1 for RopeHeads {
    fn name(&self) -> &'static str {
        match self.direction {
            Direction::Split => "rope-heads",
            Direction::Merge => "rope-heads-backward",
        }
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        match storage.dtype() {
            DType::F32 => self.run::<f32>(storage, layout),
            DType::F64 => self.run::<f64>(storage, layout),
            other => bail!(
                "{}: input dtype: expected f32 or f64, found {other:?}",
                self.name()
            ),
        }
    }

    /// The transposed map applied to `dy`: the op in the other direction.
    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let op = Self {
            direction: match self.direction {
                Direction::Split => Direction::Merge,
                Direction::Merge => Direction::Split,
            },
            ..self.clone()
        };
        grad_res.contiguous()?.apply_op1(op).map(Some)
    }
}

/// `x` `[b, t, heads·d]` → `out` `[b, heads, t, d]`, rotated: a rayon task per `(b, h)`.
fn split<T: WithDType>(dims: Dims, x: &[T], cos: &[T], sin: &[T], out: &mut [T]) {
    let Dims { t, heads, d, .. } = dims;
    let half = d / 2;
    out.par_chunks_mut(t * d).enumerate().for_each(|(bh, out)| {
        let (bi, h) = (bh / heads, bh % heads);
        for (ti, out) in out.chunks_exact_mut(d).enumerate() {
            let row = bi * t + ti;
            let x = &x[(row * heads + h) * d..][..d];
            let (c1, c2) = cos[row * d..][..d].split_at(half);
            let (s1, s2) = sin[row * d..][..d].split_at(half);
            let (x1, x2) = x.split_at(half);
            let (o1, o2) = out.split_at_mut(half);
            for ((((o, &a), &b), &c), &s) in o1.iter_mut().zip(x1).zip(x2).zip(c1).zip(s1) {
                *o = a * c - b * s;
            }
            for ((((o, &a), &b), &c), &s) in o2.iter_mut().zip(x1).zip(x2).zip(c2).zip(s2) {
                *o = b * c + a * s;
            }
        }
    });
}

/// `dy` `[b, heads, t, d]` → `dx` `[b, t, heads·d]` by the transposed rotation: a rayon task
/// per `(b, t)`.
fn merge<T: WithDType>(dims: Dims, dy: &[T], cos: &[T], sin: &[T], dx: &mut [T]) {
    let Dims { t, heads, d, .. } = dims;
    let half = d / 2;
    dx.par_chunks_mut(heads * d)
        .enumerate()
        .for_each(|(row, dx)| {
            let (bi, ti) = (row / t, row % t);
            let (c1, c2) = cos[row * d..][..d].split_at(half);
            let (s1, s2) = sin[row * d..][..d].split_at(half);
            for (h, dx) in dx.chunks_exact_mut(d).enumerate() {
                let dy = &dy[((bi * heads + h) * t + ti) * d..][..d];
                let (g1, g2) = dy.split_at(half);
                let (o1, o2) = dx.split_at_mut(half);
                for ((((o, &a), &b), &c), &s) in o1.iter_mut().zip(g1).zip(g2).zip(c1).zip(s2) {
                    *o = a * c + b * s;
                }
                for ((((o, &a), &b), &c), &s) in o2.iter_mut().zip(g1).zip(g2).zip(c2).zip(s1) {
                    *o = b * c - a * s;
                }
            }
        });
}

/// Runs `f` on the values of the captured constant `tensor`, under its storage's read lock.
fn with_values<T: WithDType, R>(
    op: &str,
    tensor: &Tensor,
    f: impl FnOnce(&[T]) -> R,
) -> candle_core::Result<R> {
    let (storage, layout) = tensor.storage_and_layout();
    let Storage::Cpu(storage) = &*storage else {
        bail!("{op}: cos and sin: expected tensors on the cpu");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        bail!("{op}: cos and sin: expected contiguous tensors");
    };
    Ok(f(&T::cpu_storage_as_slice(storage)?[start..end]))
}

#[cfg(test)]
mod tests {
    use candle_core::D;

    use super::*;
    use crate::fused::testing::{assert_close, tensor, value_and_grads};
    use crate::sample::standard_normal;

    /// `ops::rotary_heads`'s split followed by `ops::rotate`'s composite.
    fn reference(
        x: &Tensor,
        heads: usize,
        cos: &Tensor,
        sin: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let (b, t, width) = x.dims3()?;
        let x = x
            .reshape((b, t, heads, width / heads))?
            .transpose(1, 2)?
            .contiguous()?;
        let cos = cos.to_dtype(x.dtype())?.unsqueeze(1)?;
        let sin = sin.to_dtype(x.dtype())?.unsqueeze(1)?;
        let half = x.dim(D::Minus1)? / 2;
        let x1 = x.narrow(D::Minus1, 0, half)?;
        let x2 = x.narrow(D::Minus1, half, half)?;
        let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
        x.broadcast_mul(&cos)? + rotated.broadcast_mul(&sin)?
    }

    /// `cos` and `sin` `[b, t, d]` f32: arbitrary values rather than real angles, so that
    /// both halves of the formula are checked on their own.
    fn tables(b: usize, t: usize, d: usize) -> (Tensor, Tensor) {
        let n = b * t * d;
        (
            tensor(standard_normal(n, 10), &[b, t, d], DType::F32),
            tensor(standard_normal(n, 11), &[b, t, d], DType::F32),
        )
    }

    fn check(b: usize, t: usize, heads: usize, d: usize, dtype: DType, tolerance: f64) {
        let x = tensor(
            standard_normal(b * t * heads * d, 1),
            &[b, t, heads * d],
            dtype,
        );
        let c = tensor(
            standard_normal(b * heads * t * d, 2),
            &[b, heads, t, d],
            dtype,
        );
        let (cos, sin) = tables(b, t, d);
        let (y, [dx]) = value_and_grads([&x], &c, |[x]| rope_heads(x, heads, &cos, &sin));
        let (want_y, [want_dx]) =
            value_and_grads([&x], &c, |[x]| reference(x, heads, &cos, &sin));
        let what = format!("b {b} t {t} heads {heads} d {d} {dtype:?}");
        assert_eq!(y.dtype(), dtype);
        assert!(y.is_contiguous(), "{what}: output layout");
        assert_close(&y, &want_y, tolerance, &format!("{what} forward"));
        assert_close(&dx, &want_dx, tolerance, &format!("{what} gradient"));
    }

    #[test]
    fn matches_the_composite_in_f64() {
        check(3, 7, 5, 6, DType::F64, 1e-10);
        check(2, 1, 3, 34, DType::F64, 1e-10);
        check(1, 5, 1, 2, DType::F64, 1e-10);
    }

    #[test]
    fn matches_the_composite_in_f32() {
        check(3, 7, 5, 6, DType::F32, 1e-5);
        check(2, 11, 9, 22, DType::F32, 1e-5);
    }

    #[test]
    fn the_backward_op_is_differentiable_too() {
        // Its gradient is the forward op again: merge is linear with split as its transpose.
        let (b, t, heads, d) = (2, 3, 3, 4);
        let (cos, sin) = tables(b, t, d);
        let merge = RopeHeads {
            heads,
            cos: cos.to_dtype(DType::F64).expect("cos"),
            sin: sin.to_dtype(DType::F64).expect("sin"),
            direction: Direction::Merge,
        };
        let dy = tensor(
            standard_normal(b * heads * t * d, 3),
            &[b, heads, t, d],
            DType::F64,
        );
        let c = tensor(
            standard_normal(b * t * heads * d, 4),
            &[b, t, heads * d],
            DType::F64,
        );
        let (dx, [ddy]) = value_and_grads([&dy], &c, |[dy]| dy.apply_op1(merge.clone()));
        assert_eq!(dx.dims(), [b, t, heads * d]);
        let want = rope_heads(&c, heads, &cos, &sin).expect("split");
        assert_close(&ddy, &want, 1e-12, "second-order gradient");
    }

    #[test]
    fn takes_a_non_contiguous_input() {
        let (b, t, heads, d) = (2, 3, 2, 4);
        let x = tensor(
            standard_normal(b * t * heads * d, 5),
            &[t, b, heads * d],
            DType::F64,
        )
        .transpose(0, 1)
        .expect("transpose");
        let (cos, sin) = tables(b, t, d);
        let got = rope_heads(&x, heads, &cos, &sin).expect("rope");
        let want = reference(&x, heads, &cos, &sin).expect("reference");
        assert_close(&got, &want, 1e-12, "transposed input");
    }

    #[test]
    fn rejects_other_dtypes_and_shapes() {
        let (cos, sin) = tables(2, 3, 4);
        let message = |x: &Tensor, heads: usize| {
            rope_heads(x, heads, &cos, &sin)
                .expect_err("invalid")
                .to_string()
        };
        let x = tensor(vec![0.0; 2 * 3 * 8], &[2, 3, 8], DType::F32);
        let err = message(&x.to_dtype(DType::BF16).expect("bf16"), 2);
        assert!(
            err.contains("rope-heads: input dtype: expected f32 or f64, found BF16"),
            "{err}"
        );
        let err = message(&x, 3);
        assert!(
            err.contains(
                "rope-heads: input shape: expected [b, t, 3·d] for 3 heads, found [2, 3, 8]"
            ),
            "{err}"
        );
        let err = message(&x, 0);
        assert!(err.contains("for 0 heads"), "{err}");
        let err = message(&x, 1);
        assert!(
            err.contains(
                "rope-heads: cos shape: expected [2, 3, 8] for input [2, 3, 8], found [2, 3, 4]"
            ),
            "{err}"
        );
        let odd = tensor(vec![0.0; 2 * 3 * 6], &[2, 3, 6], DType::F32);
        let err = message(&odd, 2);
        assert!(
            err.contains("rope-heads: head dimension: expected an even number, found 3"),
            "{err}"
        );
    }
}
