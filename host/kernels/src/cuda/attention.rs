//! Attention's softmax as one op on the device (`attention.cu`): the scale, the mask, the
//! f32 softmax and the conversion back in one kernel, whose backward pass needs only the
//! op's output. candle's composite softmax keeps six score-sized tensors per layer for the
//! backward pass; at 1024 tokens that is most of a training step's memory.

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::{
    CudaView, DeviceRepr, LaunchConfig, PushKernelArg,
};
use candle_core::cuda_backend::{CudaDType, WrapErr};
use candle_core::{
    CpuStorage, CudaDevice, CudaStorage, CustomOp1, CustomOp2, D, DType, Layout, Shape, Tensor,
};
use half::bf16;

/// The kernels' PTX, built from `attention.cu` by `build.rs`.
const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/attention.ptx"));

/// The name the PTX module is cached under on each device.
const MODULE: &str = "rapha_engine_attention";

/// Most threads per row of scores.
const MAX_THREADS: usize = 256;

/// `softmax(scale · scores + mask)` over the last dimension of `scores`
/// `[b, heads, t, t_kv]` (bf16 or f32, on a CUDA device), computed in f32 and returned in
/// the scores' dtype; `mask` is additive, f32, `[b or 1, 1, t, t_kv]`.
pub(crate) fn attention_softmax(
    scores: &Tensor,
    mask: Option<&Tensor>,
    scale: f64,
) -> candle_core::Result<Tensor> {
    let op = AttentionSoftmax {
        scale: scale as f32,
    };
    let scores = scores.contiguous()?;
    match mask {
        None => scores.apply_op1(op),
        Some(mask) => scores.apply_op2(&mask.contiguous()?, op),
    }
}

struct AttentionSoftmax {
    scale: f32,
}

/// The shape of one launch: rows of scores, and the three sizes the kernel indexes with.
struct Rows {
    t: u32,
    heads: u32,
    t_kv: u32,
    config: LaunchConfig,
}

impl AttentionSoftmax {
    /// The output and its shape, with the mask given as its storage and layout.
    fn forward(
        &self,
        scores: &CudaStorage,
        scores_layout: &Layout,
        mask: Option<(&CudaStorage, &Layout)>,
    ) -> candle_core::Result<(CudaStorage, Shape)> {
        let (b, heads, t, t_kv) = scores_layout.shape().dims4()?;
        if !scores_layout.is_contiguous() {
            candle_core::bail!("attention softmax: expected contiguous scores");
        }
        let mask = match mask {
            None => None,
            Some((storage, layout)) => {
                let dims = layout.dims();
                let batch_stride = match dims {
                    [1, 1, rows, cols] if (*rows, *cols) == (t, t_kv) => 0,
                    [mb, 1, rows, cols] if (*mb, *rows, *cols) == (b, t, t_kv) => t * t_kv,
                    _ => candle_core::bail!(
                        "attention softmax: mask {dims:?}: expected [{b} or 1, 1, {t}, {t_kv}]"
                    ),
                };
                if !layout.is_contiguous() {
                    candle_core::bail!("attention softmax: expected a contiguous mask");
                }
                let values = storage.as_cuda_slice::<f32>()?;
                Some((values.slice(layout.start_offset()..), batch_stride as u64))
            }
        };
        let u32_of = |n: usize| u32::try_from(n).map_err(candle_core::Error::wrap);
        let threads = t_kv.next_multiple_of(32).clamp(32, MAX_THREADS);
        let rows = Rows {
            t: u32_of(t)?,
            heads: u32_of(heads)?,
            t_kv: u32_of(t_kv)?,
            config: LaunchConfig {
                grid_dim: (u32_of(b * heads * t)?, 1, 1),
                block_dim: (u32_of(threads)?, 1, 1),
                shared_mem_bytes: 0,
            },
        };
        let device = scores.device();
        let start = scores_layout.start_offset();
        let n = b * heads * t * t_kv;
        let out = match scores.dtype() {
            DType::BF16 => {
                let src = scores.as_cuda_slice::<bf16>()?.slice(start..);
                self.launch(
                    "attention_softmax_bf16",
                    device,
                    &src,
                    mask.as_ref(),
                    &rows,
                    n,
                )?
            }
            DType::F32 => {
                let src = scores.as_cuda_slice::<f32>()?.slice(start..);
                self.launch(
                    "attention_softmax_f32",
                    device,
                    &src,
                    mask.as_ref(),
                    &rows,
                    n,
                )?
            }
            other => {
                candle_core::bail!("attention softmax: expected bf16 or f32, found {other:?}")
            }
        };
        Ok((out, scores_layout.shape().clone()))
    }

