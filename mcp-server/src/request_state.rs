//! Integrity-protected `requestState` for multi round-trip requests.
//!
//! A modern server keeps no session, so what it learned in earlier rounds
//! (the client's answers) travels with the client and comes back in
//! `requestState`. The state is sealed with HMAC-SHA256 under a server key
//! and bound to the request it belongs to (method, target and a digest of
//! the arguments) and to an expiry, so a client can neither forge answers
//! nor replay one request's state against another.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use mcp_core::ErrorObject;
use mcp_core::mrtr::InputResponses;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The key that seals `requestState`, and the one before it.
///
/// Random per process by default. Servers behind a load balancer share one
/// key across instances so a retry may land on any of them
/// ([`StateKey::from_secret`]). Rotating ([`StateKey::rotate`]) seals with
/// the new key and still opens what the previous one sealed, so states in
/// flight survive one rotation, and no more. Clones share the key: rotate
/// the handle the server was given.
#[derive(Clone)]
pub struct StateKey(Arc<RwLock<Ring>>);

/// The current key and the one it replaced.
struct Ring {
    current: [u8; 32],
    previous: Option<[u8; 32]>,
}

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey([redacted])")
    }
}

impl StateKey {
    /// A key from 32 secret bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(Arc::new(RwLock::new(Ring {
            current: bytes,
            previous: None,
        })))
    }

    /// A key from a shared secret (the same on every instance): its
    /// SHA-256, so any text of at least 32 bytes will do (`openssl rand
    /// -base64 32`).
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) when the secret is shorter
    /// than 32 bytes: too little to resist guessing.
    pub fn from_secret(secret: &mcp_core::secret::Secret) -> Result<Self, crate::Error> {
        Ok(Self::new(Self::derive(secret)?))
    }

    fn derive(secret: &mcp_core::secret::Secret) -> Result<[u8; 32], crate::Error> {
        let text = secret.expose().trim();
        if text.len() < 32 {
            return Err(crate::Error::Config(format!(
                "the request-state key must be at least 32 bytes of secret text; it has {}",
                text.len()
            )));
        }
        Ok(Sha256::digest(text.as_bytes()).into())
    }

    /// Seals with `next` from now on; what the current key sealed still
    /// opens, what the one before it sealed no longer does.
    pub fn rotate(&self, next: [u8; 32]) {
        let mut ring = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if ring.current != next {
            ring.previous = Some(ring.current);
            ring.current = next;
        }
    }

    /// [`rotate`](Self::rotate) to the key derived from `secret`, as
    /// [`from_secret`](Self::from_secret) derives it; rotating to the
    /// current secret again changes nothing.
    ///
    /// # Errors
    /// As [`from_secret`](Self::from_secret).
    pub fn rotate_to(&self, secret: &mcp_core::secret::Secret) -> Result<(), crate::Error> {
        self.rotate(Self::derive(secret)?);
        Ok(())
    }

    /// A fresh random key.
    ///
    /// # Panics
    /// If the operating system has no random source, which leaves no safe
    /// way to run a server.
    #[expect(clippy::panic, reason = "no CSPRNG means no safe way to continue")]
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        if let Err(e) = getrandom::fill(&mut bytes) {
            panic!("no random source for the request-state key: {e}");
        }
        Self::new(bytes)
    }

    /// The keys to open with, current first.
    fn keys(&self) -> ([u8; 32], Option<[u8; 32]>) {
        let ring = self.0.read().unwrap_or_else(PoisonError::into_inner);
        (ring.current, ring.previous)
    }

    fn mac(key: &[u8; 32]) -> Hmac<Sha256> {
        // HMAC takes keys of any length; 32 bytes cannot fail.
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
    }
}

/// What the sealed state carries.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct State {
    /// Format version.
    v: u8,
    /// The request this state belongs to: hex SHA-256 of method, target
    /// and arguments.
    d: String,
    /// Unix seconds after which the state is refused.
    e: u64,
    /// Answers received in earlier rounds.
    pub(crate) a: InputResponses,
    /// Keys asked in the last round, which the retry may answer.
    pub(crate) p: Vec<String>,
}

