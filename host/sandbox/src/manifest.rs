//! `manifest.json`: what left, with hashes, and what it was made from.

use serde::{Deserialize, Serialize};

use crate::disclosure::Count;

/// Format version of the manifest document.
pub const MANIFEST_FORMAT: u32 = 1;

/// The export's table of contents: every exported file with its SHA-256, the
/// hashes of the inputs (recipe, base model, plugin, datasets with record
/// counts), the metrics, and the protections the run had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// Every file exported before the manifest, in export order.
    pub files: Vec<ManifestFile>,
    /// What the run was made from.
    pub inputs: ManifestInputs,
    /// The run's metrics (the same document as `metrics.json`).
    pub metrics: serde_json::Value,
    /// The sandbox mode and the kernel protections in force.
    pub sandbox: serde_json::Value,
    /// A federation site's signature over the files above and the inputs (absent outside a
    /// federation): the statement and its ed25519 signature, as `rapha-federation` makes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<serde_json::Value>,
}

/// One exported file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// Its name in the export folder.
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// SHA-256 of its content, lower-case hex.
    pub sha256: String,
}

/// The hashes of what a run read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestInputs {
    /// The recipe file.
    pub recipe: InputHash,
    /// The base model file(s).
    pub model: InputHash,
    /// The task plugin component.
    pub plugin: InputHash,
    /// Each dataset file (`train`, `val`, `test`).
    pub datasets: Vec<InputHash>,
}

/// The hash of one input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputHash {
    /// What it is (`recipe`, `model`, `plugin`, `train`, …).
    pub role: String,
    /// SHA-256, lower-case hex.
    pub sha256: String,
    /// For datasets: how many records were used, under the small-cell rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<Count>,
}
