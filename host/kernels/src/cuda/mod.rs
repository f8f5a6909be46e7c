//! The kernels on NVIDIA GPUs (feature `cuda`).
//!
//! candle's CUDA backend runs every ordinary tensor op. What this module adds is what
//! candle lacks, as kernels of our own (`*.cu`, compiled to PTX by `build.rs` and
//! JIT-compiled by the driver): NF4 weights in device memory and their dequantization
//! (`nf4`), LoRA dropout masks drawn on the device, the same as the CPU's (`dropout`), and
//! attention's softmax as one op that keeps only its output for the backward pass
//! (`attention`).
//! `rapha-gpu selftest` (`host/gpu/src/checks.rs`) compares each with the CPU where a GPU is.
//!
//! Precision on a GPU follows bitsandbytes' QLoRA with PEFT: activations, embeddings, norms,
//! the LM head and full-precision frozen weights in bf16; each NF4 weight dequantized to bf16
//! for one cuBLAS GEMM with f32 accumulation; LoRA `A`/`B`, their gradients and AdamW's
//! moments in f32 (the adapter's input is widened, its output narrowed back); RMSNorm's
//! statistics, attention's softmax and the loss in f32. The CPU keeps f32 throughout.
//!
//! Minimum GPU: compute capability 8.0 (bf16). `scripts/build-cuda.sh` builds for
//! compute capability 8.9 (the L4); its PTX is JIT-compiled on sm_90 (H100/H200).

mod attention;
mod dropout;
mod nf4;

pub(crate) use attention::attention_softmax;
pub(crate) use dropout::dropout_mask;
pub use nf4::{Nf4Device, Output};
pub use nf4::dequantize_nf4;
