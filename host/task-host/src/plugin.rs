//! `TaskPlugin`: load a component, check it, and call it under the limits.
//!
//! One instance serves many calls. A trap (fuel, deadline, memory, `exit`, a panic)
//! discards it, and the next call makes a fresh one, whose `info` must equal the one read
//! at load. A guest error (the plugin's own `task-error`) keeps the instance: the plugin
//! returned normally.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Store, Trap, UpdateDeadline};
use wasmtime_wasi::I32Exit;

use crate::bindings::{self, wit};
use crate::cache::CacheStatus;
use crate::contract;
use crate::denials::{DenialLog, Denials};
use crate::engine::{EPOCH_TICK, HostInner, TaskHost};
use crate::error::{Call, Error, GuestErrorKind, Result, Site, TrapKind, plain_pointer};
use crate::preflight;
use crate::log::PluginLog;
use crate::schema::{OutputSchema, SchemaViolation};
use crate::stats::{CallStats, CallSummary, Stats};
use crate::types::{ExampleScore, FormattedExample, Metric, TaskInfo, Violation};
use crate::wasi::{CallRandom, Sandbox};

/// The largest component loaded: Python and JavaScript components, which carry their
/// interpreter, are tens of MiB; a larger file is refused before it is read whole.
const MAX_COMPONENT_BYTES: u64 = 256 << 20;

/// The longest host reason kept in a [`TrapKind::Host`]; the full error is in the log.
const MAX_HOST_REASON: usize = 200;

/// A loaded task plugin with its instance.
///
/// Calls take `&mut self`: an instance runs one call at a time. For parallel work, make
/// more handles with [`TaskPlugin::fresh`]; each has its own instance.
pub struct TaskPlugin {
    loaded: Arc<Loaded>,
    run_seed: u64,
    random: CallRandom,
    denials: Arc<DenialLog>,
    live: Option<Live>,
    instances: u64,
    stats: Stats,
}

/// What every handle of one loaded component shares.
struct Loaded {
    host: Arc<HostInner>,
    path: PathBuf,
    sha256: [u8; 32],
    cache_status: CacheStatus,
    wit: String,
    pre: bindings::TaskPluginPre<Sandbox>,
    info: TaskInfo,
    schema: OutputSchema,
    log: PluginLog,
    stop: Option<Arc<AtomicBool>>,
}

struct Live {
    store: Store<Sandbox>,
    plugin: bindings::TaskPlugin,
}

/// Who is being called, before `info` names the plugin.
struct Identity<'a> {
    plugin: String,
    version: Option<String>,
    wit: &'a str,
}

impl Identity<'_> {
    fn site(&self, call: Call, record: Option<u64>) -> Site {
        Site {
            plugin: self.plugin.clone(),
            version: self.version.clone(),
            wit: self.wit.to_owned(),
            call,
            record,
        }
    }
}

