//! `rapha-engine`: QLoRA fine-tuning of Llama-family models on candle.
//!
//! The pipeline, in order:
//! 1. load a model (HF directory or GGUF), its tokenizer and chat template;
//! 2. freeze every linear weight, in NF4 with double-quantized scales (QLoRA) or
//!    in full precision;
//! 3. attach LoRA adapters to the chosen projections — the only trainable tensors;
//! 4. train on prompt/completion pairs with the loss on completion tokens only;
//! 5. generate for evaluation; save the adapter in PEFT's format.
//!
//! The engine never touches the network and knows nothing of recipes or plugins:
//! callers hand it typed configs.
//!
//! The computation under the layers (NF4 weights, the frozen products, the fused training
//! ops, the CUDA kernels) is `rapha-kernels`'; this crate holds the concepts and no `unsafe`.
//! Everything runs on the CPU in f32, except that an NF4 model's frozen products take bf16
//! operands (on AMX tiles where the CPU has them). With the cargo feature `cuda`, a model
//! built from weights on a CUDA device runs there in bf16 with the kernels' CUDA code.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod adapter;
pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod constraint;
pub mod dp;
mod error;
pub mod generate;
pub mod gguf;
mod json_file;
pub mod lora;
mod loss;
pub mod model;
pub mod optim;
pub mod rope;
pub mod safetensors_dir;
pub mod schedule;
pub mod score;
pub mod tokenizer;
pub mod testing;
pub mod train;
pub mod weights;

pub use config::{Architecture, Config, RawConfig, RopeScaling};
pub use error::{Error, Result};
pub use gguf::GgufFile;
pub use model::{Footprint, KvCache, Model, ModelSource, Pretrained};
pub use safetensors_dir::HfModelDir;
pub use tokenizer::{Message, Tokenizer};
pub use weights::Weights;
pub use lora::{LoraAdapter, LoraConfig, LoraLinear, Mode, Target};
pub use rapha_kernels::{FrozenLinear, Quantization, compute_dtype};
pub use adapter::PeftAdapter;
pub use batch::{Batch, BatchConfig, Batcher, DataPosition, Example};
pub use checkpoint::Checkpoint;
pub use constraint::TokenConstraint;
pub use generate::{Detokenize, FinishReason, GenerateConfig, Generation, Sampling, generate, generate_constrained};
pub use optim::{AdamW, AdamWConfig};
pub use schedule::{Decay, Schedule};
pub use train::{Finish, Flow, Observer, Resumed, Silent, StepReport, TrainConfig, TrainSummary, Trainer};
