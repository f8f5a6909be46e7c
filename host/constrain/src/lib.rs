//! `rapha-constrain`: schema-constrained decoding. A task plugin's output JSON Schema becomes
//! a token mask at every generation step, so every answer is JSON that fits the schema, up to
//! the token cap (an answer cut by the cap is still cut).
//!
//! llguidance compiles the schema into a grammar and computes each step's mask over the
//! model's vocabulary, which `toktrie_hf_tokenizers` reads from the tokenizer. Answers are held
//! to compact JSON (`,` and `:` without white space), the form the plugins' targets take, so
//! the adapter and the mask agree on what comes next.

mod error;
mod schema;

pub use error::{Error, Result};
pub use schema::{SchemaConstraint, SchemaDecoding};
