//! Training checkpoints: everything a run needs to continue exactly where it stopped.
//!
//! A checkpoint is a directory `checkpoint-{step}` (as the Hugging Face Trainer names them)
//! holding:
//! - `adapter_model.safetensors`, `adapter_config.json`: the adapter in PEFT's format, so any
//!   checkpoint can also be used or evaluated as is;
//! - `optimizer.safetensors`: AdamW's moments (`{param}.exp_avg`, `{param}.exp_avg_sq`), its
//!   step count in the metadata;
//! - `trainer_state.json`: the optimizer step, the data position, the seed and a fingerprint
//!   of the settings and data that fix the loss sequence;
//! - `checksums.json`, written last: the sha256 of each file above. A resume [`verify`]s them,
//!   so a byte flipped on disk or a file lost makes the checkpoint refused, not resumed.
//!
//! **RNG state.** The engine draws no number from a running generator: the epoch order is a
//! function of (seed, epoch) and each dropout mask of (seed, step, micro-batch, layer). The
//! seed together with the step and the data position is therefore the complete random state,
//! and a resumed run repeats an uninterrupted one bit for bit (same binary, same threads).
//!
//! **Atomicity.** The files are written into a hidden temporary directory, each fsynced, and
//! the directory is renamed into place and its parent fsynced. A crash leaves either no
//! `checkpoint-{step}` or a complete one; [`latest`] ignores anything else.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::adapter::{ADAPTER_CONFIG, ADAPTER_WEIGHTS, F32View, PeftAdapter, sync_dir};
use crate::batch::DataPosition;
use crate::error::{CandleContext, Error, Result};
use crate::optim::OptimizerState;

/// File of the optimizer moments.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// File of the step, data position, seed and fingerprint.
pub const TRAINER_STATE_FILE: &str = "trainer_state.json";

/// The sha256 of every other file, written last: what [`verify`] checks before a resume.
pub const CHECKSUMS_FILE: &str = "checksums.json";

/// The files a checkpoint holds besides [`CHECKSUMS_FILE`].
const FILES: [&str; 4] = [ADAPTER_WEIGHTS, ADAPTER_CONFIG, OPTIMIZER_FILE, TRAINER_STATE_FILE];
/// Version of `trainer_state.json`'s layout.
const FORMAT: u32 = 1;

/// `trainer_state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainerState {
    format: u32,
    step: u64,
    seed: u64,
    data_position: DataPosition,
    run_fingerprint: String,
}

/// A run's complete state after `step` optimizer steps.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Optimizer steps taken.
    pub step: u64,
    /// The run's seed.
    pub seed: u64,
    /// Where the training stream continues.
    pub data_position: DataPosition,
    /// Hash of the settings and data that determine the losses; resuming checks it.
    pub run_fingerprint: String,
    /// The adapter's weights and config.
    pub adapter: PeftAdapter,
    /// AdamW's moments and step count.
    pub optimizer: OptimizerState,
}

impl Checkpoint {
    /// The directory name of the checkpoint after `step` steps.
    pub fn dir_name(step: u64) -> String {
        format!("checkpoint-{step}")
    }

