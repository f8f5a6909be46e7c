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

/// The export folder, open for a run: an all-or-nothing transaction. Until [`ExportDir::finish`]
/// succeeds, [`ExportDir::abort`] (or dropping it) removes every file it put there.
#[derive(Debug)]
pub struct ExportDir {
    root: PathBuf,
    policy: Policy,
    verbatim: VerbatimIndex,
    adapter: Option<AdapterSpec>,
    audit: Arc<AuditLog>,
    written: Vec<ManifestFile>,
    /// Every path this export created that may still exist: a temporary file from its
    /// creation on, a final name from its rename on (so a failure after the rename, in the
    /// folder's sync, still knows to remove it).
    placed: Vec<PathBuf>,
    total_bytes: u64,
    finished: bool,
    io: Box<dyn Syscalls>,
}

/// The file-system calls an export makes, behind one seam so that tests can fail each of
/// them: "nothing half-written" has to hold whichever one fails.
trait Syscalls: std::fmt::Debug + Send + Sync {
    /// Create `path` new, without following a link, owner-writable.
    fn create(&self, path: &Path) -> std::io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
    }

    fn write(&self, file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
        file.write_all(bytes)
    }

    fn sync_file(&self, file: &File) -> std::io::Result<()> {
        file.sync_all()
    }

    /// Rename without replacing what is there.
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        rename_no_replace(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        File::open(dir).and_then(|dir| dir.sync_all())
    }

    fn remove(&self, path: &Path) -> std::io::Result<()> {
        std::fs::remove_file(path)
    }
}

/// The real calls.
#[derive(Debug)]
struct Kernel;

impl Syscalls for Kernel {}

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
        Ok(ExportDir {
            root,
            policy,
            verbatim,
            adapter,
            audit,
            written: Vec::new(),
            placed: Vec::new(),
            total_bytes: 0,
            finished: false,
            io: Box::new(Kernel),
        })
    }

    /// Clear what an export stopped midway (a killed run) left in `root`, so that the resumed
    /// run can export again: the files named in `names` and the gate's temporaries of them
    /// (and of the manifest) are removed, each removal audited. Refused, with nothing removed,
    /// when `root` holds the manifest (that export finished) or anything else. Returns the
    /// names removed.
    pub fn recover(root: &Path, names: &[&str], audit: &AuditLog) -> Result<Vec<String>> {
        let folder_error = |reason: String| Error::ExportFolder { path: root.to_path_buf(), reason };
        let entries = match std::fs::read_dir(root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("cannot list", root, e)),
        };
        let mut left = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("cannot list", root, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == MANIFEST_NAME {
                return Err(folder_error(format!("holds a finished export (`{MANIFEST_NAME}`): there is nothing to resume")));
            }
            let written = partial_of(&name).unwrap_or(&name);
            let ours = names.contains(&written) || written == MANIFEST_NAME;
            let meta = std::fs::symlink_metadata(entry.path()).map_err(|e| Error::io("cannot inspect", entry.path(), e))?;
            if !ours || !meta.is_file() {
                return Err(folder_error(format!("holds `{name}`, which the export gate did not write: move it away")));
            }
            left.push((name, entry.path()));
        }
        for (name, path) in &left {
            Kernel.remove(path).map_err(|e| Error::io("cannot remove", path, e))?;
            audit.record("rollback", name, Decision::Noted, "removed: left by an export that was stopped")?;
        }
        Kernel.sync_dir(root).map_err(|e| Error::io("cannot sync", root, e))?;
        Ok(left.into_iter().map(|(name, _)| name).collect())
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
    /// wrote), then check the folder once more. Returns the manifest; from then on the
    /// export stays. On an error, [`ExportDir::abort`] removes what was written.
    /// `signature`: a federation site's, over [`ExportDir::files`] and the inputs.
    pub fn finish(
        &mut self,
        inputs: ManifestInputs,
        metrics: serde_json::Value,
        sandbox: serde_json::Value,
        signature: Option<serde_json::Value>,
    ) -> Result<Manifest> {
        self.scan()?;
        let manifest = Manifest { format: MANIFEST_FORMAT, files: self.written.clone(), inputs, metrics, sandbox, signature };
        let mut bytes = serde_json::to_vec_pretty(&manifest).expect("a manifest always serialises");
        bytes.push(b'\n');
        self.export(MANIFEST_NAME, &bytes, &[])?;
        self.scan()?;
        self.finished = true;
        Ok(manifest)
    }

    /// Remove every file this export put in the folder (each removal audited) and sync the
    /// folder; the names removed. Fails, naming what is left, only when a removal fails.
    pub fn abort(mut self) -> Result<Vec<String>> {
        self.roll_back()
    }

    fn roll_back(&mut self) -> Result<Vec<String>> {
        self.finished = true;
        let mut removed = Vec::new();
        let mut first_error = None;
        for path in std::mem::take(&mut self.placed) {
            let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            match self.io.remove(&path) {
                Ok(()) => {
                    self.audit.record("rollback", &name, Decision::Noted, "removed: the export as a whole failed")?;
                    removed.push(name);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    self.audit.record("rollback", &name, Decision::Failed, &format!("cannot remove: {e}"))?;
                    first_error.get_or_insert(Error::io("cannot remove", path, e));
                }
            }
        }
        if let Some(error) = first_error {
            return Err(error);
        }
        self.io.sync_dir(&self.root).map_err(|e| Error::io("cannot sync", &self.root, e))?;
        Ok(removed)
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

    /// Create `name` with `bytes`: temp file (create-new, no-follow), write, sync,
    /// rename without replacing, sync the folder. Every path it creates is in `placed` until
    /// it is gone, so whichever step fails, [`ExportDir::abort`] leaves nothing behind.
    fn write_new(&mut self, name: &str, bytes: &[u8]) -> Result<ManifestFile> {
        let temp = self.root.join(format!(".{name}.partial-{}", std::process::id()));
        let target = self.root.join(name);
        let mut file = self.io.create(&temp).map_err(|e| self.write_error(name, &target, e))?;
        self.placed.push(temp.clone());
        let written = self
            .io
            .write(&mut file, bytes)
            .and_then(|()| self.io.sync_file(&file))
            .and_then(|()| self.io.rename(&temp, &target));
        drop(file);
        match written {
            // The rename happened: the temporary name is gone, the final one is ours.
            Ok(()) => {
                self.placed.retain(|path| *path != temp);
                self.placed.push(target.clone());
            }
            Err(error) => {
                // This file failed alone: its temporary goes now (and stays listed for the
                // rollback only if it cannot).
                if self.io.remove(&temp).is_ok() {
                    self.placed.retain(|path| *path != temp);
                }
                return Err(self.write_error(name, &target, error));
            }
        }
        self.io.sync_dir(&self.root).map_err(|e| Error::io("cannot sync", &self.root, e))?;
        Ok(ManifestFile { name: name.to_owned(), bytes: bytes.len() as u64, sha256: hex::encode(Sha256::digest(bytes)) })
    }

    fn write_error(&self, name: &str, target: &Path, error: std::io::Error) -> Error {
        match error.raw_os_error() {
            Some(libc::EEXIST) => Error::Refused { name: name.to_owned(), refusal: Refusal::Exists(name.to_owned()) },
            _ => Error::io("cannot write", target, error),
        }
    }
}

