//! Opaque access tokens, checked with the authorization server's token
//! introspection endpoint (RFC 7662). Answers are cached by
//! [`AuthLayer`](crate::AuthLayer), never past the token's expiry.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use mcp_core::JsonObject;

use super::identity::Identity;
use super::verifier::TokenVerifier;
use crate::error::Error;
use crate::fetch::{FetchPolicy, SafeFetcher};
use crate::secret::Secret;

/// Verifies tokens by asking the authorization server.
///
/// The client secret can be replaced while the server runs
/// ([`rotate_client_secret`](Self::rotate_client_secret), which shows it
/// read from a secret source and rotated when the source changes). Clones
/// share it, so a clone handed to the code watching the secret rotates the
/// verifier the auth layer holds.
#[derive(Debug, Clone)]
pub struct Introspection {
    endpoint: String,
    client_id: String,
    // Shared and replaceable: a rotated secret must reach the verifier
    // already inside the auth layer, without rebuilding it.
    client_secret: Arc<RwLock<Secret>>,
    audience: Vec<String>,
    issuer: Option<String>,
    fetcher: SafeFetcher,
}

impl Introspection {
    /// Introspects at `endpoint`, authenticating as the resource server's
    /// own client (`client_secret_basic`); tokens must be for `audience`.
    ///
    /// # Errors
    /// [`Error::Config`] when no HTTP client can be built.
    pub fn new(
        endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, Error> {
        Ok(Self {
            endpoint: endpoint.into(),
            client_id: client_id.into(),
            client_secret: Arc::new(RwLock::new(Secret::new(client_secret.into()))),
            audience: vec![audience.into()],
            issuer: None,
            fetcher: SafeFetcher::new(FetchPolicy::configured())?,
        })
    }

    /// Finds the endpoint in `issuer`'s metadata; tokens must also come
    /// from `issuer`.
    ///
    /// # Errors
    /// [`Error::Config`] when the metadata has no introspection endpoint;
    /// [`Error::Unavailable`] when it cannot be fetched.
    pub async fn discover(
        issuer: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, Error> {
        let fetcher = SafeFetcher::new(FetchPolicy::configured())?;
        let metadata = super::jwt::metadata(&fetcher, issuer).await?;
        let endpoint = metadata.introspection_endpoint.ok_or_else(|| {
            Error::Config(format!("{issuer} has no introspection_endpoint").into())
        })?;
        let mut introspection = Self::new(endpoint, client_id, client_secret, audience)?;
        introspection.issuer = Some(issuer.to_owned());
        introspection.fetcher = fetcher;
        Ok(introspection)
    }

    /// Fetches through `fetcher` instead (by default one on
    /// [`FetchPolicy::configured`]).
    #[must_use]
    pub fn with_fetcher(mut self, fetcher: SafeFetcher) -> Self {
        self.fetcher = fetcher;
        self
    }

    /// Authenticates with `secret` from now on, in this verifier and its
    /// clones: for a client secret rotated at the authorization server.
    /// Requests already sent finish with the previous one.
    ///
    /// ```no_run
    /// # async fn run(secrets: mcp_server::secrets::Secrets) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use mcp_auth::Introspection;
    ///
    /// // Missing: an error naming the secret, never a value.
    /// let secret = secrets.require("introspection-client-secret").await?;
    /// let introspection = Introspection::discover(
    ///     "https://auth.example.com",
    ///     "mcp-resource-server",
    ///     secret.expose(),
    ///     "https://mcp.example.com/mcp",
    /// )
    /// .await?;
    /// let _watch = secrets
    ///     .watch("introspection-client-secret", Duration::from_secs(30), {
    ///         let introspection = introspection.clone();
    ///         move |secret| introspection.rotate_client_secret(secret)
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn rotate_client_secret(&self, secret: Secret) {
        *self
            .client_secret
            .write()
            .unwrap_or_else(PoisonError::into_inner) = secret;
    }

    async fn check(&self, token: &str) -> Result<Identity, Error> {
        // A copy, so no lock is held across the request.
        let secret = self
            .client_secret
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let answer = self
            .fetcher
            .post_form(
                &self.endpoint,
                &[("token", token), ("token_type_hint", "access_token")],
                Some((&self.client_id, secret.expose())),
            )
            .await?;
        // Our credentials, not the token, were refused: a secret rotated
        // at the authorization server but not yet here (or the reverse).
        // Nothing the caller can fix, so not a token error.
        if answer.status == http::StatusCode::UNAUTHORIZED {
            return Err(Error::Unavailable(
                format!(
                    "{} refused this resource server's client credentials (HTTP 401): \
                     is the introspection client secret current?",
                    self.endpoint
                )
                .into(),
            ));
        }
        // RFC 7662 answers 200 for any token; a 400 with an OAuth error
        // (oidc-provider's `unsupported_token_type` for a JWT) is about the
        // token, not an outage.
        if answer.status == http::StatusCode::BAD_REQUEST {
            return Err(Error::Unrecognized(
                format!("{} does not take this token (HTTP 400)", self.endpoint).into(),
            ));
        }
        let answer: JsonObject = answer.expect_json(&self.endpoint)?;
        let invalid = |why: &str| Err(Error::InvalidToken(why.to_owned().into()));
        if answer.get("active").and_then(serde_json::Value::as_bool) != Some(true) {
            return invalid("not active (revoked, expired or unknown)");
        }
        let audiences: Vec<&str> = match answer.get("aud") {
            Some(serde_json::Value::String(a)) => vec![a.as_str()],
            Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_str()).collect(),
            _ => Vec::new(),
        };
        // Without an audience the token could be for any resource: refuse
        // it rather than accept a token meant for someone else.
        if !audiences
            .iter()
            .any(|a| self.audience.iter().any(|ours| ours == a))
        {
            return invalid("issued for another audience (aud)");
        }
        if let Some(issuer) = &self.issuer
            && answer.get("iss").and_then(|v| v.as_str()) != Some(issuer.as_str())
        {
            return invalid("issued by another authorization server (iss)");
        }
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if answer
            .get("exp")
            .and_then(serde_json::Value::as_u64)
            .is_some_and(|exp| exp <= now)
        {
            return invalid("expired");
        }
        Ok(Identity::from_claims(answer))
    }
}

#[async_trait::async_trait]
impl TokenVerifier for Introspection {
    async fn verify(&self, token: &str) -> Result<Identity, Error> {
        self.check(token).await
    }
}
