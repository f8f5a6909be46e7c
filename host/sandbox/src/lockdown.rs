//! Kernel enforcement, once the run's inputs are open: Landlock and seccomp.
//!
//! Both bind the calling thread and the threads it starts later, not threads
//! that already exist (Landlock's all-threads flag needs ABI 8). So
//! [`lock_down`] must run on the main thread before any pool starts (tokenizers,
//! rayon, GEMM threads, wasmtime's epoch ticker); in strict mode it checks that
//! the process has exactly one thread and refuses otherwise.
//!
//! - Landlock: read-only access beneath the model, data and plugin paths and a
//!   short list of system paths; read-write beneath the work and export folders;
//!   nothing else. TCP bind and connect are handled with no port allowed, and
//!   abstract Unix sockets outside the process are out of scope of its domain.
//! - seccomp: `socket` fails with `EACCES` for every family but `AF_UNIX`
//!   (Landlock does not cover UDP, raw or netlink sockets), and `io_uring_setup`
//!   fails (io_uring can open sockets without the `socket` system call).

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// How much protection a run demands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    /// Landlock ABI ≥ 4 (filesystem and TCP) and seccomp are required; the run
    /// refuses to start without them.
    Strict,
    /// Apply what the kernel offers and say what is missing.
    BestEffort,
}

/// The Landlock ABI needed for strict mode: 4 is the first with TCP rules.
pub const STRICT_LANDLOCK_ABI: i32 = 4;

/// System paths a run reads: shared libraries, CPU topology for thread pools,
/// and the process's own `/proc` entries.
pub const SYSTEM_READ_PATHS: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/proc/self",
    "/sys/devices/system/cpu",
    "/sys/fs/cgroup",
    "/dev/null",
    "/dev/urandom",
];

/// Make every file and folder the process creates from now on private to its owner (umask
/// `077`): files a run writes may hold record text (plugin logs, predictions, checkpoints,
/// caches, temporary files), and a mode set file by file would miss the next one added.
pub fn owner_only_files() {
    // SAFETY: umask only replaces the process's file-creation mask; it cannot fail.
    unsafe { libc::umask(0o077) };
}

/// Turn a file-size limit (`ulimit -f`) from a kill into an error: with `SIGXFSZ` ignored, a
/// write past the limit fails with `EFBIG`, which the export rolls back and the run reports,
/// instead of the signal ending the process with a half-written file.
pub fn file_size_limit_as_error() {
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler code.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
}

/// What this kernel offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Protections {
    /// The Landlock ABI version, or `None` when Landlock is unavailable.
    pub landlock_abi: Option<i32>,
    /// Whether seccomp filters can be installed.
    pub seccomp: bool,
}

impl Protections {
    /// Ask the kernel, without changing anything.
    pub fn probe() -> Self {
        // SAFETY: LANDLOCK_CREATE_RULESET_VERSION with a null attribute only
        // returns the ABI version; no file descriptor is created.
        let abi = unsafe {
            libc::syscall(libc::SYS_landlock_create_ruleset, std::ptr::null::<u8>(), 0usize, 1u32)
        };
        // SAFETY: PR_GET_SECCOMP takes no pointer arguments.
        let seccomp = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) } >= 0;
        Protections { landlock_abi: (abi > 0).then_some(abi as i32), seccomp }
    }

    /// Whether strict mode can run here.
    pub fn meets_strict(&self) -> bool {
        self.landlock_abi.is_some_and(|abi| abi >= STRICT_LANDLOCK_ABI) && self.seccomp
    }
}

/// The paths a run may use once locked down.
#[derive(Debug, Clone, Default)]
pub struct Roots {
    /// Read beneath these (model, data, plugin, recipe, component cache).
    pub read_only: Vec<PathBuf>,
    /// Read and write beneath these (work and export folders).
    pub read_write: Vec<PathBuf>,
}