    /// Write into `root/checkpoint-{step}` atomically (see the module doc), replacing a
    /// checkpoint of the same step. Returns the directory.
    pub fn save(&self, root: &Path) -> Result<PathBuf> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        std::fs::create_dir_all(root).map_err(io(root))?;
        let name = Self::dir_name(self.step);
        let final_dir = root.join(&name);
        let tmp = root.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        }
        std::fs::create_dir(&tmp).map_err(io(&tmp))?;

        let mut config = serde_json::to_string_pretty(&self.adapter.config_json()).expect("a json value serialises");
        config.push('\n');
        let state = TrainerState {
            format: FORMAT,
            step: self.step,
            seed: self.seed,
            data_position: self.data_position,
            run_fingerprint: self.run_fingerprint.clone(),
        };
        let mut state_json = serde_json::to_string_pretty(&state).expect("the state serialises");
        state_json.push('\n');
        let files: [(&str, Vec<u8>); 4] = [
            (ADAPTER_WEIGHTS, self.adapter.weights_bytes()?),
            (ADAPTER_CONFIG, config.into_bytes()),
            (OPTIMIZER_FILE, optimizer_bytes(&self.optimizer, &tmp)?),
            (TRAINER_STATE_FILE, state_json.into_bytes()),
        ];
        let sums: BTreeMap<&str, String> =
            files.iter().map(|(file, bytes)| (*file, hex::encode(Sha256::digest(bytes)))).collect();
        let mut sums = serde_json::to_vec_pretty(&sums).expect("a map of strings serialises");
        sums.push(b'\n');
        for (file, bytes) in files.iter().chain([&(CHECKSUMS_FILE, sums)]) {
            let path = tmp.join(file);
            let mut f = File::options().write(true).create_new(true).open(&path).map_err(io(&path))?;
            f.write_all(bytes).map_err(io(&path))?;
            f.sync_all().map_err(io(&path))?;
        }
        sync_dir(&tmp)?;
        if final_dir.exists() {
            // A rename cannot replace a non-empty directory: move the old one aside first.
            let old = root.join(format!(".{name}.old-{}", std::process::id()));
            std::fs::rename(&final_dir, &old).map_err(io(&final_dir))?;
            std::fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
            std::fs::remove_dir_all(&old).map_err(io(&old))?;
        } else {
            std::fs::rename(&tmp, &final_dir).map_err(io(&final_dir))?;
        }
        sync_dir(root)?;
        Ok(final_dir)
    }

    /// Read a checkpoint directory written by [`Checkpoint::save`], tensors onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let invalid = |path: PathBuf, message: String| Error::Checkpoint { path, message };
        for file in [ADAPTER_WEIGHTS, ADAPTER_CONFIG, OPTIMIZER_FILE, TRAINER_STATE_FILE] {
            if !dir.join(file).is_file() {
                return Err(invalid(dir.to_path_buf(), format!("incomplete: `{file}` is missing")));
            }
        }
        let state_path = dir.join(TRAINER_STATE_FILE);
        let text = std::fs::read_to_string(&state_path)
            .map_err(|source| Error::Io { path: state_path.clone(), source })?;
        let state: TrainerState =
            serde_json::from_str(&text).map_err(|source| Error::Json { path: state_path.clone(), source })?;
        if state.format != FORMAT {
            return Err(invalid(
                state_path,
                format!("`format`: expected {FORMAT}, found `{}`", state.format),
            ));
        }
        let adapter = PeftAdapter::load(dir, device)?;
        let optimizer = read_optimizer(&dir.join(OPTIMIZER_FILE), device)?;
        if optimizer.step != state.step {
            return Err(invalid(
                dir.to_path_buf(),
                format!(
                    "the optimizer has taken {} steps but `{TRAINER_STATE_FILE}` says {}",
                    optimizer.step, state.step
                ),
            ));
        }
        Ok(Self {
            step: state.step,
            seed: state.seed,
            data_position: state.data_position,
            run_fingerprint: state.run_fingerprint,
            adapter,
            optimizer,
        })
    }
}

/// The complete checkpoint with the highest step under `root`, if any. Temporary and
/// half-written directories are skipped.
pub fn latest(root: &Path) -> Result<Option<PathBuf>> {
    Ok(list(root)?.into_iter().next_back().map(|(_, path)| path))
}

/// Every `checkpoint-{step}` directory under `root`, complete or not, newest first: what a
/// resume tries in turn, [`verify`]ing each.
pub fn newest_first(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found = steps(root)?;
    found.sort();
    Ok(found.into_iter().rev().map(|(_, path)| path).collect())
}

