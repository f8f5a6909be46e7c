//! Errors of the task host, on two levels as Zed's extension host keeps them: a *trap*
//! (the plugin was stopped: fuel, deadline, memory, `exit`, a panic) and a *guest error*
//! (the plugin returned its own `task-error`). Both name the plugin, its version, the WIT
//! version, the call and the record index through [`Site`]; neither carries the plugin's
//! text, which may quote patient data and goes to the plugin's log file instead.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Result of the task host.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error from wasmtime, kept as the source of ours.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error of the task host.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// wasmtime refused the engine configuration (an unsupported host CPU, for example).
    #[error("cannot configure the wasmtime engine")]
    EngineConfig {
        /// wasmtime's reason.
        #[source]
        source: BoxError,
    },
    /// The host's linker could not be built (a bug: the WASI definitions clash).
    #[error("cannot build the WASI linker")]
    Linker {
        /// wasmtime's reason.
        #[source]
        source: BoxError,
    },
    /// The component file could not be read.
    #[error("plugin `{}`: cannot read the component", path.display())]
    Read {
        /// The component's path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// wasmtime could not compile the file: it is not a component, or not valid wasm.
    #[error("plugin `{}`: cannot compile the component", path.display())]
    Compile {
        /// The component's path.
        path: PathBuf,
        /// wasmtime's reason.
        #[source]
        source: BoxError,
    },
    /// The compiled-component cache could not be written.
    #[error("component cache `{}`: cannot {action}", path.display())]
    Cache {
        /// The cache file or folder.
        path: PathBuf,
        /// What was attempted, e.g. "create the folder".
        action: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The component exports no `rapha:task/task` interface.
    #[error(
        "plugin `{}`: exports no `rapha:task/task` interface; found {}",
        path.display(),
        list_or_none(exports)
    )]
    MissingExport {
        /// The component's path.
        path: PathBuf,
        /// What it exports instead.
        exports: Vec<String>,
    },
    /// The component is larger than its compilation may cost.
    #[error("plugin `{}`: {what} exceeds the limit of {limit}: compiling it would take minutes and gigabytes", path.display())]
    Oversized {
        /// The component's path.
        path: PathBuf,
        /// What is too large.
        what: String,
        /// The limit.
        limit: String,
    },
    /// The component exports `rapha:task/task` at a version this host does not support.
    #[error("plugin `{}`: exports `{export}`; this host supports {supported}", path.display())]
    Incompatible {
        /// The component's path.
        path: PathBuf,
        /// The export found, e.g. `rapha:task/task@0.3.0`.
        export: String,
        /// The supported range, e.g. `0.1.x`.
        supported: &'static str,
    },
    /// The component imports something outside the granted WASI set.
    #[error(
        "plugin `{}`: imports {}, which this host does not grant \
         (granted: wasi:cli, wasi:clocks, wasi:filesystem, wasi:io, wasi:random and \
         wasi:sockets at 0.2.x, all empty or denied)",
        path.display(),
        list_or_none(imports)
    )]
    ForbiddenImport {
        /// The component's path.
        path: PathBuf,
        /// Every import outside the set, e.g. `wasi:http/outgoing-handler@0.2.6`.
        imports: Vec<String>,
    },
    /// The component could not be linked or instantiated (before any call ran).
    #[error("plugin `{}`: cannot instantiate", path.display())]
    Instantiate {
        /// The component's path.
        path: PathBuf,
        /// wasmtime's reason.
        #[source]
        source: BoxError,
    },
    /// What `info` declares breaks the contract (names, counts, sizes, the schema).
    #[error("plugin `{}`: `info` is invalid: {reason}", path.display())]
    InvalidInfo {
        /// The component's path.
        path: PathBuf,
        /// What rule was broken.
        reason: String,
    },
    /// The plugin was stopped: the instance is discarded and the next call gets a fresh one.
    #[error("{site}: {kind}")]
    Trap {
        /// Where.
        site: Box<Site>,
        /// Why it was stopped.
        kind: TrapKind,
    },
    /// The plugin returned its own `task-error`; its text is in the plugin's log file.
    #[error("{site}: {kind} (the plugin's message is in `{}`)", log.display())]
    Guest {
        /// Where.
        site: Box<Site>,
        /// The error's variant.
        kind: GuestErrorKind,
        /// The plugin's log file, which holds the message.
        log: PathBuf,
    },
    /// A returned value exceeds a cap of [`crate::Limits`].
    #[error("{site}: {what} is too large: expected at most {limit}, found {found}")]
    OutputTooLarge {
        /// Where.
        site: Box<Site>,
        /// What was measured, e.g. "completion and messages (bytes)".
        what: &'static str,
        /// The cap.
        limit: usize,
        /// The measured size.
        found: usize,
    },
    /// A metric the plugin did not declare in `info` was returned.
    #[error("{site}: returned metric {}, which `info` does not declare", shown_name(name, *len))]
    UndeclaredMetric {
        /// The name, when it is a valid metric name; withheld otherwise.
        name: Option<String>,
        /// The name's length in bytes.
        len: usize,
        /// Where.
        site: Box<Site>,
    },
    /// A metric or reward value is NaN or infinite.
    #[error("{site}: `{name}` is not finite: found `{value}`")]
    NonFinite {
        /// Where.
        site: Box<Site>,
        /// The metric's name, or `reward`.
        name: String,
        /// The value.
        value: f64,
    },
    /// A returned value breaks the contract in another way (message order, reward range).
    #[error("{site}: {reason}")]
    InvalidOutput {
        /// Where.
        site: Box<Site>,
        /// The rule broken, written by the host.
        reason: String,
    },
    /// The thread that advances the epoch (the wall-clock deadline) could not start.
    #[error("cannot start the epoch ticker thread")]
    EpochTicker {
        /// Why.
        #[source]
        source: Arc<io::Error>,
    },
    /// The plugin's log file could not be opened.
    #[error("cannot open the plugin log `{}`", path.display())]
    Log {
        /// The log file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Where the error happened, for errors raised by a call.
    pub fn site(&self) -> Option<&Site> {
        match self {
            Error::Trap { site, .. }
            | Error::Guest { site, .. }
            | Error::OutputTooLarge { site, .. }
            | Error::UndeclaredMetric { site, .. }
            | Error::NonFinite { site, .. }
            | Error::InvalidOutput { site, .. } => Some(site),
            _ => None,
        }
    }
}

