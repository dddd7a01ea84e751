//! The one trait every way of checking a token implements.

use std::sync::Arc;

use super::identity::Identity;
use crate::error::Error;

/// Turns a bearer token into the [`Identity`] it stands for, or says why
/// not. Object-safe: [`AuthLayer`](crate::AuthLayer) holds an
/// `Arc<dyn TokenVerifier>`.
///
/// Implementations: [`JwtVerifier`](crate::JwtVerifier),
/// [`Introspection`](crate::Introspection), [`ApiKeys`](crate::ApiKeys),
/// and [`FirstOf`] to accept several kinds.
#[async_trait::async_trait]
pub trait TokenVerifier: Send + Sync + 'static {
    /// Verifies `token`.
    ///
    /// # Errors
    /// [`Error::InvalidToken`] for a token that is not acceptable,
    /// [`Error::Unavailable`] when the verifier cannot tell right now.
    async fn verify(&self, token: &str) -> Result<Identity, Error>;

    /// Whether the verifier can verify tokens now (a JWT verifier has its
    /// keys), for readiness probes. Ready unless a verifier says otherwise.
    ///
    /// # Errors
    /// [`Error::Unavailable`] saying why not.
    async fn ready(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// Accepts a token any of its verifiers accepts (API keys for agents and
/// JWTs for users, say), trying them in order.
#[derive(Clone)]
pub struct FirstOf(Vec<Arc<dyn TokenVerifier>>);

impl std::fmt::Debug for FirstOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("FirstOf").field(&self.0.len()).finish()
    }
}

impl FirstOf {
    /// Tries `verifiers` in order.
    pub fn new(verifiers: Vec<Arc<dyn TokenVerifier>>) -> Self {
        Self(verifiers)
    }
}

#[async_trait::async_trait]
impl TokenVerifier for FirstOf {
    /// Ready when every verifier is: callers of one that is not would be
    /// refused.
    async fn ready(&self) -> Result<(), Error> {
        for verifier in &self.0 {
            verifier.ready().await?;
        }
        Ok(())
    }

    async fn verify(&self, token: &str) -> Result<Identity, Error> {
        // The most telling refusal wins: a verifier that recognized the
        // token and refused it, then an outage (the token may be one the
        // unreachable verifier would accept), then "not mine".
        let rank = |e: &Error| match e {
            Error::InvalidToken(_)
            | Error::Config(_)
            | Error::Refused(_)
            | Error::OAuth { .. }
            | Error::InvalidResponse(_) => 2,
            Error::Unavailable(_) | Error::Timeout(_) | Error::Storage(_) => 1,
            Error::Unrecognized(_) => 0,
        };
        let mut refusal = Error::Unrecognized("no verifier configured".into());
        for verifier in &self.0 {
            match verifier.verify(token).await {
                Ok(identity) => return Ok(identity),
                Err(e) if rank(&e) > rank(&refusal) || rank(&refusal) == 0 => refusal = e,
                Err(_) => {}
            }
        }
        Err(refusal)
    }
}