impl TaskPlugin {
    /// Load the component at `path`: check its exported WIT version, its imports and its
    /// function sizes from its bytes, compile it (or take it from the cache), make an
    /// instance, and check its `info` (metric names, output JSON Schema).
    pub fn load(host: &TaskHost, path: impl AsRef<Path>) -> Result<TaskPlugin> {
        let path = path.as_ref();
        let inner = &host.inner;
        let bytes = rapha_sandbox::input::read_capped(path, MAX_COMPONENT_BYTES).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let wit = preflight::check(&bytes, path)?;
        let sha256: [u8; 32] = Sha256::digest(&bytes).into();
        let (component, cache_status) = inner.cache.load(&inner.engine, &sha256, || {
            // An interpreter's component (CPython is ~20 MB) takes tens of seconds: say why,
            // under the CLI's target, whose info lines the operator sees by default.
            tracing::info!(
                target: "rapha_host::plugin",
                plugin = %path.display(),
                mebibytes = format!("{:.1}", bytes.len() as f64 / f64::from(1u32 << 20)),
                "compiling the plugin (first use of this build; cached afterwards)"
            );
            Component::from_binary(&inner.engine, &bytes).map_err(|error| Error::Compile {
                path: path.to_owned(),
                source: error.into_boxed_dyn_error(),
            })
        })?;
        let instantiate_error = |error: wasmtime::Error| Error::Instantiate {
            path: path.to_owned(),
            source: error.into_boxed_dyn_error(),
        };
        let pre = inner.linker.instantiate_pre(&component).map_err(instantiate_error)?;
        let pre = bindings::TaskPluginPre::new(pre).map_err(instantiate_error)?;
        let log = PluginLog::open(&inner.log_dir, path, inner.limits.log_bytes)?;
        log.section(&format!(
            "loaded `{}` (sha256 {}, rapha:task@{wit}, compiled component cache: {cache_status:?})",
            path.display(),
            hex::encode(sha256)
        ));

        let random = CallRandom::new(host.run_seed);
        let denials = Arc::new(DenialLog::new(log.clone()));
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let identity = Identity {
            plugin: file_name,
            version: None,
            wit: &wit,
        };
        let mut stats = Stats::default();
        let guard = Guard { host: inner, log: &log, denials: &denials, random: &random, stop: host.stop.as_ref() };
        let (live, info) = instantiate(&guard, &pre, &identity, &mut stats)?;
        let info = TaskInfo::from(info);
        let schema = contract::check_info(&info, path)?;
        tracing::info!(
            plugin = %info.id,
            version = %info.version,
            wit = %wit,
            cache = ?cache_status,
            "loaded task plugin"
        );
        Ok(TaskPlugin {
            loaded: Arc::new(Loaded {
                host: inner.clone(),
                path: path.to_owned(),
                sha256,
                cache_status,
                wit,
                pre,
                info,
                schema,
                log,
                stop: host.stop.clone(),
            }),
            run_seed: host.run_seed,
            random,
            denials,
            live: Some(live),
            instances: 1,
            stats,
        })
    }

    /// Another handle to the same loaded component, with its own fresh instance, random
    /// source, denial counts and statistics. Its `info` must equal this one's.
    pub fn fresh(&self) -> Result<TaskPlugin> {
        let log = self.loaded.log.clone();
        let mut plugin = TaskPlugin {
            loaded: self.loaded.clone(),
            run_seed: self.run_seed,
            random: CallRandom::new(self.run_seed),
            denials: Arc::new(DenialLog::new(log)),
            live: None,
            instances: 0,
            stats: Stats::default(),
        };
        plugin.ensure_instance()?;
        Ok(plugin)
    }

    /// What the plugin declared at load.
    pub fn info(&self) -> &TaskInfo {
        &self.loaded.info
    }

    /// The declared output schema, compiled.
    pub fn schema(&self) -> &OutputSchema {
        &self.loaded.schema
    }

    /// The WIT version the plugin exports, e.g. `0.1.0`.
    pub fn wit_version(&self) -> &str {
        &self.loaded.wit
    }

    /// The component's path.
    pub fn path(&self) -> &Path {
        &self.loaded.path
    }

    /// The sha256 of the component's bytes, in hex.
    pub fn sha256(&self) -> String {
        hex::encode(self.loaded.sha256)
    }

    /// Whether the compiled component came from the cache.
    pub fn cache_status(&self) -> CacheStatus {
        self.loaded.cache_status
    }

    /// The plugin's log file: its output and error texts.
    pub fn log_path(&self) -> &Path {
        self.loaded.log.path()
    }

    /// The last `lines` lines the plugin wrote during its latest call (a trap's message, such
    /// as a Python traceback's last line). Plugin text, which may quote a record: for an
    /// author's commands on the author's data; a run leaves it in the log.
    pub fn last_words(&self, lines: usize) -> Vec<String> {
        self.loaded.log.call_tail(lines)
    }

    /// The attempts this handle's instances made at what they are not given.
    pub fn denials(&self) -> Denials {
        self.denials.snapshot()
    }

    /// How many instances this handle has made (one more after every trap).
    pub fn instances(&self) -> u64 {
        self.instances
    }

