//! sha256 digests of the inputs, streamed: what `run.json` pins and the manifest names.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use sha2::{Digest, Sha256};

/// sha256 of a file.
pub fn hash_file(path: &Path) -> anyhow::Result<String> {
    let mut file = rapha_sandbox::input::open_regular(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).with_context(|| format!("cannot read `{}`", path.display()))?;
        if read == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}

/// sha256 of a model: its file, or for a folder the sorted list of `name sha256` lines of
/// its regular files, so renaming, adding or changing a file changes the hash.
pub fn hash_model(path: &Path) -> anyhow::Result<String> {
    if !path.is_dir() {
        return hash_file(path);
    }
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(path).with_context(|| format!("cannot list `{}`", path.display()))? {
        let entry = entry.with_context(|| format!("cannot list `{}`", path.display()))?;
        if entry.file_type().with_context(|| format!("cannot inspect `{}`", entry.path().display()))?.is_file() {
            lines.push(format!("{} {}\n", entry.file_name().to_string_lossy(), hash_file(&entry.path())?));
        }
    }
    lines.sort();
    Ok(hex::encode(Sha256::digest(lines.concat())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_folder_hash_covers_names_and_contents() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("config.json"), "{}").expect("write");
        std::fs::write(dir.path().join("model.safetensors"), "w").expect("write");
        let first = hash_model(dir.path()).expect("hash");
        std::fs::rename(dir.path().join("model.safetensors"), dir.path().join("other.safetensors")).expect("rename");
        assert_ne!(first, hash_model(dir.path()).expect("hash"));
    }
}