/// Why the checkpoint in `dir` cannot be trusted, if it cannot: its checksums file is missing
/// or unreadable, or a file is missing, extra to it, or differs from its sha256 (a flipped
/// byte, a truncated write).
pub fn verify(dir: &Path) -> std::result::Result<(), String> {
    let text = std::fs::read_to_string(dir.join(CHECKSUMS_FILE)).map_err(|e| format!("`{CHECKSUMS_FILE}`: {e}"))?;
    let sums: BTreeMap<String, String> =
        serde_json::from_str(&text).map_err(|e| format!("`{CHECKSUMS_FILE}`: not a map of file names to sha256: {e}"))?;
    for file in FILES {
        let expected = sums.get(file).ok_or_else(|| format!("`{CHECKSUMS_FILE}` lists no `{file}`"))?;
        let bytes = std::fs::read(dir.join(file)).map_err(|e| format!("`{file}`: {e}"))?;
        if hex::encode(Sha256::digest(&bytes)) != *expected {
            return Err(format!("`{file}` differs from its sha256 in `{CHECKSUMS_FILE}`"));
        }
    }
    match sums.keys().find(|file| !FILES.contains(&file.as_str())) {
        Some(extra) => Err(format!("`{CHECKSUMS_FILE}` lists `{extra}`, which a checkpoint does not hold")),
        None => Ok(()),
    }
}

/// Clear what a run stopped while saving left under `root`: a checkpoint moved aside to be
/// replaced (`.checkpoint-N.old-…`) goes back in place when no complete `checkpoint-N` took it,
/// and every other hidden entry (a temporary directory, `.checkpoint-N.tmp-…`) is removed.
/// Returns what it did, one line per entry.
pub fn sweep(root: &Path) -> Result<Vec<String>> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::Io { path: root.to_path_buf(), source }),
    };
    let mut hidden: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(root))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            hidden.push((name, entry.path()));
        }
    }
    hidden.sort();
    let mut done = Vec::new();
    for (name, path) in hidden {
        let moved_aside = name.strip_prefix('.').and_then(|rest| rest.split_once(".old-")).map(|(dir, _)| root.join(dir));
        match moved_aside {
            Some(original) if !original.join(CHECKSUMS_FILE).is_file() => {
                if original.exists() {
                    std::fs::remove_dir_all(&original).map_err(io(&original))?;
                }
                std::fs::rename(&path, &original).map_err(io(&path))?;
                done.push(format!("restored `{name}` as `{}`", original.display()));
            }
            _ => {
                let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
                removed.map_err(io(&path))?;
                done.push(format!("removed `{name}`"));
            }
        }
    }
    sync_dir(root)?;
    Ok(done)
}

/// Remove all but the newest `keep` complete checkpoints under `root`.
pub fn prune(root: &Path, keep: usize) -> Result<()> {
    let all = list(root)?;
    let excess = all.len().saturating_sub(keep);
    for (_, path) in all.into_iter().take(excess) {
        std::fs::remove_dir_all(&path).map_err(|source| Error::Io { path, source })?;
    }
    Ok(())
}

/// Complete checkpoints (their checksums written) under `root`, by ascending step.
fn list(root: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut found: Vec<(u64, PathBuf)> =
        steps(root)?.into_iter().filter(|(_, path)| path.join(CHECKSUMS_FILE).is_file()).collect();
    found.sort();
    Ok(found)
}

/// The `checkpoint-{step}` directories under `root`, in no order.
fn steps(root: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::Io { path: root.to_path_buf(), source }),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io { path: root.to_path_buf(), source })?;
        let name = entry.file_name();
        if let Some(step) = name.to_str().and_then(|n| n.strip_prefix("checkpoint-")).and_then(|s| s.parse::<u64>().ok())
        {
            found.push((step, entry.path()));
        }
    }
    Ok(found)
}

/// `optimizer.safetensors` as bytes: two tensors per parameter, the step in the metadata.
fn optimizer_bytes(state: &OptimizerState, dir: &Path) -> Result<Vec<u8>> {
    let mut tensors: Vec<(String, F32View)> = Vec::with_capacity(state.moments.len() * 2);
    for (name, (m, v)) in &state.moments {
        for (suffix, tensor) in [("exp_avg", m), ("exp_avg_sq", v)] {
            let full = format!("{name}.{suffix}");
            let view = F32View::new(tensor, &full)?;
            tensors.push((full, view));
        }
    }
    let metadata = HashMap::from([("step".to_owned(), state.step.to_string())]);
    safetensors::serialize(tensors, Some(metadata)).map_err(|e| Error::Checkpoint {
        path: dir.join(OPTIMIZER_FILE),
        message: format!("serialising the optimizer state: {e}"),
    })
}

