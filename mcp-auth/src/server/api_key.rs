//! API keys for internal agents and server-to-server calls: stored hashed,
//! compared in constant time, each mapped to a subject and scopes, and
//! replaceable while the server runs.

use std::sync::{PoisonError, RwLock};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::identity::Identity;
use super::verifier::TokenVerifier;
use crate::error::Error;

/// The caller class of API keys' identities that were given none.
const API_KEY: &str = "api-key";

/// A set of API keys, sent as `Authorization: Bearer <key>`.
/// Their identities are of the caller class `"api-key"` unless given
/// another ([`Identity::with_class`]), so rate limits can treat them apart
/// from users.
///
/// Only SHA-256 hashes are kept, so a memory dump or a configuration file
/// ([`ApiKeys::insert_hash`]) does not reveal keys. Keys should be long
/// random strings (32 bytes of randomness or more): a fast hash is enough
/// for them, unlike for passwords.
#[derive(Debug, Default)]
pub struct ApiKeys {
    keys: RwLock<Vec<([u8; 32], Identity)>>,
}

impl ApiKeys {
    /// No keys yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The hash under which `key` is stored, hex-encoded (for
    /// configuration files).
    pub fn hash(key: &str) -> String {
        mcp_core::hex::encode(&Sha256::digest(key.as_bytes()))
    }

    /// Accepts `key` as `identity`.
    pub fn insert(&self, key: &str, identity: Identity) {
        self.insert_digest(Sha256::digest(key.as_bytes()).into(), identity);
    }

    /// Accepts the key whose [`hash`](Self::hash) is `hex`.
    ///
    /// # Errors
    /// [`Error::Config`] when `hex` is not 64 hex digits.
    pub fn insert_hash(&self, hex: &str, identity: Identity) -> Result<(), Error> {
        let digest = mcp_core::hex::decode(hex)
            .ok_or_else(|| Error::Config("an API key hash is 64 hex digits".into()))?;
        self.insert_digest(digest, identity);
        Ok(())
    }

    fn insert_digest(&self, digest: [u8; 32], identity: Identity) {
        let identity = identity.or_class(API_KEY).uncached();
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        keys.retain(|(d, _)| *d != digest);
        keys.push((digest, identity));
    }

    /// Stops accepting `key`; whether it was accepted.
    pub fn remove(&self, key: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        let before = keys.len();
        keys.retain(|(d, _)| *d != digest);
        keys.len() != before
    }

    /// Replaces every key at once (a rotation read from a file, say).
    pub fn replace(&self, keys: impl IntoIterator<Item = (String, Identity)>) {
        let new: Vec<_> = keys
            .into_iter()
            .map(|(key, identity)| {
                let digest = Sha256::digest(key.as_bytes()).into();
                (digest, identity.or_class(API_KEY).uncached())
            })
            .collect();
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = new;
    }

    /// Replaces every key with those listed in `text` (a mounted secret
    /// file, say): one key per line as `HASH:SUBJECT[:SCOPES]`, the key's
    /// SHA-256 in hex ([`hash`](Self::hash)), who it stands for, and its
    /// scopes separated by commas; blank lines and `#` comments are
    /// skipped. All or nothing: with a malformed line nothing changes.
    /// Returns how many keys are accepted now.
    ///
    /// # Errors
    /// [`Error::Config`] naming the line (by number, never its content).
    pub fn load(&self, text: &str) -> Result<usize, Error> {
        let mut new = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || {
                Error::Config(format!("API key line {} is not HASH:SUBJECT[:SCOPES]", n + 1).into())
            };
            let mut parts = line.splitn(3, ':');
            let (Some(hex), Some(subject)) = (parts.next(), parts.next()) else {
                return Err(bad());
            };
            let digest = mcp_core::hex::decode(hex).ok_or_else(bad)?;
            if subject.is_empty() {
                return Err(bad());
            }
            let scopes = parts
                .next()
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            new.push((
                digest,
                Identity::new(subject, scopes).or_class(API_KEY).uncached(),
            ));
        }
        let count = new.len();
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = new;
        Ok(count)
    }
}

#[async_trait::async_trait]
impl TokenVerifier for ApiKeys {
    async fn verify(&self, token: &str) -> Result<Identity, Error> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        // Every stored hash is compared, and in constant time, so timing
        // says nothing about how close a guess came or which key matched.
        let mut found = None;
        for (stored, identity) in keys.iter() {
            if bool::from(stored.ct_eq(&digest)) {
                found = Some(identity.clone());
            }
        }
        drop(keys);
        found.ok_or_else(|| Error::Unrecognized("not a known API key".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_rotate_without_restart() {
        let keys = ApiKeys::new();
        keys.insert("old-key", Identity::new("agent", ["mcp:read".to_owned()]));
        let identity = keys.verify("old-key").await.unwrap();
        assert_eq!(identity.subject(), Some("agent"));
        keys.replace([("new-key".to_owned(), Identity::new("agent", []))]);
        assert!(keys.verify("old-key").await.is_err());
        assert!(keys.verify("new-key").await.is_ok());
        keys.insert_hash(&ApiKeys::hash("hashed"), Identity::new("ops", []))
            .unwrap();
        assert!(keys.verify("hashed").await.is_ok());
        assert!(keys.remove("hashed"));
        assert!(keys.verify("hashed").await.is_err());
        assert!(keys.insert_hash("xyz", Identity::new("x", [])).is_err());
    }
}
