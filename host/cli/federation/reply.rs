//! One site's reply to a round, read and verified before anything of it is used: the
//! manifest's signature against the federation's keys; the statement's round, base model
//! and plugin against the round's; the site among those sampled, and the one its node was
//! sampled as; every file's bytes against the hash the site signed; then the adapter, built
//! from those very bytes (its tensors are checked again when aggregated: shapes, finite
//! values).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use candle_core::Device;
use rapha_engine::PeftAdapter;
use rapha_engine::adapter::{ADAPTER_CONFIG, ADAPTER_WEIGHTS};
use rapha_federation::signing::{PublicKey, Signed, verify};
use rapha_sandbox::Manifest;
use sha2::{Digest as _, Sha256};

/// What every reply of the round must agree with.
pub struct Expected<'a> {
    pub round: u64,
    pub model_sha256: &'a str,
    pub plugin_sha256: &'a str,
    /// The sampled sites; empty: any with a known key.
    pub sites: &'a [String],
}

/// An accepted reply.
pub struct Reply {
    pub site: String,
    pub adapter: PeftAdapter,
    /// Training records, the reply's weight.
    pub examples: u64,
    /// The site's test table as its export gives it (`metrics.json`'s `metrics`): `base` is
    /// the model the round started from (the previous round's global adapter after round 1),
    /// `adapter` the site's adapter after the round.
    pub metrics: serde_json::Value,
}

/// Larger than any manifest a run writes.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// The reply in `dir`, or why it is refused.
/// `node_site`: the site the node that sent the reply was sampled as, where the caller knows
/// it (`SITE=DIR`); the reply must be signed by that site.
pub fn read(dir: &Path, node_site: Option<&str>, expected: &Expected<'_>, trusted: &[PublicKey]) -> anyhow::Result<Reply> {
    let path = dir.join("manifest.json");
    let bytes = rapha_sandbox::input::read_capped(&path, MAX_MANIFEST_BYTES).with_context(|| format!("cannot read `{}`", path.display()))?;
    let manifest: Manifest = serde_json::from_slice(&bytes).with_context(|| format!("`{}` is not an export's manifest", path.display()))?;
    let signed: Signed = serde_json::from_value(manifest.signature.clone().context("the manifest is not signed (not a federated run's export)")?)
        .context("the manifest's `signature` is malformed")?;
    let site = verify(&signed, trusted)?.to_owned();
    let statement = &signed.statement;
    let checks = [
        (statement.round == expected.round, format!("it answers round {}, this is round {}", statement.round, expected.round)),
        (statement.model_sha256 == expected.model_sha256, format!("trained on another base model (sha256 {})", statement.model_sha256)),
        (statement.plugin_sha256 == expected.plugin_sha256, format!("trained with another plugin (sha256 {})", statement.plugin_sha256)),
        (expected.sites.is_empty() || expected.sites.contains(&site), format!("site `{site}` was not sampled for this round")),
        (node_site.is_none_or(|node| node == site), format!("the node sampled as `{}` sent a reply signed by `{site}`", node_site.unwrap_or_default())),
        (statement.recipe_sha256 == manifest.inputs.recipe.sha256 && statement.model_sha256 == manifest.inputs.model.sha256
            && statement.plugin_sha256 == manifest.inputs.plugin.sha256, "the manifest's inputs differ from the signed ones".to_owned()),
    ];
    if let Some((_, reason)) = checks.into_iter().find(|(ok, _)| !ok) {
        bail!("site `{site}`: {reason}");
    }
    let listed: BTreeMap<String, String> = manifest.files.iter().map(|f| (f.name.clone(), f.sha256.clone())).collect();
    if listed != statement.files {
        bail!("site `{site}`: the manifest's files differ from the signed ones");
    }
    let mut verified = BTreeMap::new();
    for (name, sha256) in &statement.files {
        let file = dir.join(name);
        let bytes = std::fs::read(&file).with_context(|| format!("site `{site}`: cannot read `{}`", file.display()))?;
        if hex::encode(Sha256::digest(&bytes)) != *sha256 {
            bail!("site `{site}`: `{name}` is not the file the site signed (its sha256 differs)");
        }
        verified.insert(name.as_str(), bytes);
    }
    let examples = manifest
        .inputs
        .datasets
        .iter()
        .find(|d| d.role == "train")
        .and_then(|d| d.records?.shown())
        .with_context(|| format!("site `{site}`: the manifest gives no training record count"))?;
    let signed_file = |name: &str| verified.get(name).map(Vec::as_slice).with_context(|| format!("site `{site}`: its reply has no signed `{name}`"));
    let adapter = PeftAdapter::from_bytes(dir, signed_file(ADAPTER_CONFIG)?, signed_file(ADAPTER_WEIGHTS)?, &Device::Cpu)
        .with_context(|| format!("site `{site}`: cannot read its adapter"))?;
    let metrics = manifest.metrics.get("metrics").cloned().unwrap_or_default();
    Ok(Reply { site, adapter, examples, metrics })
}