impl Drop for ExportDir {
    /// An export neither finished nor aborted (an early return, a panic) is rolled back too.
    fn drop(&mut self) {
        if !self.finished
            && let Err(error) = self.roll_back()
        {
            tracing::error!(folder = %self.root.display(), "an unfinished export could not be removed: {error}");
        }
    }
}

/// The name a gate's temporary file `.{name}.partial-{pid}` stands for.
fn partial_of(temporary: &str) -> Option<&str> {
    let (name, pid) = temporary.strip_prefix('.')?.rsplit_once(".partial-")?;
    (!pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then_some(name)
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
    use std::sync::Mutex;

    use super::*;

    /// The calls of [`Syscalls`], to name the one to fail.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Call {
        Create,
        Write,
        SyncFile,
        Rename,
        SyncDir,
        Remove,
    }

    /// The kernel, except that the `n`th call of each listed kind fails with `EIO`.
    #[derive(Debug)]
    struct Failing {
        faults: Vec<(Call, usize)>,
        seen: Mutex<Vec<Call>>,
    }

    impl Failing {
        fn hit(&self, call: Call) -> std::io::Result<()> {
            let mut seen = self.seen.lock().expect("not poisoned");
            seen.push(call);
            let count = seen.iter().filter(|c| **c == call).count();
            if self.faults.contains(&(call, count)) {
                return Err(std::io::Error::from_raw_os_error(libc::EIO));
            }
            Ok(())
        }
    }

    impl Syscalls for Failing {
        fn create(&self, path: &Path) -> std::io::Result<File> {
            self.hit(Call::Create)?;
            Kernel.create(path)
        }
        fn write(&self, file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
            self.hit(Call::Write)?;
            Kernel.write(file, bytes)
        }
        fn sync_file(&self, file: &File) -> std::io::Result<()> {
            self.hit(Call::SyncFile)?;
            Kernel.sync_file(file)
        }
        fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
            self.hit(Call::Rename)?;
            Kernel.rename(from, to)
        }
        fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
            self.hit(Call::SyncDir)?;
            Kernel.sync_dir(dir)
        }
        fn remove(&self, path: &Path) -> std::io::Result<()> {
            self.hit(Call::Remove)?;
            Kernel.remove(path)
        }
    }

    /// An export folder in `dir` whose calls fail as `faults` say.
    fn export_dir(dir: &Path, faults: Vec<(Call, usize)>) -> ExportDir {
        let audit = Arc::new(AuditLog::open(dir.join("audit.log")).expect("audit log"));
        let mut export = ExportDir::open(dir.join("export"), Policy::new(), VerbatimIndex::new(8, ["a note"]), None, audit)
            .expect("open");
        export.io = Box::new(Failing { faults, seen: Mutex::new(Vec::new()) });
        export
    }

    /// Two files and the manifest: each call happens three times.
    fn export_all(export: &mut ExportDir) -> Result<Manifest> {
        export.export("metrics.json", br#"{"metrics": {"f1": 0.5}}"#, &[])?;
        export.export("report.txt", b"rapha-host run report\n", &[])?;
        let inputs = |role: &str| crate::InputHash { role: role.into(), sha256: "0".repeat(64), records: None };
        let inputs = ManifestInputs { recipe: inputs("recipe"), model: inputs("model"), plugin: inputs("plugin"), datasets: vec![] };
        export.finish(inputs, serde_json::json!({}), serde_json::json!({}), None)
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join("export"))
            .expect("list")
            .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn whichever_call_of_the_export_fails_the_abort_leaves_the_folder_empty() {
        for call in [Call::Create, Call::Write, Call::SyncFile, Call::Rename, Call::SyncDir] {
            for nth in 1..=3 {
                let dir = tempfile::tempdir().expect("temp dir");
                let mut export = export_dir(dir.path(), vec![(call, nth)]);
                let error = export_all(&mut export).expect_err("an injected failure");
                assert!(error.to_string().contains("Input/output error"), "{call:?} #{nth}: {error}");
                export.abort().expect("the rollback");
                assert_eq!(entries(dir.path()), Vec::<String>::new(), "{call:?} #{nth}");
            }
        }
    }

    #[test]
    fn an_export_dropped_unfinished_is_rolled_back_and_a_finished_one_stays() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut export = export_dir(dir.path(), vec![]);
        export.export("metrics.json", br#"{"metrics": {}}"#, &[]).expect("export");
        drop(export);
        assert_eq!(entries(dir.path()), Vec::<String>::new());
        let mut export = export_dir(dir.path(), vec![]);
        export_all(&mut export).expect("the export");
        drop(export);
        assert_eq!(entries(dir.path()), ["manifest.json", "metrics.json", "report.txt"]);
    }

    #[test]
    fn recover_clears_a_stopped_export_but_not_a_finished_one_or_foreign_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let audit = AuditLog::open(dir.path().join("audit.log")).expect("audit log");
        let root = dir.path().join("export");
        std::fs::create_dir(&root).expect("create");
        for name in ["metrics.json", ".report.txt.partial-4242"] {
            std::fs::write(root.join(name), "x").expect("write");
        }
        let mut removed = ExportDir::recover(&root, &["metrics.json", "report.txt"], &audit).expect("recover");
        removed.sort();
        assert_eq!(removed, [".report.txt.partial-4242", "metrics.json"]);
        assert_eq!(std::fs::read_dir(&root).expect("list").count(), 0);

        std::fs::write(root.join("notes.txt"), "the operator's").expect("write");
        let error = ExportDir::recover(&root, &["metrics.json", "report.txt"], &audit).expect_err("foreign");
        assert!(error.to_string().contains("holds `notes.txt`, which the export gate did not write"), "{error}");
        std::fs::remove_file(root.join("notes.txt")).expect("remove");
        std::fs::write(root.join("manifest.json"), "{}").expect("write");
        let error = ExportDir::recover(&root, &["metrics.json"], &audit).expect_err("finished");
        assert!(error.to_string().contains("holds a finished export"), "{error}");
        assert!(root.join("manifest.json").exists());
    }

    #[test]
    fn a_failed_removal_is_reported_and_the_rest_is_still_removed() {
        let dir = tempfile::tempdir().expect("temp dir");
        // The second rename fails and its temporary is removed (the first removal); then
        // removing the first file fails.
        let mut export = export_dir(dir.path(), vec![(Call::Rename, 2), (Call::Remove, 2)]);
        export_all(&mut export).expect_err("the second rename fails");
        let error = export.abort().expect_err("the second removal fails");
        assert!(error.to_string().contains("metrics.json"), "{error}");
        assert_eq!(entries(dir.path()), ["metrics.json"], "the partial report is gone");
    }

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
