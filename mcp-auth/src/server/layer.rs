//! The tower layer in front of an MCP endpoint: bearer token from the
//! `Authorization` header, verified (and remembered until it expires),
//! scopes checked, the [`Identity`] put in the request's extensions, and
//! the spec's challenges for everything else.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Either, Full};
use mcp_core::BoxFuture;
use mcp_core::request::DecodedBody;
use mcp_core::security::SecurityEvent;
use sha2::{Digest, Sha256};

use super::challenge::Challenge;
use super::identity::Identity;
use super::scopes::RequiredScopes;
use super::verifier::TokenVerifier;
use crate::error::Error;
use crate::metadata::ProtectedResourceMetadata;
use crate::secret::Secret;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request body the protected service gets: the original, or the same
/// bytes read ahead when the request's scopes depended on them.
pub type AuthBody<B> = Either<B, Full<Bytes>>;

/// Puts OAuth 2.1 bearer-token authorization in front of an MCP endpoint
/// (any service over `http` requests, such as `StreamableHttp`), for both
/// protocol eras.
#[derive(Clone)]
pub struct AuthLayer {
    verifier: Arc<dyn TokenVerifier>,
    metadata_url: String,
    scopes: RequiredScopes,
    max_token_len: usize,
    max_body: usize,
    body_timeout: Duration,
    cache_ttl: Duration,
    cache_size: usize,
    keep_token: bool,
}

/// The bearer token a request was authenticated with, in its extensions
/// when [`AuthLayer::with_token_kept`] asks for it and it is an OAuth
/// access token (its [`Identity`] has an issuer; API keys are never kept):
/// for a service that acts on the caller's behalf elsewhere (RFC 8693
/// token exchange at that issuer), never to be passed on as it is.
/// `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct VerifiedToken(Secret);

impl VerifiedToken {
    /// The token.
    pub fn secret(&self) -> &Secret {
        &self.0
    }
}

impl std::fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLayer")
            .field("metadata_url", &self.metadata_url)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl AuthLayer {
    /// Whether the layer's verifier can verify tokens now
    /// ([`TokenVerifier::ready`]): a readiness check.
    ///
    /// # Errors
    /// [`Error::Unavailable`] saying why not.
    pub async fn ready(&self) -> Result<(), Error> {
        self.verifier.ready().await
    }

    /// Tokens checked by `verifier`; challenges point at `metadata`'s
    /// well-known URL.
    pub fn new(verifier: Arc<dyn TokenVerifier>, metadata: &ProtectedResourceMetadata) -> Self {
        Self {
            verifier,
            metadata_url: metadata.url(),
            scopes: RequiredScopes::new(),
            max_token_len: 8 * 1024,
            max_body: 4 * 1024 * 1024,
            body_timeout: Duration::from_secs(30),
            cache_ttl: Duration::from_secs(60),
            cache_size: 10_000,
            keep_token: false,
        }
    }

    /// Requires `scopes` of requests.
    #[must_use]
    pub fn with_scopes(mut self, scopes: RequiredScopes) -> Self {
        self.scopes = scopes;
        self
    }

    /// Remembers verified tokens for at most `ttl` (and never past their
    /// expiry); zero verifies every request. A revoked token keeps working
    /// for up to this long. API keys are not remembered: checking them is
    /// as fast as the cache, and a key removed or rotated out is refused
    /// at once. Default: 60 s.
    #[must_use]
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Refuses request bodies over `max` bytes with 413; the layer reads
    /// bodies (to learn what a request asks) only when scopes depend on
    /// it. Default: 4 MiB, as the endpoint's.
    #[must_use]
    pub fn with_max_body(mut self, max: usize) -> Self {
        self.max_body = max;
        self
    }

    /// Refuses with 408 a request whose body takes longer than `timeout`
    /// to arrive (read only when scopes depend on it). Default: 30 s.
    #[must_use]
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Puts the token of each authenticated request in its extensions, as
    /// a [`VerifiedToken`] next to its [`Identity`]: for a service that
    /// trades it for tokens elsewhere (a gateway's token exchange). Off by
    /// default: nothing behind the layer sees the token otherwise.
    #[must_use]
    pub fn with_token_kept(mut self) -> Self {
        self.keep_token = true;
        self
    }

    /// Refuses longer tokens without looking at them. Default: 8 KiB.
    #[must_use]
    pub fn with_max_token_len(mut self, len: usize) -> Self {
        self.max_token_len = len;
        self
    }
}

