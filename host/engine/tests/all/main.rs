//! rapha-engine's integration tests: one binary, one module per topic.
#![allow(clippy::unwrap_used, reason = "test code, helpers included: a failed unwrap is a failed test")]

/// Paths to fixtures and the real model; numeric comparison helpers.
mod util;

/// SmolLM2-135M-Instruct against transformers' reference outputs: tokens, chat
/// template, f32 logits and greedy tokens, NF4 agreement, weights fingerprint.
mod parity;

/// Tiny random-weight Llama 3, Qwen2 and Mistral models against transformers; KV-cache
/// decoding against full recomputation; Hugging Face directory loading errors.
mod tiny_models;

/// GGUF files built in the test: loading, q/k un-permutation, and malformed headers
/// rejected by name without panicking.
mod gguf_files;

/// The `tiny` synthetic Llama with seeded random weights (`rapha_engine::testing`), and seeded
/// training records.
mod random_model;

/// The training loop: resume bit for bit, loss definition, checkpointing and chunked loss
/// against the plain path, NaN handling, evaluation.
mod training;

/// The logits, three training steps and greedy tokens of a seeded tiny model, pinned bit
/// for bit per CPU kind against `tests/data/behaviour.json`.
mod behaviour;

/// Decoding: KV cache against full recomputation, batching with left padding, stop strings,
/// EOS, seeded sampling.
mod generation;

/// PEFT adapters: one written by PEFT reproduces its logits, merging, round trip, refusals.
mod adapters;

/// One short QLoRA run on the real SmolLM2 (skipped without the model file, except in CI).
mod real_training;
