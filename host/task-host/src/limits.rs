//! The caps a plugin runs under. Each one bounds a way a plugin, by mistake or on purpose,
//! could stall or exhaust the host; [`Limits::default`] lists them with the failure each
//! prevents, as wasmtime's `WasiCtxBuilder::new` documents its defaults.

use std::time::Duration;

/// Per-call and per-instance caps. Nothing is unbounded: a field not listed here does not
/// exist, and a plugin gets no resource that is not capped by one of these.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Fuel (roughly, wasm instructions) per call.
    pub fuel_per_call: u64,
    /// Wall-clock time per call, enforced by epoch interruption.
    pub deadline_per_call: Duration,
    /// Linear memory per instance, all memories of the component together, in bytes.
    pub memory_per_instance: usize,
    /// Elements per table.
    pub table_elements: usize,
    /// Bytes of text one call may return: every string of the result together.
    pub output_bytes: usize,
    /// Messages `format-example` may return.
    pub messages: usize,
    /// Counts one `score` may return.
    pub counts: usize,
    /// Bytes one request to `wasi:random` may ask for.
    pub random_bytes: u64,
    /// Bytes written to the plugin's log file per loaded plugin: its stdout and stderr, its
    /// error texts and the host's notes about it.
    pub log_bytes: u64,
}

impl Default for Limits {
    /// The defaults, each with the failure it prevents:
    ///
    /// - `fuel_per_call`: 5·10⁹, a few seconds of work — a loop that never ends stops
    ///   deterministically, at the same instruction on every machine.
    /// - `deadline_per_call`: 10 s — bounds wall time where fuel does not, so a call cannot
    ///   hold a run hostage.
    /// - `memory_per_instance`: 256 MiB — a memory bomb traps instead of exhausting the host
    ///   (values the host copies out are bounded by this too).
    /// - `table_elements`: 2²⁰ — table growth cannot be used to allocate host memory that
    ///   the memory cap does not see.
    /// - `output_bytes`: 1 MiB — a huge result is refused before it is parsed, logged or
    ///   fed to a tokenizer.
    /// - `messages`: 16 — a prompt is a handful of messages; thousands would be a bug.
    /// - `counts`: 4096 — counts are kept for every record until `aggregate`, so they must
    ///   not grow with the note.
    /// - `random_bytes`: 1 MiB — without it one `get-random-bytes` call may make the host
    ///   allocate 64 MiB.
    /// - `log_bytes`: 4 MiB — a chatty or hostile plugin cannot fill the disk of the work
    ///   folder; output beyond it is dropped with one marker line.
    fn default() -> Self {
        Limits {
            fuel_per_call: 5_000_000_000,
            deadline_per_call: Duration::from_secs(10),
            memory_per_instance: 256 << 20,
            table_elements: 1 << 20,
            output_bytes: 1 << 20,
            messages: 16,
            counts: 4096,
            random_bytes: 1 << 20,
            log_bytes: 4 << 20,
        }
    }
}
