//! `rapha-sandbox`: what may leave the building, and the kernel locks that make
//! the rule hold.
//!
//! # Threat model, in brief
//! A run reads clinical text and writes two folders: a work folder that stays on
//! the machine, and an export folder whose content is meant to leave. The risk is
//! that patient text reaches the export folder, by a bug, a malicious plugin or an
//! operator's slip, or that the process talks to the network. Enforced here:
//!
//! - [`ExportDir`]: the only way to write to the export folder. Plain file names,
//!   an allow-list of types ([`Policy`]), size caps, content checks per type
//!   ([`inspect`]), atomic create-new writes, a [`Manifest`] of hashes, and a scan
//!   that refuses anything in the folder the gate did not write.
//! - [`disclosure`]: what an exported number may be: counts under the small-cell rule, a
//!   plugin's metrics rounded and capped, so the metric channel carries a stated number of
//!   bits.
//! - [`input`]: inputs as regular files read up to a cap, never a FIFO or a device.
//! - [`AuditLog`]: an append-only record, in the work folder, of every decision.
//! - [`lockdown`]: Landlock (file access limited to the run's roots, TCP
//!   bind/connect denied) and seccomp (no socket but `AF_UNIX`), applied to the
//!   process before any thread starts.
//!
//! # Out of scope
//! Bits hidden in the low-order bits of adapter weights, and memorisation of
//! training text by the weights themselves, pass these checks: the gate checks
//! structure and plain content, not information-theoretic leakage. Memorisation
//! is measured by the privacy audit, not here.
#![warn(missing_docs)]

mod audit;
pub mod disclosure;
mod error;
mod export_dir;
pub mod input;
pub mod inspect;
pub mod lockdown;
mod manifest;
mod policy;
mod verbatim;

pub use audit::{AuditLog, Decision};
pub use disclosure::Count;
pub use error::{Error, Refusal, Result};
pub use export_dir::ExportDir;
pub use inspect::AdapterSpec;
pub use manifest::{Manifest, ManifestFile, ManifestInputs, InputHash};
pub use policy::{FileKind, Policy};
pub use verbatim::VerbatimIndex;
