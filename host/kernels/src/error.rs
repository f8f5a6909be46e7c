//! The kernels' error type: every variant says what was being computed.

/// Result with the kernels' [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in a kernel's set-up (an op's own failures are candle errors).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor operation failed; `context` names the layer or tensor.
    #[error("{context}: {source}")]
    Candle {
        /// What was being computed.
        context: String,
        /// The underlying candle error.
        #[source]
        source: candle_core::Error,
    },
    /// A frozen linear layer was given a tensor of the wrong shape.
    #[error("frozen linear {what}: expected shape {expected}, found {found}")]
    LinearShape {
        /// Which tensor: `weight`, `bias` or `input`.
        what: &'static str,
        /// The shape wanted.
        expected: String,
        /// The shape given.
        found: String,
    },
}

/// Context for candle errors, computed only on error.
pub(crate) trait CandleContext<T> {
    /// Wrap a candle error with `context`.
    fn context_with(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> CandleContext<T> for candle_core::Result<T> {
    fn context_with(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Candle { context: context(), source })
    }
}
