//! Generated answers kept by what made them, so a plan run again, or given another plugin
//! that prompts the same way, rescores without regenerating. The key is the sha256 of the
//! model, its quantization, the adapter, the decoding (with the schema that constrains it),
//! the token cap and the prompt's token ids; one small JSON file per answer under
//! `<work>/cache/generations/`, written atomically.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::atomic;

/// One cached answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    /// The generated text, cut before any stop string.
    pub prediction: String,
    /// `eos`, `stop` or `length`.
    pub finish: String,
}

/// What, besides the prompt, decides an answer.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    /// sha256 of the base model.
    pub model: String,
    /// `nf4` or `none`.
    pub quantization: String,
    /// sha256 of the adapter folder, if any.
    pub adapter: Option<String>,
    /// `free` or `schema`.
    pub decoding: String,
    /// The output schema that constrains decoding, when it does.
    pub schema: Option<String>,
    /// Cap on new tokens.
    pub max_new_tokens: usize,
}

impl Setting {
    /// The cache key of the answer to `prompt`.
    pub fn key(&self, prompt: &[u32]) -> String {
        let mut hasher = Sha256::new();
        hasher.update(serde_json::to_vec(self).expect("a setting serialises"));
        for token in prompt {
            hasher.update(token.to_le_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// The cache folder.
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache under the work folder `work`, created if absent.
    pub fn open(work: &Path) -> anyhow::Result<Cache> {
        let dir = work.join("cache").join("generations");
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        Ok(Cache { dir })
    }

    /// Whether an answer is kept under `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.dir.join(format!("{key}.json")).is_file()
    }

    /// The answer kept under `key`, if any.
    pub fn get(&self, key: &str) -> anyhow::Result<Option<Answer>> {
        let path = self.dir.join(format!("{key}.json"));
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| format!("`{}`: expected a cached answer", path.display()))?)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error).with_context(|| format!("cannot read `{}`", path.display())),
        }
    }

    /// Keep `answer` under `key`.
    pub fn put(&self, key: &str, answer: &Answer) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec(answer).expect("an answer serialises");
        atomic::write(&self.dir.join(format!("{key}.json")), &bytes)
    }
}
