//! What an instance's WASI context holds: nothing of the host's.
//!
//! Built on `wasmtime_wasi::WasiCtxBuilder`, whose defaults already give no environment,
//! no arguments, no preopened directories and a closed stdin. On top of those, this sets
//! a fixed wall clock and monotonic clock, a ChaCha20 random source reseeded before every
//! call from (run seed, record index), stdout and stderr into the plugin's log file, TCP,
//! UDP and name lookup off, and a socket-address check that refuses everything. The hooks
//! record every attempt in the plugin's [`DenialLog`].

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chacha20::ChaCha20Rng;
use chacha20::rand_core::{SeedableRng, TryRng};
use sha2::{Digest, Sha256};
use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::denials::{Attempt, DenialLog};
use crate::limits::Limits;
use crate::log::{GuestStream, PluginLog};

/// The wall-clock time every plugin sees: 2024-01-01T00:00:00Z.
pub(crate) const FIXED_WALL_CLOCK: Duration = Duration::from_secs(1_704_067_200);

/// The store data of one instance.
pub(crate) struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) denials: Arc<DenialLog>,
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl Sandbox {
    /// A context for one instance; `random` is the plugin's seeded source, reseeded per call.
    pub(crate) fn new(limits: &Limits, log: &PluginLog, denials: Arc<DenialLog>, random: &CallRandom) -> Self {
        let mut builder = WasiCtxBuilder::new();
        builder
            .stdout(GuestStream(log.clone()))
            .stderr(GuestStream(log.clone()))
            .wall_clock(FixedWallClock(denials.clone()))
            .monotonic_clock(FixedMonotonicClock(denials.clone()))
            .secure_random(random.secure.clone())
            .insecure_random(random.insecure.clone())
            .insecure_random_seed(random.insecure_seed)
            .max_random_size(limits.random_bytes)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let check = denials.clone();
        builder.socket_addr_check(move |_address, _use| {
            check.record(Attempt::SocketAddress);
            Box::pin(async { false })
        });
        Sandbox {
            wasi: builder.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limits),
            denials,
        }
    }

    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

/// Caps the linear memory of an instance (all its memories together) and its tables.
pub(crate) struct MemoryLimiter {
    cap: usize,
    table_elements: usize,
    /// Bytes of linear memory the instance holds now; memories never shrink, so this is
    /// also the instance's peak.
    pub(crate) total: usize,
    /// Set when a growth was refused during the current call; a trap that follows is
    /// reported as the memory cap rather than as the guest's reaction to it (a Rust guest
    /// aborts through `unreachable` when an allocation fails).
    pub(crate) refused: bool,
}

impl MemoryLimiter {
    fn new(limits: &Limits) -> Self {
        MemoryLimiter {
            cap: limits.memory_per_instance,
            table_elements: limits.table_elements,
            total: 0,
            refused: false,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.total - current.min(self.total) + desired;
        if total > self.cap {
            self.refused = true;
            return Ok(false);
        }
        self.total = total;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            self.refused = true;
            return Ok(false);
        }
        Ok(true)
    }
}

struct FixedWallClock(Arc<DenialLog>);

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        self.0.record(Attempt::WallClock);
        FIXED_WALL_CLOCK
    }
}

struct FixedMonotonicClock(Arc<DenialLog>);

impl HostMonotonicClock for FixedMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        self.0.record(Attempt::MonotonicClock);
        0
    }
}

/// The random sources of a plugin: ChaCha20 keyed by the run seed, one stream per record.
///
/// Before each call the host calls [`CallRandom::reseed`] with the record's index, so the
/// bytes a call gets depend on (run seed, record index) only — not on which instance serves
/// it or what ran before. Calls without a record (`info`, `aggregate`) use stream
/// `u64::MAX`.
#[derive(Clone)]
pub(crate) struct CallRandom {
    secure: SharedRng,
    insecure: SharedRng,
    insecure_seed: u128,
    secure_key: [u8; 32],
    insecure_key: [u8; 32],
}

impl CallRandom {
    pub(crate) fn new(run_seed: u64) -> Self {
        let secure_key = derive_key(run_seed, b"wasi:random/random");
        let insecure_key = derive_key(run_seed, b"wasi:random/insecure");
        let seed_key = derive_key(run_seed, b"wasi:random/insecure-seed");
        let mut insecure_seed = [0; 16];
        insecure_seed.copy_from_slice(&seed_key[..16]);
        CallRandom {
            secure: SharedRng::new(secure_key),
            insecure: SharedRng::new(insecure_key),
            insecure_seed: u128::from_le_bytes(insecure_seed),
            secure_key,
            insecure_key,
        }
    }

    /// Restart both sources at the stream of `record`.
    pub(crate) fn reseed(&self, record: Option<u64>) {
        let stream = record.unwrap_or(u64::MAX);
        self.secure.restart(self.secure_key, stream);
        self.insecure.restart(self.insecure_key, stream);
    }
}

fn derive_key(run_seed: u64, purpose: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"rapha-task-host random v1\0");
    hasher.update(purpose);
    hasher.update(run_seed.to_le_bytes());
    hasher.finalize().into()
}

/// A ChaCha20 generator shared between the WASI context (which owns a boxed RNG for the
/// instance's lifetime) and the host, which restarts it before every call.
#[derive(Clone)]
struct SharedRng(Arc<Mutex<ChaCha20Rng>>);

impl SharedRng {
    fn new(key: [u8; 32]) -> Self {
        SharedRng(Arc::new(Mutex::new(ChaCha20Rng::from_seed(key))))
    }

    fn restart(&self, key: [u8; 32], stream: u64) {
        let mut rng = ChaCha20Rng::from_seed(key);
        rng.set_stream(stream);
        *self.lock() = rng;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChaCha20Rng> {
        // A generator's state is valid between any two calls: a poisoned lock is usable.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TryRng for SharedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.lock().try_next_u32()
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.lock().try_next_u64()
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.lock().try_fill_bytes(dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::rand_core::Rng;

    fn bytes(random: &CallRandom) -> [u8; 16] {
        let mut out = [0; 16];
        random.secure.clone().fill_bytes(&mut out);
        out
    }

    #[test]
    fn same_record_gives_same_bytes_and_other_records_or_seeds_differ() {
        let random = CallRandom::new(7);
        random.reseed(Some(3));
        let first = bytes(&random);
        random.reseed(Some(3));
        assert_eq!(bytes(&random), first);
        random.reseed(Some(4));
        assert_ne!(bytes(&random), first);
        let other = CallRandom::new(8);
        other.reseed(Some(3));
        assert_ne!(bytes(&other), first);
    }

    #[test]
    fn the_memory_cap_counts_all_memories_together() {
        let limits = Limits {
            memory_per_instance: 100,
            ..Limits::default()
        };
        let mut limiter = MemoryLimiter::new(&limits);
        assert!(limiter.memory_growing(0, 60, None).expect("no error"));
        assert!(!limiter.memory_growing(0, 50, None).expect("no error"));
        assert!(limiter.refused);
        assert!(limiter.memory_growing(0, 40, None).expect("no error"));
        assert_eq!(limiter.total, 100);
    }
}
