//! What each call cost: wall time, fuel, and the instance's memory.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::Call;

/// The cost of one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallStats {
    /// Which call.
    pub call: Call,
    /// The record, for per-record calls.
    pub record: Option<u64>,
    /// Wall time inside the component.
    pub time: Duration,
    /// Fuel consumed.
    pub fuel: u64,
    /// The instance's linear memory after the call, in bytes. Linear memory never
    /// shrinks, so this is the instance's peak so far.
    pub memory_bytes: usize,
}

/// The costs of every completed call of one kind, summed and maximised.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallSummary {
    /// Calls completed (without a trap).
    pub calls: u64,
    /// Total wall time.
    pub total_time: Duration,
    /// Longest single call.
    pub max_time: Duration,
    /// Total fuel.
    pub total_fuel: u64,
    /// Most fuel in a single call.
    pub max_fuel: u64,
    /// Largest instance memory seen after a call, in bytes.
    pub peak_memory_bytes: usize,
}

impl CallSummary {
    /// Mean wall time per call.
    pub fn mean_time(&self) -> Duration {
        match u32::try_from(self.calls) {
            Ok(0) => Duration::ZERO,
            Ok(calls) => self.total_time / calls,
            Err(_) => Duration::from_secs_f64(self.total_time.as_secs_f64() / self.calls as f64),
        }
    }

    fn add(&mut self, stats: &CallStats) {
        self.calls += 1;
        self.total_time += stats.time;
        self.max_time = self.max_time.max(stats.time);
        self.total_fuel += stats.fuel;
        self.max_fuel = self.max_fuel.max(stats.fuel);
        self.peak_memory_bytes = self.peak_memory_bytes.max(stats.memory_bytes);
    }
}

/// Per-call summaries of one plugin.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stats {
    last: Option<CallStats>,
    summaries: BTreeMap<Call, CallSummary>,
}

impl Stats {
    pub(crate) fn record(&mut self, stats: CallStats) {
        self.summaries.entry(stats.call).or_default().add(&stats);
        self.last = Some(stats);
    }

    pub(crate) fn last(&self) -> Option<&CallStats> {
        self.last.as_ref()
    }

    pub(crate) fn summary(&self, call: Call) -> Option<&CallSummary> {
        self.summaries.get(&call)
    }
}
