//! SwiGLU's gating, `silu(g) · u` (Shazeer 2020), as one CPU op with its own backward pass.
//!
//! The composite `gate.silu()? * up` keeps `silu(g)` in the autograd graph beside `g` and `u`
//! — one more tensor of the MLP's widest activation per layer — and runs two backward
//! passes. This op keeps only its inputs and computes both input gradients in one pass over
//! `g`, `u` and `dy`, recomputing `σ(g)`:
//! `dg = dy · u · σ(g) · (1 + g · (1 − σ(g)))`, `du = dy · silu(g)`.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor};
use candle_core::{WithDType, bail};
use rayon::prelude::*;

/// `silu(gate) · up`, elementwise, for `gate` and `up` of the same shape, on the CPU in f32
/// or f64. The result carries gradients to both.
pub(crate) fn swiglu(gate: &Tensor, up: &Tensor) -> candle_core::Result<Tensor> {
    gate.contiguous()?.apply_op2(&up.contiguous()?, SwiGlu)
}

/// Elements per rayon task: enough to amortise scheduling, few enough to spread a layer's
/// activations over every thread.
const CHUNK: usize = 4096;

/// A float type the ops compute in: the logistic function in its own precision.
trait Real: WithDType {
    /// `σ(v) = 1 / (1 + e^(−v))`.
    fn sigmoid(self) -> Self;
}

impl Real for f32 {
    fn sigmoid(self) -> Self {
        1.0 / (1.0 + (-self).exp())
    }
}

impl Real for f64 {
    fn sigmoid(self) -> Self {
        1.0 / (1.0 + (-self).exp())
    }
}

/// The forward op: `(g, u)` → `silu(g) · u`.
struct SwiGlu;

/// The backward op: `(g, u, dy)` → `[2, ..]`, `dg` then `du`, stacked in one buffer so that
/// one pass writes both.
struct SwiGluBackward;

impl CustomOp2 for SwiGlu {
    fn name(&self) -> &'static str {
        "swiglu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let inputs = [("gate", s1, l1), ("up", s2, l2)];
        let y = match check(self.name(), &inputs)? {
            DType::F32 => forward::<f32>(self.name(), &inputs)?,
            DType::F64 => forward::<f64>(self.name(), &inputs)?,
            other => bail!(
                "{}: gate dtype: expected f32 or f64, found {other:?}",
                self.name()
            ),
        };
        Ok((y, l1.shape().clone()))
    }

    /// Both gradients from [`SwiGluBackward`]'s stacked output, as views of it.
    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let both = gate.contiguous()?.apply_op3_no_bwd(
            &up.contiguous()?,
            &grad_res.contiguous()?,
            &SwiGluBackward,
        )?;
        let dgate = both.get(0)?;
        let dup = both.get(1)?;
        Ok((Some(dgate), Some(dup)))
    }
}

impl CustomOp3 for SwiGluBackward {
    fn name(&self) -> &'static str {
        "swiglu-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let inputs = [("gate", s1, l1), ("up", s2, l2), ("gradient", s3, l3)];
        let both = match check(self.name(), &inputs)? {
            DType::F32 => backward::<f32>(self.name(), &inputs)?,
            DType::F64 => backward::<f64>(self.name(), &inputs)?,
            other => bail!(
                "{}: gate dtype: expected f32 or f64, found {other:?}",
                self.name()
            ),
        };
        let mut dims = vec![2];
        dims.extend_from_slice(l1.dims());
        Ok((both, Shape::from(dims)))
    }
}

/// The dtype `inputs` share with the first of them, after checking that they also share its
/// shape.
fn check(op: &str, inputs: &[(&str, &CpuStorage, &Layout)]) -> candle_core::Result<DType> {
    let (first, storage, layout) = inputs[0];
    let dtype = storage.dtype();
    for &(what, s, l) in &inputs[1..] {
        if l.shape() != layout.shape() {
            bail!(
                "{op}: {what} shape: expected {:?} (the {first}'s), found {:?}",
                layout.dims(),
                l.dims()
            );
        }
        if s.dtype() != dtype {
            bail!(
                "{op}: {what} dtype: expected {dtype:?} (the {first}'s), found {:?}",
                s.dtype()
            );
        }
    }
    Ok(dtype)
}

/// The values of `inputs[index]`, which must be contiguous.
fn values<'a, T: WithDType>(
    op: &str,
    inputs: &[(&str, &'a CpuStorage, &Layout)],
    index: usize,
) -> candle_core::Result<&'a [T]> {
    let (what, storage, layout) = inputs[index];
    let Some((start, end)) = layout.contiguous_offsets() else {
        bail!("{op}: {what}: expected a contiguous tensor");
    };
    Ok(&T::cpu_storage_as_slice(storage)?[start..end])
}

