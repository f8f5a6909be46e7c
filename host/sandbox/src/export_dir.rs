//! The single export folder: the only way anything is written there.
//!
//! Confinement does not rely on path strings alone: a name must be a plain file
//! name (no separator, no `..`, no leading dot), the folder is opened once and
//! checked to be a real directory that is not a symlink, files are created with
//! `O_CREAT | O_EXCL | O_NOFOLLOW` under a temporary name, synced, and renamed
//! with `RENAME_NOREPLACE`, so an attacker's symlink or hard link standing at the
//! final name makes the export fail rather than write through it. A final scan
//! refuses any entry the gate did not write.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::audit::{AuditLog, Decision};
use crate::error::{Error, Refusal, Result};
use crate::inspect::{self, AdapterSpec};
use crate::manifest::{MANIFEST_FORMAT, Manifest, ManifestFile, ManifestInputs};
use crate::policy::{FileKind, Policy};
use crate::verbatim::VerbatimIndex;

const MANIFEST_NAME: &str = "manifest.json";

/// The export folder, open for a run.
#[derive(Debug)]
pub struct ExportDir {
    root: PathBuf,
    policy: Policy,
    verbatim: VerbatimIndex,
    adapter: Option<AdapterSpec>,
    audit: Arc<AuditLog>,
    written: Vec<ManifestFile>,
    total_bytes: u64,
}

impl ExportDir {
    /// Open `root` as the export folder, creating it if absent. An existing
    /// folder must be empty (an earlier export is never overwritten or mixed
    /// with this one) and must not be a symlink.
    ///
    /// `verbatim` indexes the training and evaluation text; `adapter` lists the
    /// tensors an exported `.safetensors` must hold exactly.
    pub fn open(
        root: impl AsRef<Path>,
        policy: Policy,
        verbatim: VerbatimIndex,
        adapter: Option<AdapterSpec>,
        audit: Arc<AuditLog>,
    ) -> Result<Self> {
        let root = root.as_ref();
        let folder_error = |reason: String| Error::ExportFolder { path: root.to_path_buf(), reason };
        match std::fs::symlink_metadata(root) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(folder_error("is a symlink".into())),
            Ok(meta) if !meta.is_dir() => return Err(folder_error("is not a directory".into())),
            Ok(_) => {
                let mut entries = std::fs::read_dir(root).map_err(|e| Error::io("cannot list", root, e))?;
                if entries.next().is_some() {
                    return Err(folder_error("is not empty: an export folder holds exactly one run's export".into()));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(root).map_err(|e| Error::io("cannot create", root, e))?;
            }
            Err(e) => return Err(Error::io("cannot inspect", root, e)),
        }
        let root = root.canonicalize().map_err(|e| Error::io("cannot resolve", root, e))?;
        Ok(ExportDir { root, policy, verbatim, adapter, audit, written: Vec::new(), total_bytes: 0 })
    }

    /// The folder, canonical.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The files exported so far.
    pub fn files(&self) -> &[ManifestFile] {
        &self.written
    }

    /// Export `bytes` as `name` if the policy and the content checks allow it.
    /// `template_fields` are the typed values a report template filled in; they
    /// are exempt from the identifier checks of `.txt` files. A refused or failed
    /// export leaves nothing behind; every decision is audited.
    pub fn export(&mut self, name: &str, bytes: &[u8], template_fields: &[String]) -> Result<()> {
        match self.check(name, bytes, template_fields) {
            Err(refusal) => {
                self.audit.record("export", name, Decision::Refused, &refusal.to_string())?;
                Err(Error::Refused { name: name.to_owned(), refusal })
            }
            Ok(()) => match self.write_new(name, bytes) {
                Ok(file) => {
                    self.audit.record("export", name, Decision::Allowed, &format!("sha256 {}", file.sha256))?;
                    self.total_bytes += file.bytes;
                    self.written.push(file);
                    Ok(())
                }
                Err(error) => {
                    self.audit.record("export", name, Decision::Failed, &error.to_string())?;
                    Err(error)
                }
            },
        }
    }

    /// Write the manifest (after checking the folder holds only what the gate
    /// wrote), then check the folder once more. Returns the manifest.
    pub fn finish(mut self, inputs: ManifestInputs, metrics: serde_json::Value, sandbox: serde_json::Value) -> Result<Manifest> {
        self.scan()?;
        let manifest = Manifest { format: MANIFEST_FORMAT, files: self.written.clone(), inputs, metrics, sandbox };
        let mut bytes = serde_json::to_vec_pretty(&manifest).expect("a manifest always serialises");
        bytes.push(b'\n');
        self.export(MANIFEST_NAME, &bytes, &[])?;
        self.scan()?;
        Ok(manifest)
    }

