//! RMSNorm as one CPU op with its own backward pass.
//!
//! `y = x · r · w` with `r = 1 / sqrt(mean(x²) + eps)` over each row of the last dimension
//! (Zhang & Sennrich 2019; transformers' `LlamaRMSNorm`). The differentiable composite in
//! model.rs (`sqr`, `mean`, `+ eps`, `sqrt`, `div`, `mul`) leaves about four tensors the
//! size of `x` in the autograd graph for every norm and runs a backward pass for each. This
//! op keeps nothing but its input: the backward pass recomputes `r` from `x` (one sum of
//! squares per row) and writes the input gradient in one pass,
//! `dx = r·(w⊙dy) − (r³/h)·x·Σ(w⊙dy⊙x)`. The weight is a frozen constant of the op and gets
//! no gradient. Row statistics are accumulated in f64, whatever the input's dtype.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Shape, Storage, Tensor};
use candle_core::{WithDType, bail};
use rayon::prelude::*;

/// RMSNorm of the last dimension of `x` `[.., h]` with the frozen `weight` `[h]`, on the CPU
/// in f32 or f64. The weight is converted to `x`'s dtype (an f32 weight is widened for an f64
/// `x`); the result carries a gradient to `x` only.
pub(crate) fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    let weight = if weight.dtype() == x.dtype() {
        weight.detach()
    } else {
        weight.detach().to_dtype(x.dtype())?
    };
    let op = RmsNorm {
        weight: weight.contiguous()?,
        eps,
    };
    x.contiguous()?.apply_op1(op)
}

/// The forward op: `x` → `y`.
struct RmsNorm {
    /// `[h]`, in the input's dtype.
    weight: Tensor,
    eps: f64,
}

/// The backward op: `(x, dy)` → `dx`.
struct RmsNormBackward {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    fn forward<T: WithDType>(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<CpuStorage> {
        let h = row_width(self.name(), layout.shape(), &self.weight)?;
        let x = values::<T>(self.name(), "input", storage, layout)?;
        let mut y = vec![T::zero(); x.len()];
        if h > 0 {
            with_values(self.name(), &self.weight, |w: &[T]| {
                y.par_chunks_mut(h).zip(x.par_chunks(h)).for_each(|(y, x)| {
                    let r = T::from_f64(inverse_rms(x, self.eps));
                    for ((y, &x), &w) in y.iter_mut().zip(x).zip(w) {
                        *y = x * r * w;
                    }
                });
            })?;
        }
        Ok(T::to_cpu_storage_owned(y))
    }
}

impl CustomOp1 for RmsNorm {
    fn name(&self) -> &'static str {
        "rms-norm"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let y = match storage.dtype() {
            DType::F32 => self.forward::<f32>(storage, layout)?,
            DType::F64 => self.forward::<f64>(storage, layout)?,
            other => bail!(
                "{}: input dtype: expected f32 or f64, found {other:?}",
                self.name()
            ),
        };
        Ok((y, layout.shape().clone()))
    }

    /// `dx` from `x` and `dy` by [`RmsNormBackward`]; the output is not needed.
    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let op = RmsNormBackward {
            weight: self.weight.clone(),
            eps: self.eps,
        };
        let dx = arg
            .contiguous()?
            .apply_op2_no_bwd(&grad_res.contiguous()?, &op)?;
        Ok(Some(dx))
    }
}

impl RmsNormBackward {
    fn backward<T: WithDType>(
        &self,
        x: (&CpuStorage, &Layout),
        dy: (&CpuStorage, &Layout),
    ) -> candle_core::Result<CpuStorage> {
        let h = row_width(self.name(), x.1.shape(), &self.weight)?;
        if dy.1.shape() != x.1.shape() {
            bail!(
                "{}: gradient shape: expected {:?}, found {:?}",
                self.name(),
                x.1.shape().dims(),
                dy.1.shape().dims()
            );
        }
        let x = values::<T>(self.name(), "input", x.0, x.1)?;
        let dy = values::<T>(self.name(), "gradient", dy.0, dy.1)?;
        let mut dx = vec![T::zero(); x.len()];
        if h > 0 {
            with_values(self.name(), &self.weight, |w: &[T]| {
                dx.par_chunks_mut(h)
                    .zip(x.par_chunks(h))
                    .zip(dy.par_chunks(h))
                    .for_each(|((dx, x), dy)| {
                        let r = inverse_rms(x, self.eps);
                        let s = weighted_dot(w, dy, x);
                        let a = T::from_f64(r);
                        let b = T::from_f64(r * r * r * s / h as f64);
                        for (((dx, &x), &dy), &w) in dx.iter_mut().zip(x).zip(dy).zip(w) {
                            *dx = a * w * dy - b * x;
                        }
                    });
            })?;
        }
        Ok(T::to_cpu_storage_owned(dx))
    }
}

