//! The one wasmtime `Engine`, configured with reasons, and the host that owns it.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use wasmtime::{Config, Engine, OptLevel};

use crate::cache::ComponentCache;
use crate::error::{Error, Result};
use crate::imports;
use crate::limits::Limits;
use crate::wasi::Sandbox;

/// How often the epoch advances. The deadline of a call is rounded up to whole ticks, so
/// this is the precision of [`Limits::deadline_per_call`].
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The component host: one engine, one linker, the limits, the cache and log folders.
///
/// Cheap to clone; every [`crate::TaskPlugin`] loaded through it shares the engine.
#[derive(Clone)]
pub struct TaskHost {
    pub(crate) inner: Arc<HostInner>,
    pub(crate) run_seed: u64,
    pub(crate) stop: Option<Arc<AtomicBool>>,
}

pub(crate) struct HostInner {
    pub(crate) engine: Engine,
    pub(crate) linker: wasmtime::component::Linker<Sandbox>,
    pub(crate) limits: Limits,
    pub(crate) cache: ComponentCache,
    pub(crate) log_dir: PathBuf,
    ticker: OnceLock<Result<(), Arc<std::io::Error>>>,
}

impl TaskHost {
    /// A host with `limits`, caching compiled components under `cache_dir` (for the CLI,
    /// `<work>/cache/components`) and writing plugin logs under `log_dir` (`<work>/logs`).
    ///
    /// The run seed is 0; set it with [`TaskHost::with_run_seed`].
    pub fn new(limits: Limits, cache_dir: impl Into<PathBuf>, log_dir: impl Into<PathBuf>) -> Result<Self> {
        let engine = new_engine()?;
        let linker = imports::linker(&engine)?;
        let cache = ComponentCache::new(cache_dir.into(), &engine);
        Ok(TaskHost {
            inner: Arc::new(HostInner {
                engine,
                linker,
                limits,
                cache,
                log_dir: log_dir.into(),
                ticker: OnceLock::new(),
            }),
            run_seed: 0,
            stop: None,
        })
    }

    /// The same host with `seed` as the run seed: every call's randomness is derived from
    /// it and the record's index. Plugins loaded afterwards use it.
    pub fn with_run_seed(self, seed: u64) -> Self {
        TaskHost {
            run_seed: seed,
            ..self
        }
    }

    /// Stop every call of the plugins loaded through this host, within one epoch tick (10 ms),
    /// once `stop` is set (a signal handler's flag): a call that loops under a long deadline
    /// must not keep a run from stopping. The call fails as [`crate::TrapKind::Stopped`].
    pub fn with_stop(self, stop: Arc<AtomicBool>) -> Self {
        TaskHost { stop: Some(stop), ..self }
    }

    /// The limits every plugin of this host runs under.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The run seed.
    pub fn run_seed(&self) -> u64 {
        self.run_seed
    }

    /// Where compiled components are cached.
    pub fn cache_dir(&self) -> &Path {
        self.inner.cache.dir()
    }

    /// Where plugin logs are written.
    pub fn log_dir(&self) -> &Path {
        &self.inner.log_dir
    }
}

impl HostInner {
    /// Start the thread that advances the epoch, once, on the first call.
    ///
    /// Not at engine creation: the run locks its sandbox down before plugins are called,
    /// and a thread started then inherits the lockdown. The thread holds only a weak
    /// reference, so it ends once the engine and every store using it are dropped.
    pub(crate) fn start_epoch_ticker(&self) -> Result<()> {
        let started = self.ticker.get_or_init(|| {
            let engine = self.engine.weak();
            thread::Builder::new()
                .name("rapha-epoch-ticker".to_owned())
                .spawn(move || {
                    loop {
                        thread::sleep(EPOCH_TICK);
                        match engine.upgrade() {
                            Some(engine) => engine.increment_epoch(),
                            None => break,
                        }
                    }
                })
                .map(drop)
                .map_err(Arc::new)
        });
        started
            .clone()
            .map_err(|source| Error::EpochTicker { source })
    }
}

/// The engine configuration, each setting with its reason.
fn new_engine() -> Result<Engine> {
    let mut config = Config::new();
    // Plugins are components (the contract is WIT); core modules are not accepted.
    config.wasm_component_model(true);
    // Fuel bounds the work of a call deterministically: a loop stops at the same
    // instruction on every machine, so a failing record fails the same way everywhere.
    config.consume_fuel(true);
    // Epochs bound wall time where fuel cannot (a slow host call, a slow machine);
    // a ticker thread advances them (see `start_epoch_ticker`).
    config.epoch_interruption(true);
    // Plugins are called per record, many thousand times a run: compile for speed.
    config.cranelift_opt_level(OptLevel::Speed);
    Engine::new(&config).map_err(|error| Error::EngineConfig {
        source: error.into_boxed_dyn_error(),
    })
}
