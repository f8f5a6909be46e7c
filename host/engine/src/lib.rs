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
#![warn(missing_docs)]

mod error;

pub use error::{Error, Result};
