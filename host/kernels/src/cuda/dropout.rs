//! LoRA dropout masks drawn on the device (`dropout.cu`), equal bit for bit to the CPU's:
//! the same ChaCha8 streams, without drawing on the host and copying the mask over (on a
//! 1B model at 4 × 1024 tokens, about a billion words per step).

use candle_core::cuda_backend::WrapErr;
use candle_core::cuda_backend::cudarc::driver::{LaunchConfig, PushKernelArg};
use candle_core::op::BackpropOp;
use candle_core::{CudaStorage, Device, Shape, Storage, Tensor};

/// The kernel's PTX, built from `dropout.cu` by `build.rs`.
const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/dropout.ptx"));

/// The name the PTX module is cached under on each device.
const MODULE: &str = "rapha_engine_dropout";

/// Mask elements per thread: one ChaCha block of 16 words.
const BLOCK_WORDS: usize = 16;

/// Threads per block.
const THREADS: u32 = 256;

/// An f32 mask of `shape` on the CUDA `device`: element `e` is `keep` when word
/// `e % chunk` of the ChaCha8 stream `e / chunk` under `seed` is at least `threshold`, else 0
/// (`chunk` a multiple of ChaCha's 16-word block).
pub(crate) fn dropout_mask(
    seed: &[u8; 32],
    threshold: u32,
    keep: f32,
    chunk: usize,
    shape: &Shape,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let Device::Cuda(cuda) = device else {
        candle_core::bail!(
            "dropout mask: expected a cuda device, found {:?}",
            device.location()
        );
    };
    let n = shape.elem_count();
    let key: [u32; 8] = std::array::from_fn(|i| {
        u32::from_le_bytes([
            seed[4 * i],
            seed[4 * i + 1],
            seed[4 * i + 2],
            seed[4 * i + 3],
        ])
    });
    let blocks_per_stream = (chunk / BLOCK_WORDS) as u64;
    let blocks = n.div_ceil(BLOCK_WORDS).div_ceil(THREADS as usize);
    // SAFETY: the kernel writes every element (below) before the tensor is read.
    let mut out = unsafe { cuda.alloc::<f32>(n)? };
    if n > 0 {
        let config = LaunchConfig {
            grid_dim: (
                u32::try_from(blocks).map_err(candle_core::Error::wrap)?,
                1,
                1,
            ),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        let func = cuda.get_or_load_custom_func("lora_dropout_mask_f32", MODULE, PTX)?;
        let count = n as u64;
        let mut builder = func.builder();
        for word in &key {
            builder.arg(word);
        }
        builder.arg(&blocks_per_stream);
        builder.arg(&threshold);
        builder.arg(&keep);
        builder.arg(&mut out);
        builder.arg(&count);
        // SAFETY: the arguments match the kernel's signature in order and type; it writes
        // the first `n` elements of `out`, which holds `n`.
        unsafe { builder.launch(config) }.w()?;
    }
    Ok(Tensor::from_storage(
        Storage::Cuda(CudaStorage::wrap_cuda_slice(out, cuda.clone())),
        shape.clone(),
        BackpropOp::none(),
        false,
    ))
}
