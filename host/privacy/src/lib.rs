//! `rapha-privacy`: what DP-SGD spends, in (ε, δ).
//!
//! Each optimizer step of DP-SGD samples privacy units independently with probability `q`
//! (Poisson sampling), clips each unit's gradient to `C` and adds Gaussian noise of standard
//! deviation `σ·C` to the sum: a Poisson-subsampled Gaussian mechanism. Its privacy loss is
//! tracked in Rényi differential privacy (Mironov 2017), where steps compose by addition, and
//! converted to (ε, δ) at the end:
//!
//! - [`rdp`]: the RDP of one step at each order α (Mironov, Talwar & Zhang 2019, the analysis
//!   Opacus's and Google's `dp-accounting` RDP accountants implement);
//! - [`conversion`]: RDP to ε at δ, minimised over the orders (Balle et al. 2020's bound);
//! - [`Accountant`]: the steps taken so far, which survive a resume and compose across runs;
//! - [`calibrate`]: the smallest noise multiplier whose planned steps stay within a target ε.

pub mod accountant;
pub mod calibrate;
pub mod conversion;
mod error;
mod logspace;
pub mod rdp;

pub use accountant::{Accountant, Spent};
pub use error::{Error, Result};

/// The orders α at which RDP is evaluated: `dp-accounting`'s default grid (1.1 to 10.9 in
/// tenths, the integers 11 to 63, then 128, 256, 512 and 1024). Fine near 1, where small ε are
/// found, and reaching far enough for the large ε of few, noisy steps.
pub fn default_orders() -> Vec<f64> {
    let tenths = (11..110).map(|k| f64::from(k) / 10.0);
    let integers = (11..64).map(f64::from);
    let powers = [128.0, 256.0, 512.0, 1024.0];
    tenths.chain(integers).chain(powers).collect()
}