impl<S> tower_layer::Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            config: Arc::new(Config {
                layer: self.clone(),
                cache: Mutex::default(),
            }),
        }
    }
}

/// The service [`AuthLayer`] makes.
#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> std::fmt::Debug for Auth<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("layer", &self.config.layer)
            .finish_non_exhaustive()
    }
}

struct Config {
    layer: AuthLayer,
    /// Verified tokens by SHA-256, with when to forget them.
    cache: Mutex<HashMap<[u8; 32], (Identity, Instant)>>,
}

impl<S, B, RB> tower_service::Service<Request<B>> for Auth<S>
where
    S: tower_service::Service<Request<AuthBody<B>>, Response = Response<RB>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    S::Error: Send,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    RB: Send + 'static,
{
    type Response = Response<Either<RB, Full<Bytes>>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is awaited on the clone that serves the request.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let config = Arc::clone(&self.config);
        let inner = self.inner.clone();
        Box::pin(async move { config.handle(inner, req).await })
    }
}

/// Why a request is refused.
enum Refusal {
    /// No bearer token: the challenge tells where to get one.
    Missing,
    /// The `Authorization` header (or the URL) is malformed.
    BadRequest(String),
    Invalid(String),
    Scope(BTreeSet<String>),
    Unavailable(String),
    TooLarge,
    /// The body did not arrive within the body timeout.
    SlowBody,
}

/// The bearer token of `headers`: `Ok(None)` when there is none (or another
/// scheme), `Err` when the header is malformed.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, &'static str> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("more than one Authorization header");
    }
    let value = value
        .to_str()
        .map_err(|_| "the Authorization header is not visible ASCII")?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = token.trim_start_matches(' ');
    if token.is_empty() {
        return Err("no token after Bearer");
    }
    // RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~"
    // / "+" / "/" ) *"="
    let body = token.trim_end_matches('=');
    let valid = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if !valid {
        return Err("the bearer token has characters a token cannot have");
    }
    Ok(Some(token))
}

