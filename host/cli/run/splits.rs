//! A run's three datasets, read in order so that ids and texts are checked across them.

use rapha_sandbox::VerbatimIndex;

use crate::stages::data::Dataset;

/// The training, validation and test records of a run.
pub struct Splits {
    /// Trains the adapter.
    pub train: Dataset,
    /// Drives evaluation during training and early stopping.
    pub val: Dataset,
    /// The final base-against-adapter comparison.
    pub test: Dataset,
    /// Lines or records skipped under `data.max_rejected`.
    pub skipped: u64,
    /// Every text read, as runs of words: what no export may copy.
    pub verbatim: VerbatimIndex,
}

impl Splits {
    /// The three, in order.
    pub fn all(&self) -> [&Dataset; 3] {
        [&self.train, &self.val, &self.test]
    }
}