impl CustomOp2 for RmsNormBackward {
    fn name(&self) -> &'static str {
        "rms-norm-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        if s1.dtype() != s2.dtype() {
            bail!(
                "{}: gradient dtype: expected {:?}, found {:?}",
                self.name(),
                s1.dtype(),
                s2.dtype()
            );
        }
        let dx = match s1.dtype() {
            DType::F32 => self.backward::<f32>((s1, l1), (s2, l2))?,
            DType::F64 => self.backward::<f64>((s1, l1), (s2, l2))?,
            other => bail!(
                "{}: input dtype: expected f32 or f64, found {other:?}",
                self.name()
            ),
        };
        Ok((dx, l1.shape().clone()))
    }
}

/// Partial sums kept apart in the row reductions, so that their loops vectorize.
const LANES: usize = 8;

/// `1 / sqrt(mean(x²) + eps)`, accumulated in f64.
fn inverse_rms<T: WithDType>(x: &[T], eps: f64) -> f64 {
    let mut acc = [0f64; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail: f64 = chunks.remainder().iter().map(|v| v.to_f64().powi(2)).sum();
    for chunk in chunks {
        for (a, v) in acc.iter_mut().zip(chunk) {
            let v = v.to_f64();
            *a += v * v;
        }
    }
    let mean = (acc.iter().sum::<f64>() + tail) / x.len() as f64;
    1.0 / (mean + eps).sqrt()
}

/// `Σ w⊙dy⊙x`, accumulated in f64.
fn weighted_dot<T: WithDType>(w: &[T], dy: &[T], x: &[T]) -> f64 {
    let product = |((w, dy), x): ((&T, &T), &T)| (*w * *dy).to_f64() * x.to_f64();
    let mut acc = [0f64; LANES];
    let (w_chunks, dy_chunks, x_chunks) = (
        w.chunks_exact(LANES),
        dy.chunks_exact(LANES),
        x.chunks_exact(LANES),
    );
    let tail: f64 = w_chunks
        .remainder()
        .iter()
        .zip(dy_chunks.remainder())
        .zip(x_chunks.remainder())
        .map(product)
        .sum();
    for ((w, dy), x) in w_chunks.zip(dy_chunks).zip(x_chunks) {
        for (a, v) in acc.iter_mut().zip(w.iter().zip(dy).zip(x).map(product)) {
            *a += v;
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// `h`, the last dimension of `shape`, checked against the weight `[h]`.
fn row_width(op: &str, shape: &Shape, weight: &Tensor) -> candle_core::Result<usize> {
    match shape.dims().last() {
        Some(&h) if weight.dims() == [h] => Ok(h),
        _ => bail!(
            "{op}: input shape: expected [.., {}] for weight {:?}, found {:?}",
            weight.dims().first().copied().unwrap_or(0),
            weight.dims(),
            shape.dims()
        ),
    }
}

/// The values of a contiguous tensor's `storage` under `layout`.
fn values<'a, T: WithDType>(
    op: &str,
    what: &str,
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<&'a [T]> {
    let Some((start, end)) = layout.contiguous_offsets() else {
        bail!("{op}: {what}: expected a contiguous tensor");
    };
    Ok(&T::cpu_storage_as_slice(storage)?[start..end])
}

/// Runs `f` on the values of the captured constant `tensor`, under its storage's read lock.
fn with_values<T: WithDType, R>(
    op: &str,
    tensor: &Tensor,
    f: impl FnOnce(&[T]) -> R,
) -> candle_core::Result<R> {
    let (storage, layout) = tensor.storage_and_layout();
    let Storage::Cpu(storage) = &*storage else {
        bail!("{op}: weight: expected a tensor on the cpu");
    };
    Ok(f(values(op, "weight", storage, layout)?))
}

#[cfg(test)]
mod tests {
    use candle_core::{D, Device, Var};

    use super::*;
    use crate::fused::testing::{assert_close, flat, tensor, value_and_grads};
    use crate::sample::standard_normal;

    /// model.rs's differentiable composite, in the input's dtype.
    fn reference(x: &Tensor, weight: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
        let variance = x.sqr()?.mean_keepdim(D::Minus1)?;
        x.broadcast_div(&(variance + eps)?.sqrt()?)?
            .broadcast_mul(weight)
    }

    fn check(dims: &[usize], dtype: DType, tolerance: f64) {
        let h = *dims.last().expect("rows");
        let n = dims.iter().product();
        let eps = 1e-5;
        let x = tensor(standard_normal(n, 1), dims, dtype);
        let c = tensor(standard_normal(n, 2), dims, dtype);
        let weight = tensor(standard_normal(h, 3), &[h], DType::F32);
        let wide = weight.to_dtype(dtype).expect("weight");
        let (y, [dx]) = value_and_grads([&x], &c, |[x]| rms_norm(x, &weight, eps));
        let (want_y, [want_dx]) = value_and_grads([&x], &c, |[x]| reference(x, &wide, eps));
        let what = format!("{dims:?} {dtype:?}");
        assert_eq!(y.dtype(), dtype);
        assert_close(&y, &want_y, tolerance, &format!("{what} forward"));
        assert_close(&dx, &want_dx, tolerance, &format!("{what} gradient"));
    }

    #[test]
    fn matches_the_composite_in_f64() {
        check(&[3, 7, 37], DType::F64, 1e-10);
        check(&[5, 131], DType::F64, 1e-10);
        check(&[19], DType::F64, 1e-10);
    }

    #[test]
    fn matches_the_composite_in_f32() {
        check(&[3, 7, 37], DType::F32, 1e-5);
        check(&[2, 9, 203], DType::F32, 1e-5);
    }

    #[test]
    fn small_rows_are_dominated_by_eps() {
        // With mean(x²) ≪ eps = 1 the norm is x · w, to within mean(x²) / 2 relative.
        let x = Tensor::new(&[[1e-6f64, -2e-6, 3e-6]], &Device::Cpu).expect("x");
        let w = tensor(vec![1.0, 2.0, 3.0], &[3], DType::F32);
        let y = flat(&rms_norm(&x, &w, 1.0).expect("norm"));
        let want = [1e-6, -4e-6, 9e-6];
        for (g, w) in y.iter().zip(want) {
            assert!((g - w).abs() < 1e-11 * w.abs(), "{y:?}");
        }
    }

    #[test]
    fn non_contiguous_input_and_gradient() {
        // A transposed input, and the broadcast gradient `sum_all` hands back.
        let x = tensor(standard_normal(6 * 11, 4), &[11, 6], DType::F64)
            .t()
            .expect("transpose");
        let w = tensor(standard_normal(11, 5), &[11], DType::F32);
        let wide = w.to_dtype(DType::F64).expect("weight");
        let var = Var::from_tensor(&x).expect("var");
        let grads = rms_norm(var.as_tensor(), &w, 1e-6)
            .and_then(|y| y.sum_all()?.backward())
            .expect("backward");
        let want = reference(var.as_tensor(), &wide, 1e-6)
            .and_then(|y| y.sum_all()?.backward())
            .expect("reference backward");
        assert_close(
            grads.get(var.as_tensor()).expect("gradient"),
            want.get(var.as_tensor()).expect("reference gradient"),
            1e-10,
            "transposed",
        );
    }

    #[test]
    fn rejects_other_dtypes_and_shapes() {
        let w = tensor(vec![1.0; 4], &[4], DType::F32);
        let x = tensor(vec![1.0; 8], &[2, 4], DType::BF16);
        let err = rms_norm(&x, &w, 1e-5).expect_err("bf16");
        assert!(
            err.to_string()
                .contains("rms-norm: input dtype: expected f32 or f64, found BF16"),
            "{err}"
        );
        let x = tensor(vec![1.0; 10], &[2, 5], DType::F32);
        let err = rms_norm(&x, &w, 1e-5).expect_err("width");
        assert!(
            err.to_string()
                .contains("rms-norm: input shape: expected [.., 4] for weight [4], found [2, 5]"),
            "{err}"
        );
        let x = Tensor::new(1f32, &Device::Cpu).expect("scalar");
        let err = rms_norm(&x, &w, 1e-5).expect_err("scalar");
        assert!(err.to_string().contains("found []"), "{err}");
    }
}