impl Config {
    async fn handle<S, B, RB>(
        self: Arc<Self>,
        mut inner: S,
        req: Request<B>,
    ) -> Result<Response<Either<RB, Full<Bytes>>>, S::Error>
    where
        S: tower_service::Service<Request<AuthBody<B>>, Response = Response<RB>>,
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        // CORS preflights carry no credentials, by design: they go to the
        // endpoint, which answers them (or refuses the method).
        if req.method() == Method::OPTIONS {
            std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
            return Ok(inner.call(req.map(Either::Left)).await?.map(Either::Left));
        }
        let peer = req.extensions().get::<SocketAddr>().copied();
        let origin = req.headers().get(http::header::ORIGIN).cloned();
        let refuse = |refusal| Ok(self.refuse(&refusal, peer, None, origin.as_ref()));
        // The spec forbids tokens in the URL, where logs and referrers
        // would keep them.
        if req
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("access_token=")))
        {
            return refuse(Refusal::BadRequest(
                "tokens in the query string are refused; send Authorization: Bearer".to_owned(),
            ));
        }
        let token = match bearer(req.headers()) {
            Ok(Some(token)) => token,
            Ok(None) => return refuse(Refusal::Missing),
            Err(why) => return refuse(Refusal::BadRequest(why.to_owned())),
        };
        if token.len() > self.layer.max_token_len {
            return refuse(Refusal::Invalid(format!(
                "token longer than {} bytes",
                self.layer.max_token_len
            )));
        }
        let identity = match self.identity(token).await {
            Ok(identity) => identity,
            Err(Error::InvalidToken(why) | Error::Unrecognized(why)) => {
                return refuse(Refusal::Invalid(why.to_string()));
            }
            Err(e) => return refuse(Refusal::Unavailable(e.to_string())),
        };
        // OAuth access tokens only (an identity with an issuer): an API
        // key is never handed on.
        let kept = (self.layer.keep_token && identity.issuer().is_some())
            .then(|| VerifiedToken(Secret::new(token.to_owned())));
        let (mut req, needed) = if self.layer.scopes.targeted() {
            match self.read_needs(req).await {
                Ok(read) => read,
                Err(refusal) => return refuse(refusal),
            }
        } else {
            (req.map(Either::Left), self.layer.scopes.base().clone())
        };
        if !identity.has_scopes(&needed) {
            let refusal = Refusal::Scope(needed);
            let principal = Some(&*identity.principal().0);
            return Ok(self.refuse(&refusal, peer, principal, origin.as_ref()));
        }
        SecurityEvent::AuthSuccess.count();
        tracing::debug!(
            target: "mcp::security",
            event = SecurityEvent::AuthSuccess.name(),
            client.address = peer.map(|p| tracing::field::display(p.ip())),
            principal = &*identity.principal().0,
            class = &*identity.class().0,
            "request authenticated"
        );
        // The server binds sessions to the principal and picks rate-limit
        // quotas by its class.
        req.extensions_mut().insert(identity.principal().clone());
        req.extensions_mut().insert(identity.class().clone());
        req.extensions_mut().insert(identity);
        if let Some(kept) = kept {
            req.extensions_mut().insert(kept);
        }
        std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
        let res = inner.call(req).await?;
        Ok(res.map(Either::Left))
    }

    /// The identity of `token`, from the cache or the verifier.
    async fn identity(&self, token: &str) -> Result<Identity, Error> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = Instant::now();
        if let Some((identity, until)) = self.cache().get(&digest)
            && *until > now
        {
            return Ok(identity.clone());
        }
        let identity = self.layer.verifier.verify(token).await?;
        let left = identity
            .expires_at()
            .map_or(self.layer.cache_ttl, |exp| {
                exp.duration_since(SystemTime::now()).unwrap_or_default()
            })
            .min(self.layer.cache_ttl);
        // Verifiers that answer from memory (API keys) are not cached, so
        // that a key removed or rotated out is refused at once.
        if !left.is_zero() && identity.cacheable() {
            let mut cache = self.cache();
            if cache.len() >= self.layer.cache_size {
                cache.retain(|_, (_, until)| *until > now);
                if cache.len() >= self.layer.cache_size {
                    cache.clear();
                }
            }
            cache.insert(digest, (identity.clone(), now + left));
        }
        Ok(identity)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], (Identity, Instant)>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the body to learn what the request asks (method, tool,
    /// prompt, resource), since headers alone can be made to say anything
    /// in the legacy era.
    async fn read_needs<B>(
        &self,
        req: Request<B>,
    ) -> Result<(Request<AuthBody<B>>, BTreeSet<String>), Refusal>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let scopes = &self.layer.scopes;
        if req.method() != Method::POST {
            return Ok((req.map(Either::Left), scopes.base().clone()));
        }
        let (parts, body) = req.into_parts();
        let read = http_body_util::Limited::new(body, self.layer.max_body).collect();
        let bytes = match tokio::time::timeout(self.layer.body_timeout, read).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(Refusal::TooLarge);
            }
            Ok(Err(e)) => return Err(Refusal::BadRequest(format!("reading the body failed: {e}"))),
            Err(_) => return Err(Refusal::SlowBody),
        };
        // Decoded once: the endpoint finds the decoding in the request's
        // extensions and reads these bytes no more.
        let decoded = DecodedBody::decode(bytes.clone());
        let needed = scopes.needed_by_decoded(&decoded);
        let mut parts = parts;
        parts.extensions.insert(decoded);
        Ok((
            Request::from_parts(parts, Either::Right(Full::new(bytes))),
            needed,
        ))
    }

    fn refuse<RB>(
        &self,
        refusal: &Refusal,
        peer: Option<SocketAddr>,
        principal: Option<&str>,
        origin: Option<&HeaderValue>,
    ) -> Response<Either<RB, Full<Bytes>>> {
        let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(" ");
        let base = join(self.layer.scopes.base());
        let rm = self.layer.metadata_url.as_str();
        let (status, error, description, challenge) = match refusal {
            Refusal::Missing => (
                StatusCode::UNAUTHORIZED,
                "invalid_request",
                "a bearer token is required (Authorization: Bearer <token>)".to_owned(),
                Some(Challenge {
                    resource_metadata: rm,
                    scope: Some(base),
                    ..Challenge::default()
                }),
            ),
            Refusal::BadRequest(why) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                why.clone(),
                Some(Challenge {
                    resource_metadata: rm,
                    error: Some("invalid_request"),
                    description: Some(why),
                    ..Challenge::default()
                }),
            ),
            Refusal::Invalid(why) => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                why.clone(),
                Some(Challenge {
                    resource_metadata: rm,
                    scope: Some(base),
                    error: Some("invalid_token"),
                    description: Some(why),
                }),
            ),
            Refusal::Scope(needed) => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("this request needs the scopes: {}", join(needed)),
                Some(Challenge {
                    resource_metadata: rm,
                    scope: Some(join(needed)),
                    error: Some("insufficient_scope"),
                    description: None,
                }),
            ),
            Refusal::Unavailable(why) => {
                // The details (internal URLs) go to the log, not the client.
                tracing::error!(target: "mcp_auth", reason = %why, "cannot verify tokens");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "tokens cannot be verified right now; retry later".to_owned(),
                    None,
                )
            }
            Refusal::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                format!("request body over {} bytes", self.layer.max_body),
                None,
            ),
            Refusal::SlowBody => (
                StatusCode::REQUEST_TIMEOUT,
                "invalid_request",
                format!(
                    "the request body did not arrive within {} s",
                    self.layer.body_timeout.as_secs_f32()
                ),
                None,
            ),
        };
        // The security event stream (target `mcp::security`, the fields
        // mcp-server's events have): never the token, only why.
        let event = match refusal {
            Refusal::Missing | Refusal::Invalid(_) => SecurityEvent::AuthFailure,
            Refusal::Scope(_) => SecurityEvent::ScopeRefused,
            Refusal::Unavailable(_) => SecurityEvent::AuthUnavailable,
            Refusal::BadRequest(_) | Refusal::TooLarge | Refusal::SlowBody => {
                SecurityEvent::RequestRefused
            }
        };
        event.count();
        let event = event.name();
        let address = peer.map(|p| tracing::field::display(p.ip()));
        if matches!(refusal, Refusal::Missing) {
            // How every OAuth client starts: not worth a warning.
            tracing::info!(
                target: "mcp::security",
                event,
                client.address = address,
                reason = %description,
                "request refused"
            );
        } else {
            tracing::warn!(
                target: "mcp::security",
                event,
                client.address = address,
                principal,
                status = status.as_u16(),
                reason = %description,
                "request refused"
            );
        }
        let body = serde_json::json!({"error": error, "error_description": description});
        let mut res = Response::new(Either::Right(Full::new(Bytes::from(body.to_string()))));
        *res.status_mut() = status;
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(challenge) = challenge {
            headers.insert(WWW_AUTHENTICATE, challenge.header());
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        // A browser client must be able to read the challenge to start
        // authorizing; a refusal reveals nothing an origin could misuse.
        if let Some(origin) = origin {
            headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(
                http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("www-authenticate"),
            );
            headers.insert(http::header::VARY, HeaderValue::from_static("origin"));
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_forms() {
        let headers = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            }
            h
        };
        assert_eq!(bearer(&headers(&[])), Ok(None));
        assert_eq!(bearer(&headers(&["Basic abc"])), Ok(None));
        assert_eq!(
            bearer(&headers(&["Bearer abc.def-_~+/=="])),
            Ok(Some("abc.def-_~+/=="))
        );
        assert_eq!(bearer(&headers(&["bearer  abc"])), Ok(Some("abc")));
        assert!(bearer(&headers(&["Bearer"])).is_err());
        assert!(bearer(&headers(&["Bearer a b"])).is_err());
        assert!(bearer(&headers(&["Bearer ==="])).is_err());
        assert!(bearer(&headers(&["Bearer a", "Bearer b"])).is_err());
    }
}
