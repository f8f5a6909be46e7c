//! The engine's error type: every variant says what was being loaded or computed.

use std::path::PathBuf;

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor operation failed; `context` names the layer or tensor.
    #[error("{context}: {source}")]
    Candle {
        /// What was being computed or loaded.
        context: String,
        /// The underlying candle error.
        #[source]
        source: candle_core::Error,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Attach a context string to candle results, as the engine's error.
pub(crate) trait CandleContext<T> {
    /// Wrap a candle error with `context` (computed only on error).
    fn context_with(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> CandleContext<T> for candle_core::Result<T> {
    fn context_with(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Candle { context: context(), source })
    }
}
