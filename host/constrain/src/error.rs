//! What can go wrong in setting constrained decoding up.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A schema or a tokenizer that constrained decoding cannot use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The model's tokenizer could not be read as a vocabulary of byte strings.
    #[error("constrained decoding cannot read the model's tokenizer: {0}")]
    Tokenizer(String),
    /// The schema uses what the grammar compiler does not support, or is unsatisfiable.
    #[error("the output schema cannot constrain decoding: {0}")]
    Schema(String),
    /// The engine failed (serialising the tokenizer).
    #[error(transparent)]
    Engine(#[from] rapha_engine::Error),
}