fn forward<T: Real>(
    op: &str,
    inputs: &[(&str, &CpuStorage, &Layout)],
) -> candle_core::Result<CpuStorage> {
    let g = values::<T>(op, inputs, 0)?;
    let u = values::<T>(op, inputs, 1)?;
    let mut y = vec![T::zero(); g.len()];
    y.par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK))
        .zip(u.par_chunks(CHUNK))
        .for_each(|((y, g), u)| {
            for ((y, &g), &u) in y.iter_mut().zip(g).zip(u) {
                *y = g * g.sigmoid() * u;
            }
        });
    Ok(T::to_cpu_storage_owned(y))
}

/// `[dg, du]` into one buffer of twice the input's length.
fn backward<T: Real>(
    op: &str,
    inputs: &[(&str, &CpuStorage, &Layout)],
) -> candle_core::Result<CpuStorage> {
    let g = values::<T>(op, inputs, 0)?;
    let u = values::<T>(op, inputs, 1)?;
    let dy = values::<T>(op, inputs, 2)?;
    let mut both = vec![T::zero(); 2 * g.len()];
    let (dg, du) = both.split_at_mut(g.len());
    dg.par_chunks_mut(CHUNK)
        .zip(du.par_chunks_mut(CHUNK))
        .zip(g.par_chunks(CHUNK))
        .zip(u.par_chunks(CHUNK))
        .zip(dy.par_chunks(CHUNK))
        .for_each(|((((dg, du), g), u), dy)| {
            let one = T::one();
            for ((((dg, du), &g), &u), &dy) in dg.iter_mut().zip(du).zip(g).zip(u).zip(dy) {
                let s = g.sigmoid();
                *dg = dy * u * s * (one + g * (one - s));
                *du = dy * g * s;
            }
        });
    Ok(T::to_cpu_storage_owned(both))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fused::testing::{assert_close, tensor, value_and_grads};
    use crate::sample::standard_normal;

    fn check(dims: &[usize], dtype: DType, tolerance: f64) {
        let n = dims.iter().product();
        // Spread the gate over silu's curved range and both tails.
        let g: Vec<f32> = standard_normal(n, 1).iter().map(|v| 4.0 * v).collect();
        let g = tensor(g, dims, dtype);
        let u = tensor(standard_normal(n, 2), dims, dtype);
        let c = tensor(standard_normal(n, 3), dims, dtype);
        let (y, [dg, du]) = value_and_grads([&g, &u], &c, |[g, u]| swiglu(g, u));
        let (want_y, [want_dg, want_du]) = value_and_grads([&g, &u], &c, |[g, u]| g.silu()? * u);
        let got = [y, dg, du];
        let want = [want_y, want_dg, want_du];
        for ((got, want), what) in got.iter().zip(&want).zip(["forward", "gate", "up"]) {
            assert_eq!(got.dtype(), dtype);
            assert_close(got, want, tolerance, &format!("{dims:?} {dtype:?} {what}"));
        }
    }

    #[test]
    fn matches_the_composite_in_f64() {
        // 3 × 5 × 1001 elements: several rayon chunks and a ragged last one.
        check(&[3, 5, 1001], DType::F64, 1e-10);
        check(&[7], DType::F64, 1e-10);
    }

    #[test]
    fn matches_the_composite_in_f32() {
        check(&[3, 5, 1001], DType::F32, 1e-5);
        check(&[2, 13], DType::F32, 1e-5);
    }

    #[test]
    fn takes_non_contiguous_inputs() {
        let g = tensor(standard_normal(35, 4), &[5, 7], DType::F64);
        let u = tensor(standard_normal(35, 5), &[7, 5], DType::F64);
        let ut = u.t().expect("transpose");
        let got = swiglu(&g, &ut).expect("swiglu");
        let want = (g.silu().expect("silu") * &ut).expect("product");
        assert_close(&got, &want, 1e-12, "transposed up");
    }

    #[test]
    fn rejects_other_dtypes_and_shapes() {
        let a = tensor(vec![1.0; 6], &[2, 3], DType::F32);
        let err = swiglu(&a, &tensor(vec![1.0; 6], &[3, 2], DType::F32)).expect_err("shape");
        assert!(
            err.to_string()
                .contains("swiglu: up shape: expected [2, 3] (the gate's), found [3, 2]"),
            "{err}"
        );
        let err = swiglu(&a, &a.to_dtype(DType::F64).expect("f64")).expect_err("mixed");
        assert!(
            err.to_string()
                .contains("swiglu: up dtype: expected F32 (the gate's), found F64"),
            "{err}"
        );
        let half = a.to_dtype(DType::F16).expect("f16");
        let err = swiglu(&half, &half).expect_err("f16");
        assert!(
            err.to_string()
                .contains("swiglu: gate dtype: expected f32 or f64, found F16"),
            "{err}"
        );
    }
}
