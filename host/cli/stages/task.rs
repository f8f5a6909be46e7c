//! The task plugin, loaded once under the recipe's limits, its hash checked against the
//! recipe's pin.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use rapha_task_host::{Limits, TaskHost, TaskPlugin};

use crate::recipe::Recipe;
use crate::stages::digest;

/// The loaded plugin and the sha256 of its file.
pub struct Task {
    /// The plugin.
    pub plugin: TaskPlugin,
    /// sha256 of the component file, as the manifest and `run.json` name it.
    pub sha256: String,
}

impl Task {
    /// Load the recipe's plugin with its compiled-component cache and logs under `work`;
    /// a raised `stop` ends the plugin call in progress. Refused when the file differs
    /// from the recipe's `plugin.sha256`.
    pub fn load(recipe: &Recipe, work: &Path, stop: &Arc<AtomicBool>) -> anyhow::Result<Task> {
        let sha256 = digest::hash_file(&recipe.plugin.path)?;
        if let Some(pinned) = &recipe.plugin.sha256
            && *pinned != sha256
        {
            return Err(recipe.error_at("plugin.sha256", &format!("the plugin's sha256 `{sha256}`"), &format!("`{pinned}`")).into());
        }
        let plugin = open(&recipe.plugin.path, recipe.limits(), recipe.train.seed, work, stop)?;
        Ok(Task { plugin, sha256 })
    }

    /// Load the plugin at `path` under `limits`, seeded by `seed`, with its compiled-component
    /// cache and logs under `work`; a raised `stop` ends the plugin call in progress.
    pub fn open(path: &Path, limits: Limits, seed: u64, work: &Path, stop: &Arc<AtomicBool>) -> anyhow::Result<Task> {
        let sha256 = digest::hash_file(path)?;
        Ok(Task { plugin: open(path, limits, seed, work, stop)?, sha256 })
    }
}

/// The plugin at `path`, loaded.
fn open(path: &Path, limits: Limits, seed: u64, work: &Path, stop: &Arc<AtomicBool>) -> anyhow::Result<TaskPlugin> {
    let host = TaskHost::new(limits, work.join("cache").join("components"), work.join("logs"))?
        .with_run_seed(seed)
        .with_stop(Arc::clone(stop));
    let plugin = TaskPlugin::load(&host, path)?;
    tracing::info!(task = %plugin.info().id, version = %plugin.info().version, "plugin loaded");
    Ok(plugin)
}