/// A digest identifying one logical request across its rounds, and who
/// made it: a state sealed for one principal does not open for another.
pub(crate) fn request_digest(
    method: &str,
    target: &str,
    arguments: &impl Serialize,
    principal: Option<&str>,
) -> String {
    let mut h = Sha256::new();
    h.update(principal.unwrap_or_default().as_bytes());
    h.update([0]);
    h.update(method.as_bytes());
    h.update([0]);
    h.update(target.as_bytes());
    h.update([0]);
    // serde_json's map keeps keys sorted, so equal arguments hash equally.
    h.update(serde_json::to_vec(arguments).unwrap_or_default());
    mcp_core::hex::encode(&h.finalize())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl StateKey {
    pub(crate) fn seal(
        &self,
        digest: String,
        answers: InputResponses,
        pending: Vec<String>,
        ttl: Duration,
    ) -> String {
        let state = State {
            v: 1,
            d: digest,
            e: now().saturating_add(ttl.as_secs()),
            a: answers,
            p: pending,
        };
        let body = serde_json::to_vec(&state).unwrap_or_default();
        let mut mac = Self::mac(&self.keys().0);
        mac.update(&body);
        let tag = mac.finalize().into_bytes();
        format!("{}.{}", B64.encode(&body), B64.encode(tag))
    }

    /// Opens a state echoed by the client for the request with `digest`.
    pub(crate) fn open(&self, token: &str, digest: &str) -> Result<State, ErrorObject> {
        let invalid =
            |why: &str| ErrorObject::invalid_params(format!("Invalid requestState: {why}"));
        let (body, tag) = token.split_once('.').ok_or_else(|| invalid("malformed"))?;
        let body = B64.decode(body).map_err(|_| invalid("malformed"))?;
        let tag = B64.decode(tag).map_err(|_| invalid("malformed"))?;
        // Constant-time comparisons, with the current key and the one
        // before it.
        let (current, previous) = self.keys();
        let verifies = |key: &[u8; 32]| {
            let mut mac = Self::mac(key);
            mac.update(&body);
            mac.verify_slice(&tag).is_ok()
        };
        if !verifies(&current) && !previous.as_ref().is_some_and(verifies) {
            return Err(invalid("not issued by this server"));
        }
        let state: State = serde_json::from_slice(&body).map_err(|_| invalid("malformed"))?;
        if state.d != digest {
            return Err(invalid("issued for a different request"));
        }
        if state.e < now() {
            return Err(invalid("expired"));
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_survives_one_rotation_and_not_two() {
        let key = StateKey::from_secret(&mcp_core::secret::Secret::new("a".repeat(40))).unwrap();
        let server = key.clone();
        let d = request_digest("tools/call", "t", &serde_json::json!({}), None);
        let sealed = server.seal(
            d.clone(),
            InputResponses::default(),
            Vec::new(),
            Duration::from_secs(60),
        );
        key.rotate_to(&mcp_core::secret::Secret::new("b".repeat(40)))
            .unwrap();
        assert!(server.open(&sealed, &d).is_ok());
        // Rotating to the same secret again is no rotation.
        key.rotate_to(&mcp_core::secret::Secret::new("b".repeat(40)))
            .unwrap();
        assert!(server.open(&sealed, &d).is_ok());
        key.rotate_to(&mcp_core::secret::Secret::new("c".repeat(40)))
            .unwrap();
        let e = server.open(&sealed, &d).unwrap_err();
        assert!(e.message().contains("not issued by this server"), "{e}");
        assert!(StateKey::from_secret(&mcp_core::secret::Secret::new("short")).is_err());
    }

    #[test]
    fn sealed_state_opens_only_for_its_request_and_key() {
        let key = StateKey::random();
        let d = request_digest(
            "tools/call",
            "book",
            &serde_json::json!({"city": "Paris"}),
            None,
        );
        let token = key.seal(
            d.clone(),
            InputResponses::new(),
            vec!["0:elicitation/create".into()],
            Duration::from_secs(60),
        );
        assert_eq!(key.open(&token, &d).unwrap().p, ["0:elicitation/create"]);
        // Another request.
        let other = request_digest(
            "tools/call",
            "book",
            &serde_json::json!({"city": "Rome"}),
            None,
        );
        let someone_else = request_digest(
            "tools/call",
            "book",
            &serde_json::json!({"city": "Paris"}),
            Some("https://as.example mallory"),
        );
        assert_ne!(d, someone_else);
        assert!(
            key.open(&token, &other)
                .unwrap_err()
                .message()
                .contains("different request")
        );
        // Another key.
        assert!(
            StateKey::random()
                .open(&token, &d)
                .unwrap_err()
                .message()
                .contains("not issued")
        );
        // Tampered body.
        let (body, tag) = token.split_once('.').unwrap();
        let mut forged = B64.decode(body).unwrap();
        forged[5] ^= 1;
        let forged = format!("{}.{tag}", B64.encode(forged));
        assert!(key.open(&forged, &d).is_err());
        assert!(key.open("garbage", &d).is_err());
        // Expired.
        let old = key.seal(d.clone(), InputResponses::new(), vec![], Duration::ZERO);
        let mut state: State =
            serde_json::from_slice(&B64.decode(old.split_once('.').unwrap().0).unwrap()).unwrap();
        assert!(state.e <= now());
        state.e = 0;
        let body = serde_json::to_vec(&state).unwrap();
        let mut mac = StateKey::mac(&key.keys().0);
        mac.update(&body);
        let expired = format!(
            "{}.{}",
            B64.encode(&body),
            B64.encode(mac.finalize().into_bytes())
        );
        assert!(
            key.open(&expired, &d)
                .unwrap_err()
                .message()
                .contains("expired")
        );
    }
}
