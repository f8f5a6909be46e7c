//! What a comparison refuses.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Inputs a statistic cannot be computed from.
#[derive(Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No records.
    #[error("no records to compute {what} from")]
    Empty {
        /// The statistic.
        what: &'static str,
    },
    /// Per-record values and their clusters (or two candidates' values) differ in length.
    #[error("{what}: {left} values against {right}")]
    Lengths {
        /// What was paired.
        what: &'static str,
        /// One side's length.
        left: usize,
        /// The other's.
        right: usize,
    },
    /// A value that is not a finite number.
    #[error("{what}: value {index} is not a finite number")]
    NotFinite {
        /// Which values.
        what: &'static str,
        /// Its index.
        index: usize,
    },
}
