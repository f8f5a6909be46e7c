//! Attempts of a plugin to reach something it is not given, counted and logged by name.
//!
//! What the host can observe is what reaches it. A path-based filesystem call in a guest
//! fails inside the guest's libc, which finds no preopened directory, so what arrives is
//! the libc asking for the preopens (`wasi:filesystem/preopens.get-directories`); the
//! environment and arguments arrive as requests for the (empty) lists; a socket arrives as
//! a request to create one; a clock read or a sleep arrives as such. Each is recorded with
//! the call and record it happened in — never with any data of the plugin.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use crate::error::{Call, Site};
use crate::log::PluginLog;

/// Something a plugin tried and was not given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Attempt {
    /// Asked for preopened directories (what a file open does first); got none.
    FilesystemPreopens,
    /// Read the environment; got an empty list.
    Environment,
    /// Read the command-line arguments; got an empty list.
    Arguments,
    /// Read the initial working directory; got none.
    InitialCwd,
    /// Created a TCP socket; got `access-denied`.
    TcpSocket,
    /// Created a UDP socket; got `access-denied`.
    UdpSocket,
    /// Resolved a host name; got `access-denied`.
    NameLookup,
    /// Used a socket address; refused.
    SocketAddress,
    /// Read the wall clock; got the fixed time.
    WallClock,
    /// Read the monotonic clock; got the fixed instant.
    MonotonicClock,
    /// Waited on the monotonic clock (a sleep); returned at once.
    Sleep,
}

impl Attempt {
    /// The WASI function the attempt reached, e.g. `wasi:sockets/tcp-create-socket.create-tcp-socket`.
    pub fn name(self) -> &'static str {
        match self {
            Attempt::FilesystemPreopens => "wasi:filesystem/preopens.get-directories",
            Attempt::Environment => "wasi:cli/environment.get-environment",
            Attempt::Arguments => "wasi:cli/environment.get-arguments",
            Attempt::InitialCwd => "wasi:cli/environment.initial-cwd",
            Attempt::TcpSocket => "wasi:sockets/tcp-create-socket.create-tcp-socket",
            Attempt::UdpSocket => "wasi:sockets/udp-create-socket.create-udp-socket",
            Attempt::NameLookup => "wasi:sockets/ip-name-lookup.resolve-addresses",
            Attempt::SocketAddress => "wasi:sockets socket address",
            Attempt::WallClock => "wasi:clocks/wall-clock.now",
            Attempt::MonotonicClock => "wasi:clocks/monotonic-clock.now",
            Attempt::Sleep => "wasi:clocks/monotonic-clock.subscribe",
        }
    }

    /// What the plugin got instead.
    pub fn outcome(self) -> &'static str {
        match self {
            Attempt::FilesystemPreopens => "no directories",
            Attempt::Environment | Attempt::Arguments => "an empty list",
            Attempt::InitialCwd => "none",
            Attempt::TcpSocket | Attempt::UdpSocket | Attempt::NameLookup => "access-denied",
            Attempt::SocketAddress => "refused",
            Attempt::WallClock => "the fixed time",
            Attempt::MonotonicClock => "the fixed instant",
            Attempt::Sleep => "an immediate wake-up",
        }
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A snapshot of the attempts counted for one loaded plugin, across its instances.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Denials {
    counts: BTreeMap<Attempt, u64>,
    /// Where each attempt made inside a call that returned was first made (`call
    /// `format-example`, record 2`). Attempts while an instance starts, outside any call,
    /// are not here, nor those while an instance starts — its start code and `info`, the
    /// first call into it, where CPython reads its environment and arguments — or those of a
    /// call that trapped (a panicking Rust guest reads the environment
    /// on its way down, and the trap is what went wrong).
    first_in_call: BTreeMap<Attempt, String>,
}

impl Denials {
    /// How many times `attempt` was made.
    pub fn count(&self, attempt: Attempt) -> u64 {
        self.counts.get(&attempt).copied().unwrap_or(0)
    }

    /// Every attempt made at least once, with its count.
    pub fn iter(&self) -> impl Iterator<Item = (Attempt, u64)> + '_ {
        self.counts.iter().map(|(attempt, count)| (*attempt, *count))
    }

    /// Whether nothing was attempted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// All attempts together.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// These and `other`'s together (two handles of one plugin): counts summed, each
    /// attempt placed where `self` first saw it, else where `other` did.
    pub fn merged(&self, other: &Denials) -> Denials {
        let mut merged = self.clone();
        for (attempt, count) in other.iter() {
            *merged.counts.entry(attempt).or_insert(0) += count;
        }
        for (attempt, at) in other.in_calls() {
            merged.first_in_call.entry(attempt).or_insert_with(|| at.to_owned());
        }
        merged
    }

    /// Each attempt made inside a call, with where it was first made.
    pub fn in_calls(&self) -> impl Iterator<Item = (Attempt, &str)> + '_ {
        self.first_in_call.iter().map(|(attempt, site)| (*attempt, site.as_str()))
    }
}

