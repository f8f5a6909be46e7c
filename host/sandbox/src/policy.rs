//! What the export folder accepts: file types, sizes, and content thresholds.

use std::path::Path;

/// The kinds of file that may leave, by extension. Nothing else may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    /// `.safetensors`: adapter weights.
    Safetensors,
    /// `.json`: adapter config, metrics, manifest, loss history.
    Json,
    /// `.txt`: reports rendered from a fixed template.
    Text,
}

impl FileKind {
    /// The kind of a file name, from its extension, or `None` when the type is
    /// not allowed.
    pub fn of(name: &str) -> Option<FileKind> {
        match Path::new(name).extension()?.to_str()? {
            "safetensors" => Some(FileKind::Safetensors),
            "json" => Some(FileKind::Json),
            "txt" => Some(FileKind::Text),
            _ => None,
        }
    }
}

/// The gate's settings. Nothing is allowed unless listed here.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Cap per `.safetensors` file. 256 MiB holds rank-64 adapters on all seven
    /// projections of an 8B model; a larger file is not an adapter.
    pub max_safetensors_bytes: u64,
    /// Cap per `.json` file. Metrics and configs are a few KiB; a large JSON file
    /// is a dump of something else.
    pub max_json_bytes: u64,
    /// Cap per `.txt` file. Reports are a few KiB.
    pub max_text_bytes: u64,
    /// Cap on everything exported together.
    pub max_total_bytes: u64,
    /// Longest run of printable ASCII bytes allowed in a `.safetensors` tensor
    /// data section unless it is float-like (its elements share their top byte, as
    /// weights of one binade do). Random float bytes rarely form runs of 24 (p ≈
    /// 5·10⁻¹¹ per offset); plain text hidden in a tensor always does.
    pub max_ascii_run: usize,
    /// Length, in words, of a run copied from the training or evaluation text
    /// that makes a text refused.
    pub verbatim_words: usize,
    /// Longest string value allowed in an exported JSON document. Names, ids and
    /// hashes are short; free text is not.
    pub max_json_string_chars: usize,
    /// Metadata keys allowed in a `.safetensors` header (`__metadata__`).
    pub safetensors_metadata_keys: Vec<String>,
}

impl Policy {
    /// The defaults: `.safetensors` ≤ 256 MiB, `.json` ≤ 1 MiB, `.txt` ≤ 64 KiB,
    /// 512 MiB in all; printable-ASCII runs in tensor data < 24 bytes; no copied
    /// run of 8 words; JSON strings ≤ 160 characters; only the `format`
    /// metadata key.
    pub fn new() -> Self {
        Policy {
            max_safetensors_bytes: 256 << 20,
            max_json_bytes: 1 << 20,
            max_text_bytes: 64 << 10,
            max_total_bytes: 512 << 20,
            max_ascii_run: 24,
            verbatim_words: 8,
            max_json_string_chars: 160,
            safetensors_metadata_keys: vec!["format".to_owned()],
        }
    }

    /// The cap for one file of `kind`.
    pub fn max_bytes(&self, kind: FileKind) -> u64 {
        match kind {
            FileKind::Safetensors => self.max_safetensors_bytes,
            FileKind::Json => self.max_json_bytes,
            FileKind::Text => self.max_text_bytes,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new()
    }
}