    /// The cost of the last completed call.
    pub fn last_call(&self) -> Option<&CallStats> {
        self.stats.last()
    }

    /// The costs of every completed call of one kind.
    pub fn summary(&self, call: Call) -> Option<&CallSummary> {
        self.stats.summary(call)
    }

    /// `format-example`: turn the record at index `record` (JSON text) into prompt messages
    /// and the target completion.
    pub fn format_example(&mut self, record: u64, example: &str) -> Result<FormattedExample> {
        let site = self.site(Call::FormatExample, Some(record));
        let result = self.call(&site, |plugin, store| {
            plugin.rapha_task_task().call_format_example(store, example)
        })?;
        let formatted = FormattedExample::from(self.guest_result(&site, result)?);
        contract::check_formatted(&formatted, self.limits(), &site)?;
        Ok(formatted)
    }

    /// `score`: per-record metrics and counts for `prediction` against the record.
    pub fn score(&mut self, record: u64, prediction: &str, example: &str) -> Result<ExampleScore> {
        let site = self.site(Call::Score, Some(record));
        let result = self.call(&site, |plugin, store| {
            plugin.rapha_task_task().call_score(store, prediction, example)
        })?;
        let score = ExampleScore::from(self.guest_result(&site, result)?);
        contract::check_score(&score, &self.loaded.info, self.limits(), &site)?;
        Ok(score)
    }

    /// `aggregate`: corpus metrics from per-record scores, in dataset order.
    pub fn aggregate(&mut self, scores: &[ExampleScore]) -> Result<Vec<Metric>> {
        let site = self.site(Call::Aggregate, None);
        let scores: Vec<wit::ExampleScore> = scores.iter().map(Into::into).collect();
        let result = self.call(&site, |plugin, store| {
            plugin.rapha_task_task().call_aggregate(store, &scores)
        })?;
        let metrics: Vec<Metric> = self
            .guest_result(&site, result)?
            .into_iter()
            .map(Metric::from)
            .collect();
        contract::check_metrics(&metrics, &self.loaded.info, self.limits(), &site)?;
        Ok(metrics)
    }

    /// `reward`: a number in [0, 1] for `prediction` against the record.
    pub fn reward(&mut self, record: u64, prediction: &str, example: &str) -> Result<f64> {
        let site = self.site(Call::Reward, Some(record));
        let result = self.call(&site, |plugin, store| {
            plugin.rapha_task_task().call_reward(store, prediction, example)
        })?;
        let reward = self.guest_result(&site, result)?;
        contract::check_reward(reward, &site)?;
        Ok(reward)
    }

    /// `validate`: the task's own rules for a prediction of the record at `record`.
    /// `Ok(Err(violation))` is the plugin's answer; the reason is also written to the log.
    pub fn validate(&mut self, record: u64, prediction: &str) -> Result<Result<(), Violation>> {
        let site = self.site(Call::Validate, Some(record));
        let result = self.call(&site, |plugin, store| {
            plugin.rapha_task_task().call_validate(store, prediction)
        })?;
        match result {
            Ok(()) => Ok(Ok(())),
            Err(violation) => {
                let violation = Violation::from(violation);
                contract::check_violation(&violation, self.limits(), &site)?;
                self.loaded.log.note(&format!(
                    "{site}: violation at `{}`: {}",
                    violation.path, violation.reason
                ));
                Ok(Err(violation))
            }
        }
    }

    /// Check a prediction against the declared output schema (the host's check; the
    /// plugin's `validate` covers what a schema cannot express).
    pub fn validate_output(&self, prediction: &str) -> Result<(), SchemaViolation> {
        self.loaded.schema.validate(prediction)
    }

    /// The declared output schema, checked at load.
    pub fn output_schema(&self) -> &crate::schema::OutputSchema {
        &self.loaded.schema
    }

    fn limits(&self) -> &crate::limits::Limits {
        &self.loaded.host.limits
    }

