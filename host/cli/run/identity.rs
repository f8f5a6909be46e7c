//! What a run is made of, by hash: the recipe, the base model, the plugin and the three
//! datasets. A fresh run writes it to `run.json` in the work folder; `--resume` refuses to
//! continue when any of them changed since.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::atomic;

/// The hashes of a run's inputs, lowercase hex sha256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// The recipe file.
    pub recipe: String,
    /// The base model: its file, or every file of its folder with its name.
    pub model: String,
    /// The plugin component.
    pub plugin: String,
    /// `train`, `val` and `test` files.
    pub datasets: BTreeMap<String, String>,
}

impl Identity {
    /// Record this identity as the run's, for a later `--resume`.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(self).expect("an identity always serialises");
        text.push('\n');
        atomic::write(path, text.as_bytes())
    }

    /// Check this identity against the one saved at `path` by the run being resumed.
    pub fn check_resumes(&self, path: &Path) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let saved: Identity =
            serde_json::from_str(&text).with_context(|| format!("`{}`: expected a run identity", path.display()))?;
        let mut changed = Vec::new();
        let mut compare = |what: &str, then: &str, now: &str| {
            if then != now {
                changed.push(format!("{what} (sha256 {} then, {} now)", short(then), short(now)));
            }
        };
        compare("the recipe", &saved.recipe, &self.recipe);
        compare("the model", &saved.model, &self.model);
        compare("the plugin", &saved.plugin, &self.plugin);
        for (split, now) in &self.datasets {
            let then = saved.datasets.get(split).map_or("", String::as_str);
            compare(&format!("the {split} data"), then, now);
        }
        if !changed.is_empty() {
            bail!(
                "cannot resume the run in `{}`: {} changed since it started; start a new run in a fresh work folder",
                path.parent().unwrap_or(path).display(),
                changed.join(", ")
            );
        }
        Ok(())
    }
}

fn short(hash: &str) -> &str {
    if hash.is_empty() { "none" } else { &hash[..hash.len().min(12)] }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            recipe: "aa".repeat(32),
            model: "bb".repeat(32),
            plugin: "cc".repeat(32),
            datasets: [("train", "dd"), ("val", "ee"), ("test", "ff")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.repeat(32)))
                .collect(),
        }
    }

    #[test]
    fn a_changed_input_is_named_when_resuming() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("run.json");
        identity().save(&path).expect("save");
        identity().check_resumes(&path).expect("same inputs resume");
        let mut changed = identity();
        changed.plugin = "00".repeat(32);
        changed.datasets.insert("val".into(), "11".repeat(32));
        let message = changed.check_resumes(&path).expect_err("changed").to_string();
        assert!(message.contains("the plugin (sha256 cccccccccccc then, 000000000000 now)"), "{message}");
        assert!(message.contains("the val data"), "{message}");
        assert!(!message.contains("the recipe"), "{message}");
    }
}
