//! Reading a JSON file of a model (`config.json`, `tokenizer_config.json`, a shard
//! index), with errors that name the file.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Read and deserialize a JSON file.
pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}
