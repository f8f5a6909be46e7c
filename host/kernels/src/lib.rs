//! `rapha-kernels`: the compute under rapha-engine's layers, and all of its `unsafe`.
//!
//! - [`nf4`] and [`double_quant`]: QLoRA's 4-bit NormalFloat weights with double-quantized
//!   scales (Dettmers et al. 2023).
//! - [`frozen`]: the frozen weight of a linear layer, NF4 or full precision, in host or
//!   device memory, and its product as one candle op that picks its kernel by device inside:
//!   on the CPU bf16 operands on AMX tiles ([`bf16_product`]), a tiled product, or for a few
//!   rows a fused decode-and-dot (`gemv`); on a GPU a dequantization kernel and one GEMM.
//! - [`ops`]: what a layer calls (the LoRA-adapted projection, RMSNorm, SwiGLU, attention
//!   probabilities, rotary heads), picking its
//!   kernel inside by device and mode.
//! - [`fused`]: training's fused autograd ops on the CPU (the adapted projection, attention
//!   probabilities, RMSNorm, rotary split, SwiGLU), each one node with its own backward pass.
//! - [`softmax`]: attention's masked softmax on any device; [`dropout`]: LoRA's dropout masks
//!   from counter-based streams, on any device.
//! - `cuda` (feature `cuda`): the kernels candle lacks (`*.cu`, compiled to PTX by
//!   `build.rs`).
//! - [`allocator`]: the process's malloc tuning for training, for the binaries to call;
//!   [`sample`]: the seeded normal sampler of tests, self-checks and benchmarks.
//!
//! The kernels know nothing of layers, models or training: callers hand them tensors.

#![warn(missing_docs)]

pub mod allocator;
mod amx;
pub mod bf16_product;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod double_quant;
pub mod dropout;
mod error;
pub mod frozen;
pub mod fused;
mod gemv;
pub mod nf4;
pub mod ops;
pub mod sample;
pub mod softmax;
mod tiles;

pub use dropout::DropoutMask;
pub use error::{Error, Result};
pub use frozen::{FrozenLinear, Quantization, compute_dtype};
pub use gemv::MAX_ROWS as FEW_ROWS;
pub use nf4::Nf4Matrix;
