//! The one trait every way of checking a token implements.

use std::sync::Arc;

use mcp_core::BoxFuture;

use crate::error::Error;
use crate::identity::Identity;

/// Turns a bearer token into the [`Identity`] it stands for, or says why
/// not. Object-safe: [`AuthLayer`](crate::AuthLayer) holds an
/// `Arc<dyn TokenVerifier>`.
///
/// Implementations: [`JwtVerifier`](crate::JwtVerifier),
/// [`Introspection`](crate::Introspection), [`ApiKeys`](crate::ApiKeys),
/// and [`FirstOf`] to accept several kinds.
pub trait TokenVerifier: Send + Sync + 'static {
    /// Verifies `token`.
    ///
    /// # Errors
    /// [`Error::InvalidToken`] for a token that is not acceptable,
    /// [`Error::Unavailable`] when the verifier cannot tell right now.
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Identity, Error>>;
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

impl TokenVerifier for FirstOf {
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Identity, Error>> {
        Box::pin(async move {
            let mut refusal = Error::InvalidToken("no verifier configured".to_owned());
            for verifier in &self.0 {
                match verifier.verify(token).await {
                    Ok(identity) => return Ok(identity),
                    // An outage says more than another verifier's "no".
                    Err(e @ Error::Unavailable(_)) => refusal = e,
                    Err(e) if !matches!(refusal, Error::Unavailable(_)) => refusal = e,
                    Err(_) => {}
                }
            }
            Err(refusal)
        })
    }
}
