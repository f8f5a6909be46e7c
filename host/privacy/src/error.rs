//! What the accountant refuses.

/// An accountant's error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parameter outside its range, named as the caller knows it.
    #[error("`{name}`: expected {expected}, found {found}")]
    Parameter {
        /// The parameter (`q`, `noise_multiplier`, `delta`, …).
        name: &'static str,
        /// What it must be.
        expected: &'static str,
        /// The value given.
        found: f64,
    },
    /// No noise multiplier up to the search's ceiling meets the target.
    #[error(
        "no noise multiplier up to {ceiling} keeps {steps} steps at sampling rate {q} within ε = {target} (δ = {delta}); \
         take fewer steps, sample less, or allow a larger ε"
    )]
    Unreachable {
        /// The target ε.
        target: f64,
        /// δ.
        delta: f64,
        /// The sampling rate.
        q: f64,
        /// The steps planned.
        steps: u64,
        /// The largest multiplier tried.
        ceiling: f64,
    },
}

/// The crate's result.
pub type Result<T> = std::result::Result<T, Error>;
