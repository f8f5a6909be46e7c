//! One site's round of a federation: the run starts from the round's global adapter (after
//! the first round) and signs what it exports, so the server can tell who sent it and what it
//! was trained with before it aggregates anything.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use rapha_engine::{Model, PeftAdapter};
use rapha_federation::signing::{SiteKey, Statement};
use rapha_sandbox::{ManifestFile, ManifestInputs};
use serde_json::Value;

use crate::recipe::{FederationSettings, Recipe};

/// Put the round's global adapter (`federation.global`) into `model`'s adapters, in place
/// of the ones it was built with; nothing in the first round, which starts from the
/// federation's seed.
pub fn start_from_global(recipe: &Recipe, model: &Model) -> anyhow::Result<()> {
    let Some(federation) = &recipe.federation else {
        return Ok(());
    };
    let Some(global) = &federation.global else {
        return Ok(());
    };
    let refused = |error: &dyn std::fmt::Display| {
        recipe.error_at(
            "federation.global",
            "a global adapter of this model with the recipe's `[lora]` settings",
            &format!("`{}`: {error}", global.display()),
        )
    };
    let adapter = PeftAdapter::load(global, model.device()).map_err(|error| refused(&error))?;
    adapter.assign_to(model).map_err(|error| refused(&error))?;
    tracing::info!(round = federation.round, global = %global.display(), "starting from the round's global adapter");
    Ok(())
}

/// The site's key and the round, which sign the export's manifest.
pub struct Signer {
    key: SiteKey,
    round: u64,
}

impl Signer {
    /// The key of `federation.key`, which must be the key of `federation.site`.
    pub fn load(federation: &FederationSettings) -> anyhow::Result<Signer> {
        let key = SiteKey::load(&federation.key).with_context(|| format!("cannot read the site key `{}`", federation.key.display()))?;
        if key.site() != federation.site {
            bail!(
                "`{}` is the key of site `{}`, the recipe's `federation.site` is `{}`",
                federation.key.display(),
                key.site(),
                federation.site
            );
        }
        Ok(Signer { key, round: federation.round })
    }

    /// The signed statement of the exported `files` and the run's `inputs`, as the manifest
    /// carries it.
    pub fn sign(&self, files: &[ManifestFile], inputs: &ManifestInputs) -> anyhow::Result<Value> {
        let statement = Statement {
            site: self.key.site().to_owned(),
            round: self.round,
            files: files.iter().map(|file| (file.name.clone(), file.sha256.clone())).collect::<BTreeMap<_, _>>(),
            recipe_sha256: inputs.recipe.sha256.clone(),
            plugin_sha256: inputs.plugin.sha256.clone(),
            model_sha256: inputs.model.sha256.clone(),
        };
        let signed = self.key.sign(statement)?;
        Ok(serde_json::to_value(signed).expect("a signed statement serialises"))
    }
}
