//! Attention's softmax with its mask, on any device (through `ops::attention_probs`, or
//! alone).

use candle_core::{D, DType, Tensor};

/// `softmax(scale · scores + mask)` over the last dimension of `scores`
/// `[b, heads, t, t_kv]`, in f32 (transformers' `softmax(.., dtype=float32)`: `f32::MIN` in
/// the mask has no bf16 value but -inf, which would turn a query that sees no key into
/// NaN), returned in the scores' dtype. On CUDA one fused op, which keeps only its output
/// for the backward pass.
pub fn masked_softmax(
    scores: &Tensor,
    mask: Option<&Tensor>,
    scale: f64,
) -> candle_core::Result<Tensor> {
    #[cfg(feature = "cuda")]
    if scores.device().is_cuda() {
        return crate::cuda::attention_softmax(scores, mask, scale);
    }
    let scores_f32 = scores.affine(scale, 0.0)?.to_dtype(DType::F32)?;
    let scores_f32 = match mask {
        Some(mask) => scores_f32.broadcast_add(mask)?,
        None => scores_f32,
    };
    let probs = if scores_f32.track_op() {
        candle_nn::ops::softmax(&scores_f32, D::Minus1)?
    } else {
        candle_nn::ops::softmax_last_dim(&scores_f32)?
    };
    probs.to_dtype(scores.dtype())
}
