//! Each site's ed25519 key, and its signature over what it sends the server: a statement of
//! the round, the hash of every file its export holds (the adapter's among them) and the
//! hashes of the recipe, plugin and base model it trained with. The manifest carries it.
//! The server verifies a reply against the federation's known public keys before it
//! aggregates anything; a changed tensor changes the adapter's hash, so it breaks the
//! signature too.
//!
//! The statement names no data path and holds no count: only names, hashes and the round.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use rand::TryRngCore as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a site signs. Serialised with its fields in this order, which the signature covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// The signing site's name, as its public key is registered.
    pub site: String,
    /// The round this reply answers.
    pub round: u64,
    /// Every exported file (the manifest aside) → its sha256.
    pub files: BTreeMap<String, String>,
    pub recipe_sha256: String,
    pub plugin_sha256: String,
    pub model_sha256: String,
}

/// A statement and the site's signature over it (the manifest's `signature`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    pub statement: Statement,
    /// 64 bytes, hex.
    pub signature: String,
}

/// A site's public key (`<site>.pub.json`), what the server is given for every site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKey {
    pub site: String,
    /// 32 bytes, hex.
    pub key: String,
}

/// A site's key pair; the secret half never leaves the site (`<site>.key`, owner-only).
pub struct SiteKey {
    site: String,
    key: SigningKey,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretFile {
    site: String,
    secret: String,
}

/// What a site name is, as messages say it.
pub const SITE_NAME_RULE: &str = "1 to 48 of lowercase letters, digits and `-`";

/// Whether `name` is a site name ([`SITE_NAME_RULE`]). It names the site's key files, so
/// nothing else (no `/`, no `..`) may be in it.
pub fn is_site_name(name: &str) -> bool {
    (1..=48).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl SiteKey {
    /// A new key pair for `site` (a [site name](is_site_name)), from the operating system's
    /// randomness.
    pub fn generate(site: &str) -> Result<SiteKey> {
        if !is_site_name(site) {
            return Err(Error::Signature(format!("site name `{site}`: expected {SITE_NAME_RULE}")));
        }
        let mut secret = [0u8; 32];
        rand::rngs::OsRng
            .try_fill_bytes(&mut secret)
            .map_err(|error| Error::Signature(format!("no randomness from the operating system: {error}")))?;
        Ok(SiteKey { site: site.to_owned(), key: SigningKey::from_bytes(&secret) })
    }

    pub fn site(&self) -> &str {
        &self.site
    }

    pub fn public(&self) -> PublicKey {
        PublicKey { site: self.site.clone(), key: hex::encode(self.key.verifying_key().as_bytes()) }
    }

    /// Write `<dir>/<site>.key` (readable by its owner only) and `<dir>/<site>.pub.json`;
    /// an existing file is never replaced. Their paths.
    pub fn save(&self, dir: &Path) -> Result<(PathBuf, PathBuf)> {
        let (secret_path, public_path) = (dir.join(format!("{}.key", self.site)), dir.join(format!("{}.pub.json", self.site)));
        if let Some(taken) = [&secret_path, &public_path].into_iter().find(|path| path.exists()) {
            return Err(Error::Key { path: taken.clone(), reason: "already exists: a key is never replaced".to_owned() });
        }
        let secret = SecretFile { site: self.site.clone(), secret: hex::encode(self.key.to_bytes()) };
        write_new(&secret_path, &pretty(&secret), 0o600)?;
        write_new(&public_path, &pretty(&self.public()), 0o644)?;
        Ok((secret_path, public_path))
    }

    /// The key pair in `path` (a `<site>.key`).
    pub fn load(path: &Path) -> Result<SiteKey> {
        let file: SecretFile = read_json(path)?;
        let bytes: [u8; 32] = decode(&file.secret, path, "secret")?;
        Ok(SiteKey { site: file.site, key: SigningKey::from_bytes(&bytes) })
    }

    /// `statement` signed by this site; refused when it names another site.
    pub fn sign(&self, statement: Statement) -> Result<Signed> {
        if statement.site != self.site {
            return Err(Error::Signature(format!("the key of `{}` cannot sign for `{}`", self.site, statement.site)));
        }
        let signature = self.key.sign(&canonical(&statement));
        Ok(Signed { statement, signature: hex::encode(signature.to_bytes()) })
    }
}

impl PublicKey {
    /// The public key in `path` (a `<site>.pub.json`).
    pub fn load(path: &Path) -> Result<PublicKey> {
        let key: PublicKey = read_json(path)?;
        let bytes: [u8; 32] = decode(&key.key, path, "key")?;
        VerifyingKey::from_bytes(&bytes).map_err(|error| Error::Key { path: path.to_owned(), reason: format!("not an ed25519 public key: {error}") })?;
        Ok(key)
    }
}

/// Check that `signed` is signed by the key `trusted` holds for its site; the site's name.
pub fn verify<'k>(signed: &Signed, trusted: &'k [PublicKey]) -> Result<&'k str> {
    let site = &signed.statement.site;
    let known = trusted
        .iter()
        .find(|key| key.site == *site)
        .ok_or_else(|| Error::Signature(format!("site `{site}` is not among the federation's public keys")))?;
    let invalid = |what: &str| Error::Signature(format!("site `{site}`: {what}"));
    let key_bytes: [u8; 32] = hex::decode(&known.key).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| invalid("its public key is not 32 bytes of hex"))?;
    let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| invalid("its public key is not an ed25519 key"))?;
    let signature: [u8; 64] = hex::decode(&signed.signature).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| invalid("the signature is not 64 bytes of hex"))?;
    key.verify(&canonical(&signed.statement), &Signature::from_bytes(&signature))
        .map_err(|_| invalid("the signature does not match the statement (changed after signing, or signed by another key)"))?;
    Ok(&known.site)
}

/// The bytes signed: the statement's compact JSON, fields in declaration order.
fn canonical(statement: &Statement) -> Vec<u8> {
    serde_json::to_vec(statement).expect("a statement serialises")
}

fn decode<const N: usize>(text: &str, path: &Path, field: &str) -> Result<[u8; N]> {
    hex::decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| Error::Key { path: path.to_owned(), reason: format!("`{field}`: expected {N} bytes as hex") })
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).map_err(|error| Error::Key { path: path.to_owned(), reason: format!("cannot read it: {error}") })?;
    serde_json::from_str(&text).map_err(|error| Error::Key { path: path.to_owned(), reason: format!("not a key file: {error}") })
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<()> {
    let write = || -> std::io::Result<()> {
        let mut file = OpenOptions::new().write(true).create_new(true).mode(mode).open(path)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    };
    write().map_err(|source| Error::Write { path: path.to_owned(), source })
}

/// Pretty JSON with a final newline, as the key files are written.
fn pretty<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("a key file serialises") + "\n"
}
