//! `--resume` after a run that was stopped mid-write (killed during a checkpoint, a saved
//! adapter, a prediction file or the export): what it left half-done is finished or rolled
//! back before the run goes on, each step in the audit log.
//!
//! Every write of a run goes to a hidden temporary name first and is renamed into place, so a
//! hidden entry in the work folder's own folders is debris of a stopped write; a checkpoint
//! moved aside for replacement is put back. An export folder without its manifest holds an
//! export that was stopped: its files go, and the run exports again.

use std::path::Path;

use anyhow::Context;
use rapha_engine::checkpoint;
use rapha_sandbox::{AuditLog, Decision, ExportDir};

use crate::run::export;

/// Clear the debris of a stopped run in `work` and `export`.
pub fn recover(work: &Path, export_root: &Path, audit: &AuditLog) -> anyhow::Result<()> {
    let mut done = checkpoint::sweep(&work.join("checkpoints"))?;
    let best = work.join("best");
    let mut folders = vec![work.to_path_buf(), work.join("predictions"), work.join("journal"), best.clone()];
    for entry in std::fs::read_dir(&best).with_context(|| format!("cannot list `{}`", best.display()))? {
        let path = entry.with_context(|| format!("cannot list `{}`", best.display()))?.path();
        if path.is_dir() {
            folders.push(path);
        }
    }
    for folder in folders {
        done.extend(checkpoint::sweep(&folder)?);
    }
    for line in &done {
        audit.record("resume-sweep", &work.display().to_string(), Decision::Noted, line)?;
    }
    let removed = ExportDir::recover(export_root, &export::FILES, audit)
        .with_context(|| format!("cannot resume into the export folder `{}`", export_root.display()))?;
    if !done.is_empty() || !removed.is_empty() {
        tracing::info!(swept = done.len(), export_files_removed = removed.len(), "cleared what the stopped run left half-written");
    }
    Ok(())
}
