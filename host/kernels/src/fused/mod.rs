//! Fused CPU kernels for training: each replaces a composite of candle ops with one
//! autograd node that computes its forward and backward pass in one sweep and keeps no
//! intermediate tensor alive between them (the composites kept every one, which set both
//! the speed and the peak memory of a training step).

mod adapted;
mod attention;
mod gemm;
mod norm;
mod rope;
mod swiglu;

pub use adapted::adapted_linear;
// The rest are reached through `crate::ops`, which decides when they apply.
pub(crate) use attention::attention_probs;
pub(crate) use norm::rms_norm;
pub(crate) use rope::rope_heads;
pub(crate) use swiglu::swiglu;

use std::ops::Deref;

use candle_core::{CpuStorage, DType, Layout, Storage, Tensor, WithDType};

/// The values of a contiguous host buffer as `T`.
pub(crate) fn host_slice<'s, T: WithDType>(storage: &'s CpuStorage, layout: &Layout, op: &str) -> candle_core::Result<&'s [T]> {
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{op}: expected a contiguous input of shape {:?}", layout.shape());
    };
    Ok(&storage.as_slice::<T>()?[start..end])
}

/// A contiguous host tensor's values, borrowed under its storage's read lock (the guard
/// `G`): what a backward pass reads its saved tensors through without copying them.
pub(crate) struct HostValues<'t, G> {
    guard: G,
    layout: &'t Layout,
}

/// Borrow `tensor`'s values; `op` names the caller in errors.
pub(crate) fn host_values<'t>(
    tensor: &'t Tensor,
    op: &str,
) -> candle_core::Result<HostValues<'t, impl Deref<Target = Storage> + 't>> {
    let (guard, layout) = tensor.storage_and_layout();
    if !matches!(&*guard, Storage::Cpu(_)) {
        candle_core::bail!("{op}: expected a tensor in host memory, found one on {:?}", tensor.device());
    }
    Ok(HostValues { guard, layout })
}

impl<G: Deref<Target = Storage>> HostValues<'_, G> {
    /// The dtype of the values.
    pub(crate) fn dtype(&self) -> DType {
        self.guard.dtype()
    }

    /// The values as `T` (an error for another dtype or a non-contiguous layout).
    pub(crate) fn slice<T: WithDType>(&self, op: &str) -> candle_core::Result<&[T]> {
        match &*self.guard {
            Storage::Cpu(storage) => host_slice(storage, self.layout, op),
            _ => unreachable!("checked in `host_values`"),
        }
    }
}

/// What the fused ops' tests share.
#[cfg(test)]
pub(crate) mod testing {
    use candle_core::{DType, Device, Tensor, Var};

    /// `values` as a tensor of `shape` in `dtype`.
    pub(crate) fn tensor(values: Vec<f32>, shape: &[usize], dtype: DType) -> Tensor {
        Tensor::from_vec(values, shape, &Device::Cpu)
            .and_then(|t| t.to_dtype(dtype))
            .expect("test tensor")
    }

    /// Every value, widened to f64.
    pub(crate) fn flat(t: &Tensor) -> Vec<f64> {
        t.to_dtype(DType::F64)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1())
            .expect("values")
    }

    /// Same shape, and every value within `tolerance · (1 + |want|)`.
    pub(crate) fn assert_close(got: &Tensor, want: &Tensor, tolerance: f64, what: &str) {
        assert_eq!(got.dims(), want.dims(), "{what}: shape");
        for (i, (g, w)) in flat(got).iter().zip(flat(want)).enumerate() {
            assert!((g - w).abs() <= tolerance * (1.0 + w.abs()), "{what}[{i}]: got {g}, want {w}");
        }
    }

    /// Output and the gradients of its inputs, of `sum(c ⊙ f(inputs))`.
    pub(crate) fn value_and_grads<const N: usize>(
        inputs: [&Tensor; N],
        c: &Tensor,
        f: impl Fn([&Tensor; N]) -> candle_core::Result<Tensor>,
    ) -> (Tensor, [Tensor; N]) {
        let vars = inputs.map(|x| Var::from_tensor(x).expect("var"));
        let y = f(vars.each_ref().map(Var::as_tensor)).expect("forward");
        let grads = y
            .mul(c)
            .and_then(|l| l.sum_all())
            .and_then(|l| l.backward())
            .expect("backward");
        let dx = vars.map(|v| grads.get(v.as_tensor()).expect("input gradient").clone());
        (y, dx)
    }
}