/// What was applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// The mode asked for.
    pub mode: SandboxMode,
    /// The Landlock ABI enforced, if any.
    pub landlock_abi: Option<i32>,
    /// Whether TCP bind/connect are denied by Landlock.
    pub tcp_denied: bool,
    /// Whether the seccomp socket filter is installed.
    pub seccomp_socket_filter: bool,
    /// What is missing, in words (empty when everything is in force).
    pub missing: Vec<String>,
}

/// Lock the process down to `roots`, with no network. Irreversible.
pub fn lock_down(roots: &Roots, mode: SandboxMode) -> Result<Report> {
    let offered = Protections::probe();
    if mode == SandboxMode::Strict {
        if !offered.meets_strict() {
            return Err(Error::Lockdown(format!(
                "strict sandbox needs Landlock ABI ≥ {STRICT_LANDLOCK_ABI} and seccomp; this kernel offers Landlock {} and seccomp {}",
                offered.landlock_abi.map_or("none".to_owned(), |abi| format!("ABI {abi}")),
                if offered.seccomp { "yes" } else { "no" }
            )));
        }
        let threads = thread_count()?;
        if threads != 1 {
            return Err(Error::Lockdown(format!(
                "the process has {threads} threads: lock down must happen before any thread starts"
            )));
        }
    }
    let mut missing = Vec::new();
    let landlock_abi = match offered.landlock_abi {
        Some(abi) => {
            landlock(roots, abi)?;
            Some(abi)
        }
        None => {
            missing.push("Landlock is not available: file access and TCP are not restricted".to_owned());
            None
        }
    };
    let tcp_denied = landlock_abi.is_some_and(|abi| abi >= STRICT_LANDLOCK_ABI);
    if landlock_abi.is_some() && !tcp_denied {
        missing.push("Landlock is older than ABI 4: TCP is not restricted".to_owned());
    }
    let seccomp_socket_filter = offered.seccomp;
    if seccomp_socket_filter {
        socket_filter()?;
    } else {
        missing.push("seccomp is not available: non-TCP sockets are not restricted".to_owned());
    }
    Ok(Report { mode, landlock_abi, tcp_denied, seccomp_socket_filter, missing })
}

fn landlock(roots: &Roots, abi: i32) -> Result<()> {
    use landlock::{
        ABI, Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreatedAttr, Scope, path_beneath_rules,
    };
    let abi = ABI::from(abi);
    let fail = |e: landlock::RulesetError| Error::Lockdown(format!("landlock: {e}"));
    let read_only = roots.read_only.iter().map(PathBuf::as_path).chain(SYSTEM_READ_PATHS.iter().map(std::path::Path::new));
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.handle_access(AccessNet::from_all(abi)))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(read_only, AccessFs::from_read(abi))))
        .and_then(|r| r.add_rules(path_beneath_rules(&roots.read_write, AccessFs::from_all(abi))))
        .and_then(|r| r.restrict_self())
        .map_err(fail)?;
    tracing::debug!(?status.ruleset, "landlock applied");
    Ok(())
}

fn socket_filter() -> Result<()> {
    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    };
    let fail = |e: seccompiler::Error| Error::Lockdown(format!("seccomp: {e}"));
    let not_unix = SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, libc::AF_UNIX as u64)
        .map_err(|e| fail(e.into()))?;
    let rules: BTreeMap<i64, Vec<SeccompRule>> = [
        (libc::SYS_socket, vec![SeccompRule::new(vec![not_unix]).map_err(|e| fail(e.into()))?]),
        (libc::SYS_io_uring_setup, vec![]),
    ]
    .into_iter()
    .collect();
    let arch = std::env::consts::ARCH.try_into().map_err(|e: seccompiler::BackendError| fail(e.into()))?;
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::EACCES as u32), arch)
        .map_err(|e| fail(e.into()))?;
    let program: BpfProgram = filter.try_into().map_err(|e: seccompiler::BackendError| fail(e.into()))?;
    seccompiler::apply_filter_all_threads(&program).map_err(fail)
}

fn thread_count() -> Result<usize> {
    let tasks = std::fs::read_dir("/proc/self/task").map_err(|e| Error::io("cannot count threads in", "/proc/self/task", e))?;
    Ok(tasks.count())
}
