//! The append-only audit log: one JSON line per decision, in the work folder.
//!
//! It records what was decided about which file and why, never the content. The
//! file is opened with `O_APPEND` and each line is synced, so a crash loses at
//! most the decision being written and earlier lines are never rewritten.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// What was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// The action was allowed and done.
    Allowed,
    /// The action was refused; nothing was done.
    Refused,
    /// The action was allowed but failed (e.g. disk full); nothing was left.
    Failed,
    /// A fact worth keeping (a skipped record, the protections in force).
    Noted,
}

/// An append-only log of decisions.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

#[derive(serde::Serialize)]
struct Line<'a> {
    unix_time: u64,
    action: &'a str,
    subject: &'a str,
    decision: Decision,
    reason: &'a str,
}

impl AuditLog {
    /// Open (creating it if needed, readable by the owner only) the log at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| Error::io("cannot open the audit log", &path, e))?;
        Ok(AuditLog { path, file: Mutex::new(file) })
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one decision. `subject` names a file or record, never its content.
    pub fn record(&self, action: &str, subject: &str, decision: Decision, reason: &str) -> Result<()> {
        let unix_time = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let subject: String = subject.chars().take(160).collect();
        let mut line = serde_json::to_vec(&Line { unix_time, action, subject: &subject, decision, reason })
            .expect("an audit line always serialises");
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        file.write_all(&line)
            .and_then(|()| file.sync_data())
            .map_err(|e| Error::io("cannot append to the audit log", &self.path, e))
    }
}