    /// Run `kernel` over `src` (`n` scores) into a fresh buffer.
    fn launch<T: CudaDType + DeviceRepr>(
        &self,
        kernel: &str,
        device: &CudaDevice,
        src: &CudaView<'_, T>,
        mask: Option<&(CudaView<'_, f32>, u64)>,
        rows: &Rows,
        n: usize,
    ) -> candle_core::Result<CudaStorage> {
        let func = device.get_or_load_custom_func(kernel, MODULE, PTX)?;
        // SAFETY: the kernel writes all `n` elements before anything reads them.
        let mut dst = unsafe { device.alloc::<T>(n)? };
        // The kernel adds no mask when given a null pointer.
        let null = 0u64;
        let mask_stride = mask.map_or(0, |(_, stride)| *stride);
        let mut builder = func.builder();
        builder.arg(src);
        match mask {
            Some((values, _)) => builder.arg(values),
            None => builder.arg(&null),
        };
        builder.arg(&self.scale);
        builder.arg(&mut dst);
        builder.arg(&rows.t);
        builder.arg(&rows.heads);
        builder.arg(&rows.t_kv);
        builder.arg(&mask_stride);
        // SAFETY: the arguments match the kernel's signature in order and type; it reads
        // the `n` scores and, per row, `t_kv` mask values inside the mask's shape (checked by
        // the caller), and writes `n` outputs, which `dst` holds.
        unsafe { builder.launch(rows.config) }.w()?;
        Ok(CudaStorage::wrap_cuda_slice(dst, device.clone()))
    }

    /// With `p` the output and `g` its gradient, the scores' gradient
    /// `scale · p ⊙ (g − Σ g ⊙ p)`, in f32, returned in the scores' dtype.
    fn backward(&self, res: &Tensor, grad_res: &Tensor) -> candle_core::Result<Tensor> {
        let p = res.detach().to_dtype(DType::F32)?;
        let g = grad_res.detach().to_dtype(DType::F32)?;
        let dot = (&g * &p)?.sum_keepdim(D::Minus1)?;
        (p * g.broadcast_sub(&dot)?)?
            .affine(f64::from(self.scale), 0.0)?
            .to_dtype(res.dtype())
    }
}

impl CustomOp1 for AttentionSoftmax {
    fn name(&self) -> &'static str {
        "attention-softmax"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        candle_core::bail!("attention softmax: the fused op runs on cuda only")
    }

    fn cuda_fwd(
        &self,
        scores: &CudaStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CudaStorage, Shape)> {
        self.forward(scores, layout, None)
    }

    fn bwd(
        &self,
        _scores: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(self.backward(res, grad_res)?))
    }
}

impl CustomOp2 for AttentionSoftmax {
    fn name(&self) -> &'static str {
        "attention-softmax-masked"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        candle_core::bail!("attention softmax: the fused op runs on cuda only")
    }

    fn cuda_fwd(
        &self,
        scores: &CudaStorage,
        scores_layout: &Layout,
        mask: &CudaStorage,
        mask_layout: &Layout,
    ) -> candle_core::Result<(CudaStorage, Shape)> {
        self.forward(scores, scores_layout, Some((mask, mask_layout)))
    }

    /// The mask is a constant: only the scores get a gradient.
    fn bwd(
        &self,
        _scores: &Tensor,
        _mask: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(self.backward(res, grad_res)?), None))
    }
}