/// A call of the WIT interface, named as in the WIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Call {
    /// Making an instance: running the component's start code, then `info`.
    Instantiate,
    /// `info`.
    Info,
    /// `format-example`.
    FormatExample,
    /// `score`.
    Score,
    /// `aggregate`.
    Aggregate,
    /// `reward`.
    Reward,
    /// `validate`.
    Validate,
}

impl Call {
    /// Every call, in the WIT's order.
    pub const ALL: [Call; 7] = [
        Call::Instantiate,
        Call::Info,
        Call::FormatExample,
        Call::Score,
        Call::Aggregate,
        Call::Reward,
        Call::Validate,
    ];

    /// The WIT name, e.g. `format-example`.
    pub fn name(self) -> &'static str {
        match self {
            Call::Instantiate => "instantiate",
            Call::Info => "info",
            Call::FormatExample => "format-example",
            Call::Score => "score",
            Call::Aggregate => "aggregate",
            Call::Reward => "reward",
            Call::Validate => "validate",
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a call failed: plugin id, its version, the WIT version, the call, the record.
///
/// Displays as ``plugin `icd-coding` 0.1.0 (rapha:task@0.1.0), call `score`, record 37``.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    /// The plugin's id, or its file name while `info` has not been read yet.
    pub plugin: String,
    /// The plugin's own version; `None` while `info` has not been read yet.
    pub version: Option<String>,
    /// The WIT version the plugin exports, e.g. `0.1.0`.
    pub wit: String,
    /// The call.
    pub call: Call,
    /// The record's index in its dataset, for per-record calls.
    pub record: Option<u64>,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin `{}`", self.plugin)?;
        if let Some(version) = &self.version {
            write!(f, " {version}")?;
        }
        write!(f, " (rapha:task@{}), call `{}`", self.wit, self.call)?;
        if let Some(record) = self.record {
            write!(f, ", record {record}")?;
        }
        Ok(())
    }
}

