//! The run's two folders. The work folder keeps everything derived from patient text
//! (checkpoints, predictions, logs, the audit log) and never leaves the machine; the
//! export folder receives only what passes the egress gate. Both must exist before the
//! lockdown, which grants access beneath existing paths only.

use std::fs::{File, TryLockError};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rapha_sandbox::lockdown::Roots;

use crate::recipe::Recipe;

/// The folders, canonical.
pub struct Folders {
    /// Checkpoints, predictions, journal, logs, component cache, audit log.
    pub work: PathBuf,
    /// What leaves.
    pub export: PathBuf,
    /// `run.lock` in the work folder, locked while this process lives: two runs never write
    /// one work folder (a federated round asked again while its first attempt, cut off from
    /// the server, still runs). The kernel releases it when the process ends, however.
    _lock: File,
}

impl Folders {
    /// Create the folders, the work folder private to its owner. A fresh run needs a work
    /// folder without a run in it and an export folder absent or empty; `--resume` needs a
    /// work folder with a run (see [`super::recover`] for its export folder).
    pub fn prepare(recipe: &Recipe, resume: bool) -> anyhow::Result<Folders> {
        let work = &recipe.paths.work;
        std::fs::create_dir_all(work).with_context(|| format!("cannot create the work folder `{}`", work.display()))?;
        let work = work.canonicalize().with_context(|| format!("cannot resolve `{}`", work.display()))?;
        // Created under the run's umask, but an existing folder keeps the mode it had.
        std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make the work folder `{}` private", work.display()))?;
        let lock = lock(&work)?;
        let started = work.join("run.json").exists();
        if started && !resume {
            bail!(
                "the work folder `{}` already holds a run: continue it with `--resume`, or set `paths.work` in `{}` to a new folder",
                work.display(),
                recipe.file.display()
            );
        }
        if !started && resume {
            bail!("nothing to resume: the work folder `{}` holds no run (no `run.json`)", work.display());
        }
        let export = &recipe.paths.export;
        match std::fs::read_dir(export) {
            // A resumed run clears what a stopped export left once the audit log is open.
            Ok(_) if resume => {}
            Ok(mut entries) => {
                if entries.next().is_some() {
                    bail!(
                        "the export folder `{}` is not empty: an export folder holds exactly one run's export; \
                         move its files away or set `paths.export` in `{}` to a new folder",
                        export.display(),
                        recipe.file.display()
                    );
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(export)
                    .with_context(|| format!("cannot create the export folder `{}`", export.display()))?;
            }
            Err(error) => return Err(error).with_context(|| format!("cannot list the export folder `{}`", export.display())),
        }
        let export = export.canonicalize().with_context(|| format!("cannot resolve `{}`", export.display()))?;
        for sub in ["checkpoints", "predictions", "journal", "logs", "best", "cache/components"] {
            let dir = work.join(sub);
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        }
        Ok(Folders { work, export, _lock: lock })
    }

    /// What the process may touch once locked down: its inputs, read-only (a federated
    /// round's key and global adapter among them); the two folders, and a federated site's
    /// own work folder above the round's (its privacy accountant outlives the rounds).
    pub fn roots(&self, recipe: &Recipe) -> Roots {
        let mut read_only = vec![
            recipe.file.clone(),
            recipe.model.path.clone(),
            recipe.plugin.path.clone(),
            recipe.data.train.clone(),
            recipe.data.val.clone(),
            recipe.data.test.clone(),
        ];
        let mut read_write = vec![self.work.clone(), self.export.clone()];
        if let Some(federation) = &recipe.federation {
            read_only.push(federation.key.clone());
            read_only.extend(federation.global.clone());
            read_write.push(federation.site_work.clone());
        }
        Roots { read_only, read_write }
    }
}

/// The work folder's `run.lock`, locked, or an error if another run holds it.
fn lock(work: &Path) -> anyhow::Result<File> {
    let path = work.join("run.lock");
    let file = File::options().create(true).truncate(false).write(true).open(&path)
        .with_context(|| format!("cannot open `{}`", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => bail!(
            "the work folder `{}` is in use by another rapha-host run (it holds `run.lock`): wait for that run to end",
            work.display()
        ),
        Err(TryLockError::Error(error)) => Err(error).with_context(|| format!("cannot lock `{}`", path.display())),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_locked_work_folder_is_refused_until_its_run_ends() {
        let work = tempfile::tempdir().expect("a folder");
        let first = super::lock(work.path()).expect("the first run locks");
        let second = super::lock(work.path()).expect_err("a second run is refused");
        assert!(format!("{second:#}").contains("is in use by another rapha-host run"), "{second:#}");
        drop(first);
        super::lock(work.path()).expect("free again once the first run ends");
    }
}
