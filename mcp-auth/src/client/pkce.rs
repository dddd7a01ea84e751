//! PKCE (RFC 7636, `S256` only) and the `state` parameter: the two values
//! that tie an authorization response to the request that asked for it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::client::Secret;
use crate::error::Error;

/// The only code challenge method used: `S256`. `plain` is never sent.
pub const S256: &str = "S256";

/// Random bytes in a verifier: 256 bits, 43 characters once encoded.
const VERIFIER_BYTES: usize = 32;
/// Random bytes in a `state`: 256 bits, well over the 128 asked for.
const STATE_BYTES: usize = 32;

/// `n` random bytes, base64url without padding (only unreserved
/// characters).
pub(crate) fn random_b64(n: usize) -> Result<String, Error> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Unavailable(format!("no randomness from the system: {e}").into()))?;
    Ok(B64.encode(bytes))
}

/// A PKCE pair: the verifier the client keeps, and the challenge
/// (`BASE64URL(SHA256(verifier))`) it sends with the authorization request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Pkce {
    verifier: Secret,
    challenge: String,
}

impl Pkce {
    /// A fresh pair; the verifier carries 256 bits from the system's
    /// random source.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the system has no randomness to give.
    pub fn generate() -> Result<Self, Error> {
        Self::from_verifier(Secret::new(random_b64(VERIFIER_BYTES)?))
    }

    /// The pair for a given verifier (to resume a flow, or in tests).
    ///
    /// # Errors
    /// [`Error::Config`] when the verifier is not 43 to 128 characters of
    /// `A-Z a-z 0-9 - . _ ~` (RFC 7636 §4.1).
    pub fn from_verifier(verifier: Secret) -> Result<Self, Error> {
        let v = verifier.expose();
        let unreserved =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if !(43..=128).contains(&v.len()) || !v.bytes().all(unreserved) {
            return Err(Error::Config(
                "a PKCE verifier is 43 to 128 unreserved characters"
                    .to_owned()
                    .into(),
            ));
        }
        let challenge = B64.encode(Sha256::digest(v.as_bytes()));
        Ok(Self {
            verifier,
            challenge,
        })
    }

    /// The verifier, sent only to the token endpoint.
    pub fn verifier(&self) -> &Secret {
        &self.verifier
    }

    /// The challenge, sent with the authorization request.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }

    /// The challenge method: always [`S256`].
    pub fn method(&self) -> &'static str {
        S256
    }
}

/// The `state` of one authorization request: random, and compared in
/// constant time. `Debug` does not show it.
#[derive(Clone)]
#[non_exhaustive]
pub struct State(String);

impl State {
    /// A fresh state with 256 bits from the system's random source.
    ///
    /// # Errors
    /// [`Error::Unavailable`] when the system has no randomness to give.
    pub fn generate() -> Result<Self, Error> {
        Ok(Self(random_b64(STATE_BYTES)?))
    }

    /// The value, as sent in the authorization request.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `received` is this state, compared in constant time.
    pub fn matches(&self, received: &str) -> bool {
        self.0.as_bytes().ct_eq(received.as_bytes()).into()
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("State([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let verifier = Secret::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        let pkce = Pkce::from_verifier(verifier).unwrap();
        assert_eq!(
            pkce.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(pkce.method(), "S256");
    }

    #[test]
    fn generated_verifiers_are_long_unreserved_and_fresh() {
        let a = Pkce::generate().unwrap();
        let b = Pkce::generate().unwrap();
        let v = a.verifier().expose();
        assert_eq!(v.len(), 43, "32 bytes, base64url");
        assert!(
            v.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(v, b.verifier().expose());
        assert_eq!(a.challenge().len(), 43);
        assert!(!format!("{a:?}").contains(v), "{a:?}");
    }

    #[test]
    fn verifier_shape_is_checked() {
        for bad in [
            "a".repeat(42),
            "a".repeat(129),
            format!("{}+", "a".repeat(42)),
        ] {
            assert!(matches!(
                Pkce::from_verifier(Secret::new(bad)),
                Err(Error::Config(_))
            ));
        }
        for good in ["a".repeat(43), "~._-".repeat(32)] {
            Pkce::from_verifier(Secret::new(good)).unwrap();
        }
    }

    #[test]
    fn state_is_random_and_compared_whole() {
        let s = State::generate().unwrap();
        assert!(s.as_str().len() >= 22, "at least 128 bits");
        assert_ne!(s.as_str(), State::generate().unwrap().as_str());
        assert!(s.matches(s.as_str()));
        assert!(!s.matches(&s.as_str()[1..]));
        assert!(!s.matches(""));
        assert!(!s.matches(&format!("{}x", s.as_str())));
        assert_eq!(format!("{s:?}"), "State([redacted])");
    }
}