    /// Refuse the export if the folder holds anything the gate did not write: a
    /// symlink, a hard link, a device, a sub-folder, or a file not in the list.
    pub fn scan(&self) -> Result<()> {
        let entries = std::fs::read_dir(&self.root).map_err(|e| Error::io("cannot list", &self.root, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("cannot list", &self.root, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(entry.path()).map_err(|e| Error::io("cannot inspect", entry.path(), e))?;
            let what = if meta.file_type().is_symlink() {
                Some("a symlink".to_owned())
            } else if !meta.is_file() {
                Some("not a regular file".to_owned())
            } else if meta.nlink() != 1 {
                Some(format!("a hard link ({} names share it)", meta.nlink()))
            } else if !self.written.iter().any(|f| f.name == name) {
                Some("not written by the export gate".to_owned())
            } else {
                None
            };
            if let Some(what) = what {
                let refusal = Refusal::Foreign { name: name.clone(), what };
                self.audit.record("scan", &name, Decision::Refused, &refusal.to_string())?;
                return Err(Error::Refused { name, refusal });
            }
        }
        Ok(())
    }

    fn check(&self, name: &str, bytes: &[u8], template_fields: &[String]) -> Result<(), Refusal> {
        check_name(name)?;
        let kind = FileKind::of(name).ok_or_else(|| {
            Refusal::ForbiddenType(Path::new(name).extension().map_or(String::new(), |e| e.to_string_lossy().into_owned()))
        })?;
        let size = bytes.len() as u64;
        let cap = self.policy.max_bytes(kind);
        if size > cap {
            return Err(Refusal::TooLarge { bytes: size, cap });
        }
        if self.total_bytes + size > self.policy.max_total_bytes {
            return Err(Refusal::TotalTooLarge { bytes: self.total_bytes + size, cap: self.policy.max_total_bytes });
        }
        if self.written.iter().any(|f| f.name == name) {
            return Err(Refusal::Exists(name.to_owned()));
        }
        let content = match kind {
            FileKind::Safetensors => inspect::safetensors(bytes, &self.policy, self.adapter.as_ref()),
            FileKind::Json => inspect::json(name, bytes, &self.policy, &self.verbatim),
            FileKind::Text => inspect::text(bytes, &self.verbatim, template_fields),
        };
        content.map_err(Refusal::Content)
    }

    /// Create `name` with `bytes`: temp file (create-new, no-follow), sync,
    /// rename without replacing, sync the folder. Nothing is left on failure.
    fn write_new(&self, name: &str, bytes: &[u8]) -> Result<ManifestFile> {
        let temp = self.root.join(format!(".{name}.partial-{}", std::process::id()));
        let target = self.root.join(name);
        let written = write_synced(&temp, bytes).and_then(|()| rename_no_replace(&temp, &target));
        if let Err(error) = written {
            // The temp file is ours; removing it is what "nothing left behind" means.
            if let Err(e) = std::fs::remove_file(&temp) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %temp.display(), "cannot remove a partial export file: {e}");
                }
            }
            return Err(match error.raw_os_error() {
                Some(libc::EEXIST) => Error::Refused { name: name.to_owned(), refusal: Refusal::Exists(name.to_owned()) },
                _ => Error::io("cannot write", &target, error),
            });
        }
        File::open(&self.root)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| Error::io("cannot sync", &self.root, e))?;
        Ok(ManifestFile { name: name.to_owned(), bytes: bytes.len() as u64, sha256: hex::encode(Sha256::digest(bytes)) })
    }
}

/// A plain file name: 1 to 128 characters of `[A-Za-z0-9._-]`, not starting
/// with a dot, with no path separator and no `..`.
fn check_name(name: &str) -> Result<(), Refusal> {
    let bad = |reason| Err(Refusal::BadName { name: name.chars().take(64).collect(), reason });
    if name.is_empty() || name.len() > 128 {
        return bad("expected 1 to 128 characters");
    }
    if name.contains('/') || name.contains('\\') {
        return bad("expected a plain file name, found a path separator");
    }
    if name.contains("..") {
        return bad("expected a plain file name, found `..`");
    }
    if name.starts_with('.') {
        return bad("hidden names (a leading dot) are not allowed");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return bad("expected only letters, digits, `.`, `_` and `-`");
    }
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    let from = CString::new(from.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    let to = CString::new(to.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: both are valid NUL-terminated paths; AT_FDCWD with absolute paths.
    let rc = unsafe {
        libc::renameat2(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), libc::RENAME_NOREPLACE)
    };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_plain() {
        for bad in ["", "../x.json", "a/b.json", ".hidden.json", "a..b.json", "x y.txt", "é.txt"] {
            assert!(check_name(bad).is_err(), "accepted {bad:?}");
        }
        for good in ["metrics.json", "adapter_model.safetensors", "report-v1.txt"] {
            assert!(check_name(good).is_ok(), "refused {good:?}");
        }
    }
}