/// Read `optimizer.safetensors`.
fn read_optimizer(path: &Path, device: &Device) -> Result<OptimizerState> {
    let invalid = |message: String| Error::Checkpoint { path: path.to_path_buf(), message };
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| invalid(format!("reading the header: {e}")))?;
    let step = metadata
        .metadata()
        .as_ref()
        .and_then(|m| m.get("step"))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| invalid("metadata `step`: missing or not an integer".to_owned()))?;
    let tensors = candle_core::safetensors::load_buffer(&bytes, device)
        .context_with(|| format!("{}: reading tensors", path.display()))?;
    let mut halves: BTreeMap<String, (Option<Tensor>, Option<Tensor>)> = BTreeMap::new();
    for (name, tensor) in tensors {
        if let Some(param) = name.strip_suffix(".exp_avg_sq") {
            halves.entry(param.to_owned()).or_default().1 = Some(tensor);
        } else if let Some(param) = name.strip_suffix(".exp_avg") {
            halves.entry(param.to_owned()).or_default().0 = Some(tensor);
        } else {
            return Err(invalid(format!("unexpected tensor `{name}`: expected `{{param}}.exp_avg` or `.exp_avg_sq`")));
        }
    }
    let mut moments = BTreeMap::new();
    for (param, pair) in halves {
        match pair {
            (Some(m), Some(v)) => {
                moments.insert(param, (m, v));
            }
            _ => return Err(invalid(format!("parameter `{param}` lacks one of its two moments"))),
        }
    }
    Ok(OptimizerState { step, moments })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_skips_temporary_and_incomplete_directories_and_prune_keeps_the_newest() {
        let root = tempfile::tempdir().unwrap();
        for (name, complete) in [
            ("checkpoint-2", true),
            ("checkpoint-10", true),
            ("checkpoint-11", false),
            (".checkpoint-12.tmp-1", true),
            ("checkpoint-x", true),
        ] {
            let dir = root.path().join(name);
            std::fs::create_dir(&dir).unwrap();
            if complete {
                std::fs::write(dir.join(CHECKSUMS_FILE), "{}").unwrap();
            }
        }
        assert_eq!(latest(root.path()).unwrap(), Some(root.path().join("checkpoint-10")));
        prune(root.path(), 1).unwrap();
        assert!(!root.path().join("checkpoint-2").exists());
        assert!(root.path().join("checkpoint-10").exists());
        assert_eq!(latest(&root.path().join("absent")).unwrap(), None);
    }

    #[test]
    fn sweep_removes_temporaries_and_restores_a_checkpoint_moved_aside() {
        let root = tempfile::tempdir().expect("temporary folder");
        let make = |name: &str, complete: bool| {
            let dir = root.path().join(name);
            std::fs::create_dir(&dir).expect("create");
            if complete {
                std::fs::write(dir.join(CHECKSUMS_FILE), "{}").expect("write");
            }
        };
        // Stopped between moving `checkpoint-4` aside and renaming its replacement in.
        make(".checkpoint-4.old-77", true);
        make(".checkpoint-4.tmp-77", true);
        // Replaced completely; the old one was not yet removed.
        make("checkpoint-2", true);
        make(".checkpoint-2.old-77", true);
        std::fs::write(root.path().join(".adapter_model.safetensors.tmp-77-0"), "partial").expect("write");

        let done = sweep(root.path()).expect("sweep");
        assert_eq!(done.len(), 4, "{done:?}");
        let mut names: Vec<String> =
            std::fs::read_dir(root.path()).expect("list").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["checkpoint-2", "checkpoint-4"]);
        assert_eq!(latest(root.path()).expect("latest"), Some(root.path().join("checkpoint-4")));
        assert!(sweep(root.path()).expect("sweep").is_empty());
    }
}
