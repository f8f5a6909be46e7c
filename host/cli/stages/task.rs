//! The task plugin, loaded once under the recipe's limits, its hash checked against the
//! recipe's pin.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use rapha_task_host::{TaskHost, TaskPlugin};

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
        let host = TaskHost::new(recipe.limits(), work.join("cache").join("components"), work.join("logs"))?
            .with_run_seed(recipe.train.seed)
            .with_stop(Arc::clone(stop));
        let plugin = TaskPlugin::load(&host, &recipe.plugin.path)?;
        tracing::info!(task = %plugin.info().id, version = %plugin.info().version, "plugin loaded");
        Ok(Task { plugin, sha256 })
    }
}
