//! A command's confinement outside a run (`predict`, `eval`): its inputs checked to exist,
//! the work folder made private, the process locked down to them (inputs read-only, the work
//! folder writable, no network) while it has one thread, and SIGINT and SIGTERM caught in a
//! flag the command checks between batches.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use rapha_sandbox::lockdown::{self, Roots, SandboxMode};

/// The confined command's work folder (canonical) and its stop flag.
pub struct Confined {
    /// The work folder.
    pub work: PathBuf,
    /// Raised by SIGINT or SIGTERM.
    pub stop: Arc<AtomicBool>,
}

/// Confine the process to `inputs` (each named by its flag or key for the error when it is
/// missing) and the work folder `work`, with its sub-folders `subfolders` created.
pub fn confine(work: &Path, inputs: &[(&str, &Path)], subfolders: &[&str], mode: SandboxMode) -> anyhow::Result<Confined> {
    lockdown::owner_only_files();
    for (name, path) in inputs {
        anyhow::ensure!(path.exists(), "{name}: `{}` does not exist", path.display());
    }
    std::fs::create_dir_all(work).with_context(|| format!("cannot create the work folder `{}`", work.display()))?;
    let work = work.canonicalize().with_context(|| format!("cannot resolve `{}`", work.display()))?;
    std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make the work folder `{}` private", work.display()))?;
    for sub in subfolders.iter().chain(&["logs", "cache/components"]) {
        let dir = work.join(sub);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    let roots = Roots { read_only: inputs.iter().map(|(_, path)| path.to_path_buf()).collect(), read_write: vec![work.clone()] };
    let sandbox = lockdown::lock_down(&roots, mode).context(
        "cannot lock the process down: `rapha-host doctor` shows what this kernel offers; `--sandbox best-effort` runs with what it has",
    )?;
    for missing in &sandbox.missing {
        tracing::warn!("sandbox: {missing}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("cannot install the signal handlers")?;
    }
    Ok(Confined { work, stop })
}
