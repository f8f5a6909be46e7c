//! The ops a model's layers call, on any device and in any mode: each picks its kernel
//! inside, so no layer branches on where or how it runs. Training on the CPU (a tensor that
//! records gradients, in f32 or f64, in host memory) takes the fused ops of [`crate::fused`],
//! one autograd node each; inference keeps candle's fused kernels, which have no backward
//! pass; a GPU in training runs candle's composites (and [`crate::softmax`]'s kernel).

use candle_core::{D, DType, Tensor};

/// Whether `x` takes the fused training ops: it records gradients, in f32 or f64, in host
/// memory.
pub fn fused_training(x: &Tensor) -> bool {
    x.track_op() && x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64)
}

/// RMSNorm over the last dimension of `x`, scaled by `weight`; statistics in f32.
pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    if !x.track_op() {
        return candle_nn::ops::rms_norm(&x.contiguous()?, weight, eps as f32);
    }
    if fused_training(x) {
        return crate::fused::rms_norm(x, weight, eps);
    }
    let x32 = x.to_dtype(DType::F32)?;
    let variance = x32.sqr()?.mean_keepdim(D::Minus1)?;
    x32.broadcast_div(&(variance + eps)?.sqrt()?)?.to_dtype(x.dtype())?.broadcast_mul(weight)
}

/// SwiGLU's gate: `silu(gate) · up`.
pub fn swiglu(gate: &Tensor, up: &Tensor) -> candle_core::Result<Tensor> {
    if fused_training(gate) {
        return crate::fused::swiglu(gate, up);
    }
    gate.silu()? * up
}

/// Attention probabilities `softmax(scale · q · kᵀ + mask)` with grouped queries: `q`
/// `[b, kv_heads, groups · t, d]` (each key/value head's query heads folded into its rows),
/// `k` `[b, kv_heads, t_kv, d]`, `mask` broadcast over `[b, kv_heads · groups, t, t_kv]`.
/// Returns `[b, kv_heads, groups · t, t_kv]`.
pub fn attention_probs(
    q: &Tensor,
    k: &Tensor,
    mask: Option<&Tensor>,
    scale: f64,
    groups: usize,
) -> candle_core::Result<Tensor> {
    if fused_training(q) {
        return crate::fused::attention_probs(q, k, mask, scale);
    }
    let (b, kv_heads, rows, _) = q.dims4()?;
    let t_kv = k.dims()[2];
    let t = rows / groups;
    let scores = q.matmul(&k.t()?)?.reshape((b, kv_heads * groups, t, t_kv))?;
    crate::softmax::masked_softmax(&scores, mask, scale)?.reshape((b, kv_heads, rows, t_kv))
}
