//! A LoRA-adapted frozen projection in training, as one autograd node:
//! `y = x · Wᵀ + scale · (dropout(x) · Aᵀ) · Bᵀ` (without the base layer's bias).
//!
//! Built from plain candle ops (as `LoraLinear::forward` does in evaluation), the graph
//! would keep, per projection, the dropout mask, the dropped input, the rank-r hidden state
//! before and after scaling, the adapter's output and the frozen output: six tensors, four
//! of them as large as the input or the output. This op keeps only its arguments (`x`, `A`,
//! `B`, which live anyway) and redraws the dropout mask from its key in the backward pass;
//! the rank-r product it recomputes costs `2 · rows · in · r` flops, little beside the frozen
//! product.
//!
//! Backward, with `d = dropout(x)`, `h = scale · d · Aᵀ` and `g = ∂L/∂y`:
//! `∂L/∂B = gᵀ · h`, `∂L/∂A = scale · (g · B)ᵀ · d`,
//! `∂L/∂x = g · W + mask ⊙ (scale · (g · B) · A)`.
//!

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp3, DType, Device, Layout, Shape, Tensor, WithDType};

use super::gemm::{Mat, product};
use super::{host_slice, host_values};
use crate::dropout::DropoutMask;
use crate::frozen::FrozenLinear;

/// `x` [rows, in] through `base` (without its bias) plus the adapter `a` [r, in],
/// `b` [out, r]: [rows, out], differentiable with respect to `x`, `a` and `b`. CPU only, f32
/// or f64, `x`, `a` and `b` of one dtype.
pub fn adapted_linear(
    x: &Tensor,
    base: &FrozenLinear,
    a: &Tensor,
    b: &Tensor,
    scale: f64,
    dropout: Option<DropoutMask>,
) -> candle_core::Result<Tensor> {
    let op = AdaptedLinear { base: base.clone(), scale, dropout };
    x.contiguous()?.apply_op3(&a.contiguous()?, &b.contiguous()?, op)
}

/// The op; see the module doc.
struct AdaptedLinear {
    base: FrozenLinear,
    scale: f64,
    dropout: Option<DropoutMask>,
}

/// The dtypes the op computes in, with the frozen product of each.
trait Real: WithDType + Send + Sync {
    fn frozen(base: &FrozenLinear, x: &[Self], m: usize, transposed: bool) -> candle_core::Result<Vec<Self>>;
}

impl Real for f32 {
    fn frozen(base: &FrozenLinear, x: &[f32], m: usize, transposed: bool) -> candle_core::Result<Vec<f32>> {
        base.cpu_product_f32(x, m, transposed)
    }
}

impl Real for f64 {
    fn frozen(base: &FrozenLinear, x: &[f64], m: usize, transposed: bool) -> candle_core::Result<Vec<f64>> {
        base.cpu_product_f64(x, m, transposed)
    }
}

impl AdaptedLinear {
    /// `(rows, in, r, out)`, checked against the base layer and each other.
    fn dims(&self, x: &Shape, a: &Shape, b: &Shape) -> candle_core::Result<(usize, usize, usize, usize)> {
        let (m, k) = x.dims2()?;
        let (r, a_in) = a.dims2()?;
        let (n, b_r) = b.dims2()?;
        let (want_in, want_out) = (self.base.in_features(), self.base.out_features());
        if k != want_in || a_in != want_in || b_r != r || n != want_out {
            candle_core::bail!(
                "{}: x {x:?}, A {a:?}, B {b:?}: expected [rows, {want_in}], [r, {want_in}], [{want_out}, r]",
                self.name()
            );
        }
        Ok((m, k, r, n))
    }

