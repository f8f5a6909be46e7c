//! `rapha-task-host`: run task plugins (WASI components) with nothing but their inputs.
//!
//! A task plugin turns dataset records into prompts and scores predictions. Plugins are
//! written by hospitals in any language that targets WASI components, and they run on
//! machines that hold patient text, so the host treats every plugin as hostile:
//!
//! 1. [`TaskHost::new`] configures the one wasmtime engine (fuel and epoch interruption
//!    on, see `engine.rs`) and the deny-all WASI linker (`imports.rs`).
//! 2. [`TaskPlugin::load`] reads the component, compiles it or takes it from the on-disk
//!    cache (`cache.rs`, checksum verified before wasmtime sees the bytes), reads its type
//!    to refuse a wrong WIT version or an import outside the granted WASI set, makes an
//!    instance, and checks what `info` declares (metric names, output JSON Schema).
//! 3. Each call ([`TaskPlugin::format_example`], [`TaskPlugin::score`], …) runs under a
//!    fuel budget, a wall-clock deadline and a memory cap ([`Limits`]), with the random
//!    source reseeded from (run seed, record index) so the call is deterministic. Results
//!    are checked against size caps and the declared metrics.
//!
//! What a plugin gets from WASI: empty environment and arguments, no directories, a
//! closed stdin, stdout and stderr into a size-capped log file in the work folder, a fixed
//! clock, seeded randomness, and `access-denied` for sockets and name lookup. Every
//! attempt at those is counted ([`TaskPlugin::denials`]) and logged by name.
//!
//! What stays out of the terminal and tracing: anything a plugin writes or returns as
//! text (its output streams, its error strings, its violation reasons) may quote patient
//! text. It goes to the plugin's log file only; errors name the plugin, its version, the
//! call, the record index and the kind of failure.
//!
//! This crate does not know recipes, datasets or models; the `rapha-host` binary maps
//! those onto [`Limits`] and calls.
//!
//! Start with [`TaskHost`] and [`TaskPlugin`].

#![warn(missing_docs)]

mod bindings;
mod cache;
mod contract;
mod denials;
mod duplicate_keys;
mod engine;
mod error;
mod imports;
mod limits;
mod log;
mod plugin;
mod preflight;
mod schema;
mod stats;
mod types;
mod wasi;

pub use cache::CacheStatus;
pub use denials::{Attempt, Denials};
pub use engine::TaskHost;
pub use error::{Call, Error, GuestErrorKind, Result, Site, TrapKind};
pub use imports::{SUPPORTED_WIT, SUPPORTED_WIT_RANGE};
pub use limits::Limits;
pub use plugin::TaskPlugin;
pub use schema::{OutputSchema, SchemaViolation};
pub use stats::{CallStats, CallSummary};
pub use types::{
    Count, ExampleScore, FormattedExample, GenerationHints, Message, Metric, MetricInfo, Role,
    TaskInfo, Violation,
};
