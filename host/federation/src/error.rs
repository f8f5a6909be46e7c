//! What can go wrong, naming the site, module and tensor concerned.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no adapter to aggregate")]
    Empty,
    #[error("site `{site}`: expected a positive number of training examples, found 0")]
    NoExamples { site: String },
    #[error("site `{site}`: LoRA `{field}` is {found}, the first site's is {expected}: every site trains the same adapter shape")]
    Config { site: String, field: &'static str, expected: String, found: String },
    #[error("site `{site}`: adapted modules differ from the first site's: only there {only_first:?}, only here {only_site:?}")]
    Modules { site: String, only_first: Vec<String>, only_site: Vec<String> },
    #[error("site `{site}`: `{module}` {tensor}: expected shape {expected:?}, found {found:?}")]
    Shape { site: String, module: String, tensor: &'static str, expected: Vec<usize>, found: Vec<usize> },
    #[error("site `{site}`: `{module}` {tensor} holds a value that is not finite")]
    NotFinite { site: String, module: String, tensor: &'static str },
    #[error(
        "site `{site}`: `{module}` lora_A differs from the first site's: FFA-LoRA trains only B over the \
         federation's shared A, so this site did not start from the round's global adapter"
    )]
    SharedA { site: String, module: String },
    #[error("`{path}`: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("cannot write `{path}`: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("signature refused: {0}")]
    Signature(String),
    #[error(transparent)]
    Engine(#[from] rapha_engine::Error),
    #[error("tensor operation: {0}")]
    Tensor(#[from] candle_core::Error),
}
