//! The ops a model's layers call, on any device and in any mode: each picks its kernel
//! inside, so no layer branches on where or how it runs. Training on the CPU (a tensor that
//! records gradients, in f32 or f64, in host memory) takes the fused ops of [`crate::fused`],
//! one autograd node each; inference keeps candle's fused kernels, which have no backward
//! pass; a GPU in training runs candle's composites (and [`crate::softmax`]'s kernel).

use candle_core::{D, DType, Tensor};

use crate::dropout::DropoutMask;
use crate::frozen::FrozenLinear;

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

/// Rotate `x` `[b, heads, t, head_dim]` by rotary angles `cos` and `sin` `[b, t, head_dim]`
/// (the half width repeated), in the Hugging Face layout: `x · cos + rotate_half(x) · sin`.
/// candle's fused `rope` has no backward pass, so a tensor that records gradients takes the
/// composite form.
pub fn rotate(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
    let cos = cos.unsqueeze(1)?;
    let sin = sin.unsqueeze(1)?;
    if !x.track_op() {
        let half = cos.dim(D::Minus1)? / 2;
        let cos = cos.narrow(D::Minus1, 0, half)?.squeeze(1)?.contiguous()?;
        let sin = sin.narrow(D::Minus1, 0, half)?.squeeze(1)?.contiguous()?;
        return candle_nn::rotary_emb::rope(&x.contiguous()?, &cos, &sin);
    }
    let half = x.dim(D::Minus1)? / 2;
    let x1 = x.narrow(D::Minus1, 0, half)?;
    let x2 = x.narrow(D::Minus1, half, half)?;
    let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
    x.broadcast_mul(&cos)? + rotated.broadcast_mul(&sin)?
}

/// A projection's output `x` `[b, t, heads · head_dim]` split into `heads` heads
/// `[b, heads, t, head_dim]` (contiguous), each rotated by `cos` and `sin` ([`rotate`]).
pub fn rotary_heads(x: &Tensor, heads: usize, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
    if fused_training(x) {
        return crate::fused::rope_heads(x, heads, cos, sin);
    }
    let (b, t, width) = x.dims3()?;
    let split = x.reshape((b, t, heads, width / heads))?.transpose(1, 2)?.contiguous()?;
    rotate(&split, cos, sin)
}

/// Logits `x` [rows, hidden] · `Wᵀ` through a model's frozen output head, [rows, vocab].
///
/// Inference on the CPU with more than a few rows of a full-precision head in f32 operands
/// takes candle's matmul. The frozen op takes the rest: a generation step's few rows (its
/// fused kernel is several times faster than candle's matmul for 4 rows), bf16 operands (an
/// NF4 model's head), a GPU, and training, where candle's matmul would also compute the
/// gradient of the vocabulary-sized weight, as many flops as the logits themselves.
pub fn logits(x: &Tensor, head: &FrozenLinear) -> candle_core::Result<Tensor> {
    let few_rows = x.dim(0)? <= crate::FEW_ROWS && x.dtype() == DType::F32;
    if let Some(weight) = head.plain_weight()
        && x.device().is_cpu()
        && !few_rows
        && !x.track_op()
    {
        return x.matmul(&weight.t()?);
    }
    head.add_bias(head.matmul(x, false)?)
}

/// A LoRA adapter's factors as a projection applies them: `scale · B · A · dropout(x)`.
/// The caller detaches `a` and `b` when nothing needs their gradients (evaluation), and gives
/// a dropout mask only in training.
#[derive(Debug, Clone)]
pub struct LoraFactors {
    /// `A` [r, in].
    pub a: Tensor,
    /// `B` [out, r].
    pub b: Tensor,
    /// The factor applied to `B · A`.
    pub scale: f64,
    /// The mask of the adapter's input, in training with dropout.
    pub dropout: Option<DropoutMask>,
}

/// A LoRA-adapted frozen projection: `x` [rows, in] through `base` (with its bias) plus
/// `lora`'s contribution, [rows, out] in the base output's dtype.
///
/// Training on the CPU (factors that record gradients, `x` in their dtype, f32 or f64) takes
/// one fused op ([`crate::fused::adapted_linear`]), which keeps no intermediate tensor for
/// the backward pass; elsewhere the base output and [`lora_delta`], as candle ops.
pub fn adapted_linear(x: &Tensor, base: &FrozenLinear, lora: &LoraFactors) -> candle_core::Result<Tensor> {
    let fused = lora.a.track_op()
        && x.device().is_cpu()
        && x.dtype() == lora.a.dtype()
        && matches!(x.dtype(), DType::F32 | DType::F64);
    if fused {
        let y = crate::fused::adapted_linear(x, base, &lora.a, &lora.b, lora.scale, lora.dropout)?;
        return base.add_bias(y);
    }
    let y = base.add_bias(base.matmul(x, false)?)?;
    let delta = lora_delta(x, lora)?;
    y.add(&delta.to_dtype(y.dtype())?)
}

/// The adapter's contribution `scale · dropout(x) · Aᵀ · Bᵀ`, `x` [rows, in] → [rows, out], in
/// the factors' dtype.
///
/// `x` is first converted to that dtype, as PEFT casts the input to `lora_A`'s dtype: on a
/// GPU the bf16 activations enter the adapter as f32, so its products and gradients are f32.
pub fn lora_delta(x: &Tensor, lora: &LoraFactors) -> candle_core::Result<Tensor> {
    let x = x.to_dtype(lora.a.dtype())?;
    let x = match &lora.dropout {
        Some(mask) => x.mul(&mask.tensor(x.shape(), x.device())?.to_dtype(x.dtype())?)?,
        None => x,
    };
    // Scale the narrow [rows, r] product rather than the [rows, out] result.
    x.matmul(&lora.a.t()?)?.affine(lora.scale, 0.0)?.matmul(&lora.b.t()?)
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;
    use crate::sample::standard_normal;

    /// candle's fused rotation (inference) and the composite (training) agree.
    #[test]
    fn composite_and_fused_rotations_agree() {
        let device = Device::Cpu;
        let angles: Vec<f32> = standard_normal(2 * 3 * 4, 1);
        let half = Tensor::from_vec(angles, (2, 3, 4), &device).expect("angles");
        let full = Tensor::cat(&[&half, &half], D::Minus1).expect("repeat");
        let (cos, sin) = (full.cos().expect("cos"), full.sin().expect("sin"));
        let x = Tensor::from_vec(standard_normal(2 * 2 * 3 * 8, 2), (2, 2, 3, 8), &device).expect("x");
        let fused = rotate(&x, &cos, &sin).expect("fused");
        let var = Var::from_tensor(&x).expect("var");
        let composite = rotate(var.as_tensor(), &cos, &sin).expect("composite");
        let diff = (fused - composite).and_then(|d| d.abs()?.max_all()?.to_scalar::<f32>()).expect("diff");
        assert!(diff < 1e-6, "{diff}");
    }
}
