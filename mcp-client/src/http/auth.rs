//! The credentials hook of the HTTP transport: every request asks an
//! [`AuthProvider`] for its `Authorization` header, and a 401 or 403 is
//! shown to the provider, which may ask for one retry.

use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};

use super::Shared;
use super::wire::{Request, Response};

/// Supplies credentials to the HTTP transport.
///
/// Every HTTP request the transport makes (the POST of each message, the
/// GET of a server-to-client stream, the DELETE that ends a session) first
/// calls [`authorization`](Self::authorization). When the server answers
/// 401 or 403, the transport calls [`on_challenge`](Self::on_challenge)
/// with what the server said; if that returns `true`, the request is sent
/// once more, with a fresh [`authorization`](Self::authorization). A
/// refusal that is not retried, or that comes again, fails the request
/// with an error naming the status and the `WWW-Authenticate` challenge.
///
/// This is the seam an OAuth client plugs into: `authorization` returns the
/// current access token (refreshing it if it expired), and `on_challenge`
/// reads the challenge (its `resource_metadata`, `scope` or `error`) and
/// obtains a new token before answering `true`.
///
/// # Example
///
/// A fixed bearer token:
///
/// ```
/// use mcp_client::{AuthChallenge, AuthProvider, async_trait};
/// use http::HeaderValue;
///
/// #[derive(Debug)]
/// struct Bearer(HeaderValue);
///
/// type BoxError = Box<dyn std::error::Error + Send + Sync>;
///
/// #[async_trait]
/// impl AuthProvider for Bearer {
///     async fn authorization(&self) -> Result<Option<HeaderValue>, BoxError> {
///         Ok(Some(self.0.clone()))
///     }
///
///     async fn on_challenge(&self, _: &AuthChallenge) -> Result<bool, BoxError> {
///         // Nothing better to offer: let the request fail.
///         Ok(false)
///     }
/// }
///
/// let mut token = HeaderValue::from_static("Bearer s3cret");
/// token.set_sensitive(true);
/// let options = mcp_client::HttpOptions::default().with_auth(std::sync::Arc::new(Bearer(token)));
/// ```
#[async_trait::async_trait]
pub trait AuthProvider: Send + Sync {
    /// The `Authorization` header value for the next request, or `None` to
    /// send the request without one.
    ///
    /// # Errors
    /// When no credentials can be had (a refresh failed, say); the request
    /// then fails with this error's text, and is not sent.
    async fn authorization(
        &self,
    ) -> Result<Option<HeaderValue>, Box<dyn std::error::Error + Send + Sync>>;

    /// The server refused a request with `challenge`; returns whether to
    /// send that request once more (with a fresh
    /// [`authorization`](Self::authorization)). Called at most once per
    /// request.
    ///
    /// # Errors
    /// When getting credentials failed (the user declined, the
    /// authorization server refused…): the request fails with this
    /// error's text rather than with the bare 401/403, so the user learns
    /// why.
    async fn on_challenge(
        &self,
        challenge: &AuthChallenge,
    ) -> Result<bool, Box<dyn std::error::Error + Send + Sync>>;
}

/// What the server said when it refused a request for want of credentials.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthChallenge {
    /// The status: 401 (no or bad credentials) or 403 (not enough of them,
    /// such as a missing scope).
    pub status: StatusCode,
    /// The `WWW-Authenticate` header values, in order and unparsed (for
    /// example `Bearer resource_metadata="https://…", scope="files:read"`).
    pub www_authenticate: Vec<String>,
    /// The URL of the refused request.
    pub url: String,
}

impl AuthChallenge {
    fn of(response: &Response, url: &reqwest::Url) -> Self {
        Self {
            status: response.status(),
            www_authenticate: challenges(response.headers()),
            url: response.redirected_url().unwrap_or(url).to_string(),
        }
    }
}

/// The `WWW-Authenticate` values of a response, as text.
pub(super) fn challenges(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

/// A status for an error message, with the challenge when the server
/// refused credentials: `HTTP 401 Unauthorized (WWW-Authenticate: …)`.
pub(super) fn describe_status(status: StatusCode, headers: &HeaderMap) -> String {
    let challenges = challenges(headers);
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        if challenges.is_empty() {
            format!("HTTP {status} (no WWW-Authenticate challenge)")
        } else {
            format!(
                "HTTP {status} (WWW-Authenticate: {})",
                challenges.join(", ")
            )
        }
    } else {
        format!("HTTP {status}")
    }
}

fn is_refusal(status: StatusCode) -> bool {
    matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
}

impl Shared {
    /// Sends the request `make` builds, with the provider's credentials,
    /// once more when the provider answers a 401/403 challenge with
    /// `true`, and again after a 429 or 503 whose `Retry-After` is within
    /// [`HttpOptions::max_retry_after`](super::HttpOptions::max_retry_after)
    /// (twice at most). `make` is called for each attempt (a request body
    /// cannot be sent twice). Any status comes back as the response; only
    /// failing to get credentials or to reach the server is an error.
    pub(super) async fn send(&self, make: impl Fn() -> Request) -> Result<Response, String> {
        let mut waits = 0;
        loop {
            let response = self.send_authorized(&make).await?;
            let status = response.status();
            if waits == 2
                || !matches!(
                    status,
                    StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                )
            {
                return Ok(response);
            }
            // Delay-seconds only: an HTTP date would need the server's
            // clock to agree with ours.
            let wait = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(std::time::Duration::from_secs);
            match wait {
                Some(wait) if wait <= self.options.max_retry_after => {
                    tracing::debug!(%status, ?wait, "server asked to retry later; waiting");
                    drop(response);
                    tokio::time::sleep(wait).await;
                    waits += 1;
                }
                _ => return Ok(response),
            }
        }
    }

    /// [`send`](Self::send) without the waiting: credentials, and the
    /// challenge round.
    async fn send_authorized(&self, make: &impl Fn() -> Request) -> Result<Response, String> {
        let mut retried = false;
        loop {
            let credentials = match &self.options.auth {
                Some(auth) => match auth.authorization().await {
                    Ok(Some(mut value)) => {
                        // Kept out of logs and `Debug`, whatever the
                        // provider did.
                        value.set_sensitive(true);
                        Some(value)
                    }
                    Ok(None) => None,
                    Err(e) => return Err(format!("no credentials for the request: {e}")),
                },
                None => None,
            };
            let authorized = || {
                let mut request = make();
                if let Some(value) = &credentials {
                    // Replaces any `Authorization` among the fixed
                    // headers: two would be ambiguous.
                    request.headers.insert(AUTHORIZATION, value.clone());
                }
                request
            };
            let response = self.wire.send(authorized(), authorized).await?;
            let Some(auth) = &self.options.auth else {
                return Ok(response);
            };
            if retried || !is_refusal(response.status()) {
                return Ok(response);
            }
            let challenge = AuthChallenge::of(&response, self.wire.url());
            match auth.on_challenge(&challenge).await {
                Ok(true) => {}
                Ok(false) => return Ok(response),
                Err(e) => {
                    let status = describe_status(challenge.status, response.headers());
                    return Err(format!("{status}, and authorizing failed: {e}"));
                }
            }
            retried = true;
        }
    }
}