    /// `dropout(x)`: `x` itself without dropout.
    fn dropped<'x, T: Real>(&self, x: &'x [T]) -> std::borrow::Cow<'x, [T]> {
        match &self.dropout {
            None => std::borrow::Cow::Borrowed(x),
            Some(mask) => {
                let keep = T::from_f64(f64::from(mask.keep));
                let mut out = vec![T::zero(); x.len()];
                mask.visit(&mut out, |first, kept, run| {
                    for ((v, &x), &k) in run.iter_mut().zip(&x[first..]).zip(kept) {
                        *v = if k { x * keep } else { T::zero() };
                    }
                });
                std::borrow::Cow::Owned(out)
            }
        }
    }

    fn forward<T: Real>(&self, x: &[T], a: &[T], b: &[T], (m, k, r, n): (usize, usize, usize, usize)) -> candle_core::Result<Vec<T>> {
        let mut out = T::frozen(&self.base, x, m, false)?;
        let d = self.dropped(x);
        let mut h = vec![T::zero(); m * r];
        product(&mut h, Mat::new(&d, m, k), Mat::new(a, r, k).t(), self.scale, false);
        product(&mut out, Mat::new(&h, m, r), Mat::new(b, n, r).t(), 1.0, true);
        Ok(out)
    }

    /// `(∂L/∂x, ∂L/∂A, ∂L/∂B)` as flat row-major vectors.
    #[allow(clippy::type_complexity, reason = "the three gradients, named where they are destructured")]
    fn backward<T: Real>(
        &self,
        x: &[T],
        a: &[T],
        b: &[T],
        g: &[T],
        (m, k, r, n): (usize, usize, usize, usize),
    ) -> candle_core::Result<(Vec<T>, Vec<T>, Vec<T>)> {
        let d = self.dropped(x);
        let mut h = vec![T::zero(); m * r];
        product(&mut h, Mat::new(&d, m, k), Mat::new(a, r, k).t(), self.scale, false);
        let mut grad_b = vec![T::zero(); n * r];
        product(&mut grad_b, Mat::new(g, m, n).t(), Mat::new(&h, m, r), 1.0, false);
        let mut gb = h;
        product(&mut gb, Mat::new(g, m, n), Mat::new(b, n, r), 1.0, false);
        let mut grad_a = vec![T::zero(); r * k];
        product(&mut grad_a, Mat::new(&gb, m, r).t(), Mat::new(&d, m, k), self.scale, false);
        let mut grad_x = T::frozen(&self.base, g, m, true)?;
        match (&self.dropout, d) {
            (None, _) => product(&mut grad_x, Mat::new(&gb, m, r), Mat::new(a, r, k), self.scale, true),
            (Some(mask), d) => {
                // The adapter's share, computed into the dropped input's buffer, then masked.
                let mut share = d.into_owned();
                product(&mut share, Mat::new(&gb, m, r), Mat::new(a, r, k), self.scale, false);
                let keep = T::from_f64(f64::from(mask.keep));
                mask.visit(&mut grad_x, |first, kept, run| {
                    for ((v, &s), &k) in run.iter_mut().zip(&share[first..]).zip(kept) {
                        if k {
                            *v += s * keep;
                        }
                    }
                });
            }
        }
        Ok((grad_x, grad_a, grad_b))
    }
}

impl CustomOp3 for AdaptedLinear {
    fn name(&self) -> &'static str {
        "lora-adapted-linear"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        x_layout: &Layout,
        a: &CpuStorage,
        a_layout: &Layout,
        b: &CpuStorage,
        b_layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dims = self.dims(x_layout.shape(), a_layout.shape(), b_layout.shape())?;
        let shape = Shape::from((dims.0, dims.3));
        let out = match (x.dtype(), a.dtype(), b.dtype()) {
            (DType::F32, DType::F32, DType::F32) => CpuStorage::F32(self.forward(
                host_slice(x, x_layout, self.name())?,
                host_slice(a, a_layout, self.name())?,
                host_slice(b, b_layout, self.name())?,
                dims,
            )?),
            (DType::F64, DType::F64, DType::F64) => CpuStorage::F64(self.forward(
                host_slice(x, x_layout, self.name())?,
                host_slice(a, a_layout, self.name())?,
                host_slice(b, b_layout, self.name())?,
                dims,
            )?),
            (x, a, b) => candle_core::bail!("{}: x {x:?}, A {a:?}, B {b:?}: expected all f32 or all f64", self.name()),
        };
        Ok((out, shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        a: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let dims = self.dims(x.shape(), a.shape(), b.shape())?;
        let grad = grad.contiguous()?;
        let name = self.name();
        let (x, a, b, g) =
            (host_values(x, name)?, host_values(a, name)?, host_values(b, name)?, host_values(&grad, name)?);
        match x.dtype() {
            DType::F32 => {
                gradients(self.backward::<f32>(x.slice(name)?, a.slice(name)?, b.slice(name)?, g.slice(name)?, dims)?, dims)
            }
            DType::F64 => {
                gradients(self.backward::<f64>(x.slice(name)?, a.slice(name)?, b.slice(name)?, g.slice(name)?, dims)?, dims)
            }
            other => candle_core::bail!("{}: gradient of dtype {other:?}: expected f32 or f64", self.name()),
        }
    }
}

/// The three gradients of [`AdaptedLinear::backward`] as tensors.
#[allow(clippy::type_complexity, reason = "the three gradients of `backward` and their dimensions, destructured in the signature")]
fn gradients<T: WithDType>(
    (grad_x, grad_a, grad_b): (Vec<T>, Vec<T>, Vec<T>),
    (m, k, r, n): (usize, usize, usize, usize),
) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
    Ok((
        Some(Tensor::from_vec(grad_x, (m, k), &Device::Cpu)?),
        Some(Tensor::from_vec(grad_a, (r, k), &Device::Cpu)?),
        Some(Tensor::from_vec(grad_b, (n, r), &Device::Cpu)?),
    ))
}
