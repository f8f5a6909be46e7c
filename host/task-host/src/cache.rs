//! Compiled components cached on disk, so a plugin is compiled once per host build.
//!
//! A cache file is `<dir>/<key>.cwasm`, where `key` is the sha256 of the component's
//! bytes and of the engine's compatibility hash (wasmtime's version, its compiler and
//! configuration). The file holds a magic line, the sha256 of the payload, then the
//! payload produced by `Component::serialize`.
//!
//! Why the checksum: `Component::deserialize` trusts its bytes completely (they are
//! machine code), so a truncated, corrupted or foreign file must be rejected before
//! wasmtime sees it. The file is read once into memory, checked, and the checked bytes are
//! the ones deserialized — never the file again, which could change in between. A file
//! that fails the check is deleted and the component recompiled. The checksum detects
//! accidents, not an attacker who can write the cache folder: that folder must be as
//! trusted as the `rapha-host` binary itself.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::error::{Error, Result};

const MAGIC: &[u8] = b"rapha-task-host cwasm v1\n";
const CHECKSUM_LEN: usize = 32;

/// How a component was obtained on load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheStatus {
    /// A checked cache file was deserialized.
    Hit,
    /// No cache file existed: compiled and written.
    Miss,
    /// A cache file existed but failed the checksum or wasmtime's own compatibility
    /// check: deleted, compiled again and rewritten.
    Rejected,
}

#[derive(Clone)]
pub(crate) struct ComponentCache {
    dir: PathBuf,
    /// The engine's compatibility hash, computed once.
    engine_key: [u8; 32],
}

impl ComponentCache {
    pub(crate) fn new(dir: PathBuf, engine: &Engine) -> Self {
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ComponentCache {
            dir,
            engine_key: hasher.0.finalize().into(),
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The cache file for a component whose bytes hash to `component_sha256`.
    pub(crate) fn path_for(&self, component_sha256: &[u8; 32]) -> PathBuf {
        let mut key = Sha256::new();
        key.update(component_sha256);
        key.update(self.engine_key);
        self.dir.join(format!("{}.cwasm", hex::encode(key.finalize())))
    }

    /// The component from the cache, or compiled by `compile` and written to the cache.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        component_sha256: &[u8; 32],
        compile: impl FnOnce() -> Result<Component>,
    ) -> Result<(Component, CacheStatus)> {
        let path = self.path_for(component_sha256);
        let status = match fs::read(&path) {
            Ok(bytes) => match checked_payload(&bytes) {
                Some(payload) => {
                    // SAFETY: `payload` is the exact byte string this host wrote after
                    // `Component::serialize` with an engine of the same compatibility hash
                    // (the file name), as its checksum proves; it is deserialized from
                    // memory, so the file cannot change after the check.
                    match unsafe { Component::deserialize(engine, payload) } {
                        Ok(component) => return Ok((component, CacheStatus::Hit)),
                        Err(error) => {
                            tracing::warn!(
                                path = %path.display(),
                                error = %error,
                                "cached component refused by wasmtime; recompiling"
                            );
                            CacheStatus::Rejected
                        }
                    }
                }
                None => {
                    tracing::warn!(
                        path = %path.display(),
                        "cached component failed its checksum; recompiling"
                    );
                    CacheStatus::Rejected
                }
            },
            Err(error) if error.kind() == io::ErrorKind::NotFound => CacheStatus::Miss,
            Err(error) => {
                tracing::warn!(
                    path = %path.display(),
                    error = %error,
                    "cached component unreadable; recompiling"
                );
                CacheStatus::Rejected
            }
        };
        if status == CacheStatus::Rejected {
            remove_stale(&path)?;
        }
        let component = compile()?;
        self.store(&path, &component)?;
        Ok((component, status))
    }

    /// Write the cache file: to a temporary name first, then renamed, so a reader never
    /// sees half a file under the final name.
    fn store(&self, path: &Path, component: &Component) -> Result<()> {
        let payload = component.serialize().map_err(|error| Error::Cache {
            path: path.to_owned(),
            action: "serialize the compiled component",
            source: io::Error::other(error.into_boxed_dyn_error()),
        })?;
        fs::create_dir_all(&self.dir).map_err(|source| Error::Cache {
            path: self.dir.clone(),
            action: "create the folder",
            source,
        })?;
        // Unique per process and per store, since threads of one process may compile the
        // same component at once; the last rename wins and the contents are identical.
        static STORES: AtomicU64 = AtomicU64::new(0);
        let store = STORES.fetch_add(1, Ordering::Relaxed);
        let temporary = path.with_extension(format!("cwasm.tmp-{}-{store}", std::process::id()));
        let write = || -> io::Result<()> {
            let mut file = fs::File::create(&temporary)?;
            file.write_all(MAGIC)?;
            file.write_all(&Sha256::digest(&payload))?;
            file.write_all(&payload)?;
            file.sync_all()?;
            fs::rename(&temporary, path)
        };
        write().map_err(|source| {
            // The temporary file is useless after a failed write; if it cannot be removed
            // either, it is only a stray file in the cache folder.
            let _removed = fs::remove_file(&temporary);
            Error::Cache {
                path: path.to_owned(),
                action: "write the file",
                source,
            }
        })
    }
}

/// The payload of a cache file whose magic and checksum are right.
fn checked_payload(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(MAGIC)?;
    if rest.len() < CHECKSUM_LEN {
        return None;
    }
    let (checksum, payload) = rest.split_at(CHECKSUM_LEN);
    (Sha256::digest(payload).as_slice() == checksum).then_some(payload)
}

fn remove_stale(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Cache {
            path: path.to_owned(),
            action: "remove the rejected file",
            source,
        }),
    }
}

/// Feeds `Hash` implementations into sha256, to turn wasmtime's compatibility hash into a
/// stable file name (std's `DefaultHasher` is not guaranteed stable across releases).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        let mut first = [0; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(payload: &[u8]) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&Sha256::digest(payload));
        bytes.extend_from_slice(payload);
        bytes
    }

    #[test]
    fn accepts_a_file_whose_checksum_matches() {
        let bytes = file_with(b"compiled code");
        assert_eq!(checked_payload(&bytes), Some(&b"compiled code"[..]));
    }

    #[test]
    fn rejects_a_flipped_bit_a_truncation_and_a_foreign_file() {
        let mut flipped = file_with(b"compiled code");
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(checked_payload(&flipped), None);

        let good = file_with(b"compiled code");
        assert_eq!(checked_payload(&good[..good.len() - 1]), None);
        assert_eq!(checked_payload(&good[..MAGIC.len() + 3]), None);

        assert_eq!(checked_payload(b"\x7fELF not ours"), None);
    }
}