/// The shared record of attempts: the WASI hooks of every instance of a plugin write to
/// it, with the call in progress set by the plugin before each call.
pub(crate) struct DenialLog {
    state: Mutex<State>,
    log: PluginLog,
}

struct State {
    counts: Denials,
    site: Option<Site>,
    /// Where each attempt of the running call was made, kept when it returns.
    pending: BTreeMap<Attempt, String>,
}

impl DenialLog {
    pub(crate) fn new(log: PluginLog) -> Self {
        DenialLog {
            state: Mutex::new(State {
                counts: Denials::default(),
                site: None,
                pending: BTreeMap::new(),
            }),
            log,
        }
    }

    /// The call now starting, named in what is recorded.
    pub(crate) fn begin_call(&self, site: Site) {
        let mut state = self.lock();
        state.site = Some(site);
        state.pending.clear();
    }

    /// The running call ended; its attempts' sites are kept unless it `trapped`.
    pub(crate) fn end_call(&self, trapped: bool) {
        let mut state = self.lock();
        state.site = None;
        let pending = std::mem::take(&mut state.pending);
        if !trapped {
            for (attempt, place) in pending {
                state.counts.first_in_call.entry(attempt).or_insert(place);
            }
        }
    }

    /// Count `attempt` and log it: every time to the plugin's log, the first time of each
    /// kind also to tracing (a plugin that reads the clock per record would otherwise
    /// flood the operator's log).
    pub(crate) fn record(&self, attempt: Attempt) {
        let mut state = self.lock();
        let count = state.counts.counts.entry(attempt).or_insert(0);
        *count += 1;
        let first = *count == 1;
        let site = match &state.site {
            Some(site) => site.to_string(),
            None => "outside a call".to_owned(),
        };
        if let Some(at) = state.site.as_ref().filter(|at| !matches!(at.call, Call::Instantiate | Call::Info)) {
            let place = match at.record {
                Some(record) => format!("call `{}`, record {record}", at.call),
                None => format!("call `{}`", at.call),
            };
            state.pending.entry(attempt).or_insert(place);
        }
        drop(state);
        self.log.note(&format!(
            "denied `{}` ({}): {}",
            attempt.name(),
            attempt.outcome(),
            site
        ));
        if first {
            tracing::warn!(
                attempt = attempt.name(),
                outcome = attempt.outcome(),
                "{site}: plugin attempted something it is not given"
            );
        }
    }

    pub(crate) fn snapshot(&self) -> Denials {
        self.lock().counts.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a counter map and a label: a panic while it was held cannot leave
        // it inconsistent, so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn site(record: u64) -> Site {
        Site { plugin: "p".to_owned(), version: None, wit: "0.1.0".to_owned(), call: Call::FormatExample, record: Some(record) }
    }

    /// An attempt is placed at the first call that made it and returned; those outside any
    /// call, in an instance's start code or in a trapped call are counted but not placed.
    #[test]
    fn attempts_are_placed_at_calls_that_returned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = DenialLog::new(PluginLog::open(dir.path(), Path::new("p.wasm"), 1 << 20).expect("log"));
        log.record(Attempt::Environment);
        for call in [Call::Instantiate, Call::Info] {
            log.begin_call(Site { call, record: None, ..site(0) });
            log.record(Attempt::Environment);
            log.end_call(false);
        }
        log.begin_call(site(4));
        log.record(Attempt::Environment);
        log.end_call(true);
        log.begin_call(site(5));
        log.record(Attempt::WallClock);
        log.end_call(false);
        log.begin_call(site(6));
        log.record(Attempt::WallClock);
        log.record(Attempt::Environment);
        log.end_call(false);
        let denials = log.snapshot();
        assert_eq!((denials.count(Attempt::Environment), denials.count(Attempt::WallClock)), (5, 2));
        let placed: Vec<(Attempt, &str)> = denials.in_calls().collect();
        assert_eq!(
            placed,
            [(Attempt::Environment, "call `format-example`, record 6"), (Attempt::WallClock, "call `format-example`, record 5")]
        );
    }

    /// Two handles' attempts together: counts summed, the first handle's places kept.
    #[test]
    fn merged_denials_sum_counts_and_keep_the_first_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let open = || DenialLog::new(PluginLog::open(dir.path(), Path::new("p.wasm"), 1 << 20).expect("log"));
        let (warm, fresh) = (open(), open());
        warm.begin_call(site(1));
        warm.record(Attempt::WallClock);
        warm.end_call(false);
        fresh.begin_call(site(2));
        fresh.record(Attempt::WallClock);
        fresh.record(Attempt::TcpSocket);
        fresh.end_call(false);
        let merged = warm.snapshot().merged(&fresh.snapshot());
        assert_eq!((merged.count(Attempt::WallClock), merged.count(Attempt::TcpSocket)), (2, 1));
        let placed: Vec<(Attempt, &str)> = merged.in_calls().collect();
        assert_eq!(placed, [(Attempt::TcpSocket, "call `format-example`, record 2"), (Attempt::WallClock, "call `format-example`, record 1")]);
    }
}
