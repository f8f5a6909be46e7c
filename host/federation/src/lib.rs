//! Several hospitals, one adapter: what the federation's server and sites compute in Rust.
//!
//! Flower moves the files; this crate does every tensor operation and every check on them.
//! [`aggregate`] merges the sites' adapters of one round (FFA-LoRA by default: every site
//! trains only `B` over the same frozen `A`, so the mean of the products is the product of
//! the mean, exactly; stacking, exact with a rank that grows with the sites; FedIT, the
//! inexact baseline whose error [`delta::relative_error`] reports). [`signing`] gives each
//! site an ed25519 key and signs what it sends, so the server can refuse a reply that is not
//! from a known site or not about the same model and task.

pub mod aggregate;
pub mod delta;
mod error;
pub mod signing;

pub use aggregate::{Contribution, Strategy, aggregate};
pub use error::{Error, Result};