    fn site(&self, call: Call, record: Option<u64>) -> Site {
        Site {
            plugin: self.loaded.info.id.clone(),
            version: Some(self.loaded.info.version.clone()),
            wit: self.loaded.wit.clone(),
            call,
            record,
        }
    }

    fn ensure_instance(&mut self) -> Result<()> {
        if self.live.is_some() {
            return Ok(());
        }
        let identity = Identity {
            plugin: self.loaded.info.id.clone(),
            version: Some(self.loaded.info.version.clone()),
            wit: &self.loaded.wit,
        };
        let loaded = &self.loaded;
        let guard = Guard {
            host: &loaded.host,
            log: &loaded.log,
            denials: &self.denials,
            random: &self.random,
            stop: loaded.stop.as_ref(),
        };
        let (live, info) = instantiate(&guard, &loaded.pre, &identity, &mut self.stats)?;
        self.instances += 1;
        if TaskInfo::from(info) != loaded.info {
            return Err(Error::InvalidOutput {
                site: Box::new(identity.site(Call::Info, None)),
                reason: "a fresh instance declares a different `info` than the one read at load; \
                         the plugin is not deterministic"
                    .to_owned(),
            });
        }
        self.live = Some(live);
        Ok(())
    }

    /// Run one call on the instance (made first if there is none) under the limits.
    fn call<R>(
        &mut self,
        site: &Site,
        f: impl FnOnce(&bindings::TaskPlugin, &mut Store<Sandbox>) -> wasmtime::Result<R>,
    ) -> Result<R> {
        self.ensure_instance()?;
        let live = self.live.as_mut().expect("ensure_instance made an instance");
        let guard = Guard {
            host: &self.loaded.host,
            log: &self.loaded.log,
            denials: &self.denials,
            random: &self.random,
            stop: self.loaded.stop.as_ref(),
        };
        let plugin = &live.plugin;
        let result = guard.run(&mut live.store, site, &mut self.stats, |store| f(plugin, store));
        if result.is_err() {
            // A trapped instance may be in any state: never call it again.
            self.live = None;
        }
        result
    }

    /// A guest's `task-error` as an [`Error::Guest`]; its text goes to the log only.
    fn guest_result<T>(&self, site: &Site, result: Result<T, wit::TaskError>) -> Result<T> {
        result.map_err(|error| {
            let (kind, text) = match error {
                wit::TaskError::InvalidJson(text) => (GuestErrorKind::InvalidJson, text),
                wit::TaskError::MissingField(field) => (
                    GuestErrorKind::MissingField {
                        field: plain_pointer(&field),
                    },
                    field,
                ),
                wit::TaskError::InvalidField(field) => match plain_pointer(&field.field) {
                    // A plain pointer is shown by the kind; a withheld one goes to the log.
                    Some(shown) => (GuestErrorKind::InvalidField { field: Some(shown) }, field.reason),
                    None => (
                        GuestErrorKind::InvalidField { field: None },
                        format!("field `{}`: {}", field.field, field.reason),
                    ),
                },
                wit::TaskError::Other(text) => (GuestErrorKind::Other, text),
            };
            self.loaded.log.note(&format!("{site}: {kind}: {text}"));
            // Returned to the caller, who reports it; tracing only notes it.
            tracing::debug!(error_kind = %kind, "{site}: the plugin returned an error");
            Error::Guest {
                site: Box::new(site.clone()),
                kind,
                log: self.loaded.log.path().to_owned(),
            }
        })
    }
}

/// Make an instance and read its `info`, each under the per-call limits `guard` sets.
fn instantiate(
    guard: &Guard<'_>,
    pre: &bindings::TaskPluginPre<Sandbox>,
    identity: &Identity<'_>,
    stats: &mut Stats,
) -> Result<(Live, wit::TaskInfo)> {
    let host = guard.host;
    let sandbox = Sandbox::new(&host.limits, guard.log, Arc::clone(guard.denials), guard.random);
    let mut store = Store::new(&host.engine, sandbox);
    store.limiter(|sandbox| &mut sandbox.limiter);
    let plugin = guard.run(&mut store, &identity.site(Call::Instantiate, None), stats, |store| {
        pre.instantiate(store)
    })?;
    let info = guard.run(&mut store, &identity.site(Call::Info, None), stats, |store| {
        plugin.rapha_task_task().call_info(store)
    })?;
    Ok((Live { store, plugin }, info))
}