/// Why a plugin was stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrapKind {
    /// The call used its whole fuel budget (a loop that does not end, or too much work).
    Fuel {
        /// The budget per call.
        budget: u64,
    },
    /// The call ran past its wall-clock deadline.
    Deadline {
        /// The deadline per call.
        limit: Duration,
    },
    /// The instance asked for more linear memory than its cap.
    Memory {
        /// The cap per instance, in bytes.
        cap: usize,
    },
    /// The plugin called `wasi:cli/exit`.
    Exit {
        /// The exit code.
        code: i32,
    },
    /// A wasm trap: a Rust panic ends in `unreachable`, or a bad memory access.
    Wasm {
        /// wasmtime's description of the trap.
        trap: String,
    },
    /// A failure in the host while serving the call (a host function or lifting a value).
    Host {
        /// The host's reason.
        reason: String,
    },
    /// The host was asked to stop (a signal) while the call ran.
    Stopped,
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrapKind::Fuel { budget } => {
                write!(f, "ran out of fuel: the budget is {budget} per call")
            }
            TrapKind::Deadline { limit } => write!(
                f,
                "exceeded the deadline: the limit is {} ms per call",
                limit.as_millis()
            ),
            TrapKind::Memory { cap } => write!(
                f,
                "exceeded the memory cap: the limit is {cap} bytes per instance"
            ),
            TrapKind::Exit { code } => write!(f, "called `exit` with code {code}"),
            TrapKind::Wasm { trap } => write!(f, "panicked or trapped: {trap}"),
            TrapKind::Host { reason } => write!(f, "failed in the host: {reason}"),
            TrapKind::Stopped => f.write_str("stopped: the run was asked to stop"),
        }
    }
}

/// The variant of a plugin's `task-error`. The variant's text stays in the plugin's log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GuestErrorKind {
    /// `invalid-json`: the input was not a JSON object, or not JSON.
    InvalidJson,
    /// `missing-field`: a required field of the record is absent.
    MissingField {
        /// The field's JSON Pointer when it is a plain pointer (segments of
        /// `[A-Za-z0-9_-]`); withheld otherwise, since the plugin wrote it.
        field: Option<String>,
    },
    /// `invalid-field`: a field is present but unusable.
    InvalidField {
        /// The field's JSON Pointer, under the same rule as for `missing-field`.
        field: Option<String>,
    },
    /// `other`: anything else.
    Other,
}

impl fmt::Display for GuestErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = |f: &mut fmt::Formatter<'_>, field: &Option<String>| match field {
            Some(field) => write!(f, " `{field}`"),
            None => Ok(()),
        };
        match self {
            GuestErrorKind::InvalidJson => f.write_str("invalid JSON"),
            GuestErrorKind::MissingField { field: name } => {
                f.write_str("missing field")?;
                field(f, name)
            }
            GuestErrorKind::InvalidField { field: name } => {
                f.write_str("invalid field")?;
                field(f, name)
            }
            GuestErrorKind::Other => f.write_str("other error"),
        }
    }
}

/// A JSON Pointer written by the plugin, kept only when it is a plain pointer: 1 to 8
/// segments of 1 to 64 characters of `[A-Za-z0-9_-]`. Anything else could carry text
/// copied from the record, so it is withheld from messages.
pub(crate) fn plain_pointer(pointer: &str) -> Option<String> {
    let segments: Vec<&str> = pointer.strip_prefix('/')?.split('/').collect();
    let plain = (1..=8).contains(&segments.len())
        && segments.iter().all(|segment| {
            (1..=64).contains(&segment.len())
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    plain.then(|| pointer.to_owned())
}

fn shown_name(name: &Option<String>, len: usize) -> String {
    match name {
        Some(name) => format!("`{name}`"),
        None => format!("with an invalid name ({len} bytes, withheld)"),
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "nothing".to_owned()
    } else {
        names
            .iter()
            .map(|name| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_names_plugin_version_wit_call_and_record() {
        let site = Site {
            plugin: "icd-coding".to_owned(),
            version: Some("0.1.0".to_owned()),
            wit: "0.1.0".to_owned(),
            call: Call::FormatExample,
            record: Some(37),
        };
        assert_eq!(
            site.to_string(),
            "plugin `icd-coding` 0.1.0 (rapha:task@0.1.0), call `format-example`, record 37"
        );
    }

    #[test]
    fn plain_pointers_are_shown_and_free_text_is_withheld() {
        assert_eq!(plain_pointer("/trial/inclusion").as_deref(), Some("/trial/inclusion"));
        assert_eq!(plain_pointer("/codes/2").as_deref(), Some("/codes/2"));
        assert_eq!(plain_pointer("note"), None);
        assert_eq!(plain_pointer("/Mrs Smith, 64, with chest pain"), None);
        assert_eq!(plain_pointer(""), None);
        assert_eq!(plain_pointer("/"), None);
    }
}
