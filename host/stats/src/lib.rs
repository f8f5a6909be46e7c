//! `rapha-stats`: what `compare` says about evaluation metrics, per record and paired.
//!
//! - [`bootstrap`]: the mean of a per-record metric with a percentile interval from a
//!   bootstrap that resamples clusters (a patient's records together), and the mean paired
//!   difference between two candidates with its interval and a two-sided p-value.
//! - [`mcnemar`]: the exact McNemar test for 0/1 metrics on the same records.
//! - [`holm`]: Holm's step-down adjustment of p-values across metrics.
//! - [`power`]: the smallest paired difference a sample of this size would detect.
//! - [`roc`]: how well a score separates two groups (membership inference): AUC and the
//!   true-positive rate at a low false-positive rate, with bootstrap intervals.
//!
//! Every resampling is seeded, so a comparison is reproducible.

pub mod bootstrap;
mod error;
pub mod holm;
pub mod mcnemar;
pub mod power;
pub mod roc;

pub use error::{Error, Result};