/// What one guarded call needs.
struct Guard<'a> {
    host: &'a HostInner,
    log: &'a PluginLog,
    denials: &'a Arc<DenialLog>,
    random: &'a CallRandom,
    /// Set by a signal handler: the call stops at the next epoch tick.
    stop: Option<&'a Arc<AtomicBool>>,
}

impl Guard<'_> {
    /// Set fuel, deadline and random stream, run `f`, and turn a failure into a trap
    /// naming `site`; record the call's cost.
    fn run<R>(
        &self,
        store: &mut Store<Sandbox>,
        site: &Site,
        stats: &mut Stats,
        f: impl FnOnce(&mut Store<Sandbox>) -> wasmtime::Result<R>,
    ) -> Result<R> {
        self.host.start_epoch_ticker()?;
        let limits = &self.host.limits;
        store
            .set_fuel(limits.fuel_per_call)
            .expect("fuel is enabled in the engine configuration");
        let mut ticks_left = limits.deadline_per_call.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) + 1;
        let stop = self.stop.cloned();
        // Called at every epoch tick: the deadline counts down, and a stop request ends the call.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if stop.as_ref().is_some_and(|stop| stop.load(Ordering::Relaxed)) {
                return Err(wasmtime::Error::new(Stopped));
            }
            ticks_left -= 1;
            if ticks_left == 0 {
                return Err(Trap::Interrupt.into());
            }
            Ok(UpdateDeadline::Continue(1))
        });
        store.data_mut().limiter.refused = false;
        self.random.reseed(site.record);
        self.denials.begin_call(site.clone());
        self.log.begin_call();

        let start = Instant::now();
        let result = f(store);
        let time = start.elapsed();

        self.denials.end_call(result.is_err());
        let fuel = limits.fuel_per_call
            - store.get_fuel().expect("fuel is enabled in the engine configuration");
        let memory_bytes = store.data().limiter.total;
        match result {
            Ok(value) => {
                stats.record(CallStats {
                    call: site.call,
                    record: site.record,
                    time,
                    fuel,
                    memory_bytes,
                });
                Ok(value)
            }
            Err(error) => {
                let kind = classify(&error, store.data().limiter.refused, limits);
                // The full error (with the guest's backtrace) goes to the plugin's log;
                // the operator sees the kind.
                self.log.note(&format!("{site}: {kind}: {error:?}"));
                tracing::debug!(trap = %kind, "{site}: plugin stopped; its instance is discarded");
                Err(Error::Trap {
                    site: Box::new(site.clone()),
                    kind,
                })
            }
        }
    }
}

/// Why a call ended when its host asked it to stop.
#[derive(Debug)]
struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stopped on request")
    }
}

impl std::error::Error for Stopped {}

fn classify(error: &wasmtime::Error, memory_refused: bool, limits: &crate::limits::Limits) -> TrapKind {
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return TrapKind::Exit { code: exit.0 };
    }
    if error.downcast_ref::<Stopped>().is_some() {
        return TrapKind::Stopped;
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => TrapKind::Fuel {
            budget: limits.fuel_per_call,
        },
        Some(Trap::Interrupt) => TrapKind::Deadline {
            limit: limits.deadline_per_call,
        },
        _ if memory_refused => TrapKind::Memory {
            cap: limits.memory_per_instance,
        },
        Some(trap) => TrapKind::Wasm {
            trap: trap.to_string(),
        },
        None => {
            let mut reason = error.root_cause().to_string();
            if reason.len() > MAX_HOST_REASON {
                let mut end = MAX_HOST_REASON;
                while !reason.is_char_boundary(end) {
                    end -= 1;
                }
                reason.truncate(end);
                reason.push('…');
            }
            TrapKind::Host { reason }
        }
    }
}
