//! Streamable HTTP as a `tower::Service`: 2026-07-28 requests served
//! statelessly, legacy sessions (`Mcp-Session-Id`) on the same endpoint,
//! and, when asked, the deprecated HTTP+SSE transport of 2024-11-05.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{ACCEPT, ALLOW, CONTENT_TYPE, HOST, ORIGIN};
use http::{
    HeaderMap, HeaderName, HeaderValue, Method as HttpMethod, Request, Response, StatusCode,
};
use http_body_util::BodyExt as _;
use mcp_core::{ErrorObject, ErrorResponse, Message, RequestId, headers};
use tokio::sync::watch;
use tower_http::cors::{AllowHeaders, AllowOrigin, Cors, CorsLayer};

use super::body::Body;
use super::events::{EventStore, MemoryEventStore};
use super::legacy::Session;
use super::security::AllowedHosts;
use super::sse2024::SseSession;
use super::store::{MemorySessionStore, SessionStore};
use crate::handler::Handler;
use crate::quota::{ClientQuota, Limits, Quotas};
use crate::session::peer::Outbox;
use crate::session::{Admission, Busy, Route, Server};

/// Settings of the Streamable HTTP transport.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpOptions {
    /// Accepted `Host` and `Origin` values (loopback only by default).
    pub allowed: AllowedHosts,
    /// Largest request body, in bytes (413 beyond).
    pub max_body: usize,
    /// Time for a request body to arrive once its headers did (408
    /// beyond), so that a client sending slowly holds nothing for long.
    pub body_timeout: Duration,
    /// How often an idle SSE stream gets a keep-alive comment.
    pub keep_alive: Duration,
    /// Legacy sessions idle this long are closed (by the default store).
    pub session_idle: Duration,
    /// Most legacy sessions at once (in the default store), and most
    /// HTTP+SSE sessions.
    pub max_sessions: usize,
    /// Most legacy (and HTTP+SSE) sessions one client may hold at once on
    /// this instance; `initialize` beyond it gets 429. A client is its
    /// authenticated principal, else its address (see `docs/security.md`).
    pub max_sessions_per_client: usize,
    /// Most requests one client may have running at once, over all its
    /// sessions and stateless requests: 429 (stateless) or a JSON-RPC
    /// error (sessions) beyond it. At most
    /// [`ServerOptions::max_in_flight`](crate::ServerOptions::max_in_flight)
    /// run for all clients together.
    pub max_in_flight_per_client: usize,
    /// Most `subscriptions/listen` streams one client may hold open; at
    /// most [`ServerOptions::max_listen_streams`](crate::ServerOptions::max_listen_streams)
    /// for all clients together.
    pub max_listen_per_client: usize,
    /// How long a request waits for a free permit when the server runs
    /// [`ServerOptions::max_in_flight`](crate::ServerOptions::max_in_flight)
    /// requests already; then it is refused (503 with `Retry-After` for
    /// stateless requests).
    pub permit_timeout: Duration,
    /// Whether legacy (`initialize`) sessions are served at all.
    pub legacy: bool,
    /// Whether the deprecated HTTP+SSE transport (2024-11-05) is served
    /// too, for old clients: a GET without a session opens its stream.
    pub legacy_sse: bool,
    /// The reconnection delay that SSE streams of legacy sessions announce
    /// (`retry`), in their first, priming event.
    pub sse_retry: Duration,
    /// Closes the SSE response streams of legacy sessions this long after
    /// they start, so that clients poll (resume with `Last-Event-ID`)
    /// instead of holding a connection; `None` keeps them open.
    pub sse_close_after: Option<Duration>,
    /// Answers CORS preflights and lets pages of the allowed origins read
    /// responses (and the `Mcp-Session-Id`, `MCP-Protocol-Version` and
    /// `WWW-Authenticate` headers). Off by default: only browser clients
    /// need it.
    pub cors: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            allowed: AllowedHosts::default(),
            max_body: 4 * 1024 * 1024,
            body_timeout: Duration::from_secs(30),
            keep_alive: Duration::from_secs(15),
            session_idle: Duration::from_secs(30 * 60),
            max_sessions: 10_000,
            max_sessions_per_client: 100,
            max_in_flight_per_client: 16,
            max_listen_per_client: 16,
            permit_timeout: Duration::from_secs(5),
            legacy: true,
            legacy_sse: false,
            sse_retry: Duration::from_secs(1),
            sse_close_after: None,
            cors: false,
        }
    }
}

/// The MCP endpoint as a `tower::Service` over `http` requests: mount it
/// at any path of an axum or hyper server.
pub struct StreamableHttp<H: Handler> {
    inner: Arc<Inner<H>>,
    cors: Option<Cors<Plain<H>>>,
}

impl<H: Handler> Clone for StreamableHttp<H> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            cors: self.cors.clone(),
        }
    }
}

impl<H: Handler> std::fmt::Debug for StreamableHttp<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamableHttp")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

pub(super) struct Inner<H: Handler> {
    pub(super) server: Server<H>,
    pub(super) options: HttpOptions,
    pub(super) store: Arc<dyn SessionStore>,
    pub(super) events: Arc<dyn EventStore>,
    /// Legacy sessions this instance serves now: their connections and
    /// streams. The store holds what they are.
    pub(super) live: Mutex<HashMap<String, Arc<Session<H>>>>,
    /// HTTP+SSE sessions: their stream is the session, so they live here.
    pub(super) sse: Mutex<HashMap<String, Arc<SseSession<H>>>>,
    /// Permits to run a request, shared by every request of every
    /// client.
    pub(super) permits: Arc<tokio::sync::Semaphore>,
    /// What each client holds.
    pub(super) quotas: Arc<Quotas>,
    /// Set when shutdown begins.
    pub(super) closing: watch::Sender<bool>,
}

impl<H: Handler> StreamableHttp<H> {
    /// The endpoint for `server`, keeping sessions and events in memory.
    pub fn new(server: Server<H>, options: HttpOptions) -> Self {
        let store = Arc::new(MemorySessionStore::new(
            options.max_sessions,
            options.session_idle,
        ));
        Self::with_stores(
            server,
            options,
            store,
            Arc::new(MemoryEventStore::default()),
        )
    }

    /// The endpoint for `server`, with sessions and SSE events kept in the
    /// given stores (shared ones let instances behind a load balancer
    /// serve each other's sessions).
    pub fn with_stores(
        server: Server<H>,
        options: HttpOptions,
        store: Arc<dyn SessionStore>,
        events: Arc<dyn EventStore>,
    ) -> Self {
        let inner = Arc::new(Inner {
            permits: server.permits(),
            quotas: Quotas::new(Limits {
                sessions: options.max_sessions_per_client,
                in_flight: options.max_in_flight_per_client,
                listens: options.max_listen_per_client,
            }),
            server,
            store,
            events,
            live: Mutex::default(),
            sse: Mutex::default(),
            closing: watch::channel(false).0,
            options,
        });
        let cors = inner.options.cors.then(|| cors(&inner));
        Self { inner, cors }
    }

    /// Begins a graceful shutdown: new requests get 503, streams that only
    /// wait for server messages end, and requests in flight get
    /// [`ServerOptions::shutdown_grace`](crate::ServerOptions::shutdown_grace)
    /// to finish before they are cancelled. [`serve`](super::serve) calls
    /// it when its shutdown signal fires.
    pub fn shutdown(&self) {
        self.inner.begin_shutdown();
    }
}

/// The endpoint without CORS, for the CORS layer to wrap.
pub(super) struct Plain<H: Handler>(Arc<Inner<H>>);

impl<H: Handler> Clone for Plain<H> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<Body>, std::convert::Infallible>> + Send>>;

impl<H, B> tower_service::Service<Request<B>> for Plain<H>
where
    H: Handler,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let inner = Arc::clone(&self.0);
        Box::pin(async move { Ok(inner.handle(req).await) })
    }
}

impl<H, B> tower_service::Service<Request<B>> for StreamableHttp<H>
where
    H: Handler,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        match &mut self.cors {
            // The plain endpoint is always ready, so the CORS layer is too.
            Some(cors) => Box::pin(tower_service::Service::call(cors, req)),
            None => Plain(Arc::clone(&self.inner)).call(req),
        }
    }
}

/// The CORS layer: the origins it lets read responses are exactly those
/// the DNS-rebinding check accepts.
fn cors<H: Handler>(inner: &Arc<Inner<H>>) -> Cors<Plain<H>> {
    let allowed = inner.options.allowed.clone();
    let layer = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin.to_str().is_ok_and(|o| allowed.origin_allowed(o))
        }))
        .allow_methods([HttpMethod::GET, HttpMethod::POST, HttpMethod::DELETE])
        // `Mcp-Param-*` names depend on the tool: allow what is asked.
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("mcp-protocol-version"),
            http::header::WWW_AUTHENTICATE,
        ])
        .max_age(Duration::from_secs(24 * 60 * 60));
    tower_layer::Layer::layer(&layer, Plain(Arc::clone(inner)))
}

/// A response with a JSON-RPC error body.
pub(super) fn error(
    status: StatusCode,
    id: Option<RequestId>,
    error: ErrorObject,
) -> Response<Body> {
    let body =
        serde_json::to_vec(&Message::from(ErrorResponse::new(id, error))).unwrap_or_default();
    let mut res = Response::new(Body::full(body));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// The one value of header `name`, if any; `Err` when it is repeated or
/// not visible ASCII.
fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<Option<&'a str>, ()> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    value.to_str().map(Some).map_err(drop)
}

pub(super) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// What the client accepts.
pub(super) struct Accepts {
    pub(super) json: bool,
    pub(super) sse: bool,
}

pub(super) fn accepts(headers: &HeaderMap) -> Accepts {
    let accept = header(headers, ACCEPT.as_str())
        .unwrap_or("*/*")
        .to_ascii_lowercase();
    let any = accept.contains("*/*");
    Accepts {
        json: any || accept.contains("application/json"),
        sse: any || accept.contains("text/event-stream"),
    }
}

/// Completes once shutdown has begun.
pub(super) async fn shutting_down(closing: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across an await.
    let _ = closing.wait_for(|c| *c).await.is_ok();
}

/// The `sessionId` query parameter of an HTTP+SSE message POST.
fn sse_session(uri: &http::Uri) -> Option<&str> {
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("sessionId="))
}

impl<H: Handler> Inner<H> {
    async fn handle<B>(self: Arc<Self>, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let headers = req.headers();
        // A header given twice, or in bytes that are not text, could be
        // read two ways: refused, not guessed at.
        let checked = match (single(headers, &HOST), single(headers, &ORIGIN)) {
            (Ok(host), Ok(origin)) => self.options.allowed.check(
                req.uri().authority().map(http::uri::Authority::as_str),
                host,
                origin,
            ),
            (Err(()), _) => Err("the Host header is repeated or not ASCII"),
            (_, Err(())) => Err("the Origin header is repeated or not ASCII"),
        };
        if let Err(why) = checked {
            tracing::warn!(why, "request refused (DNS rebinding protection)");
            return error(
                StatusCode::FORBIDDEN,
                None,
                ErrorObject::invalid_request(why),
            );
        }
        if *self.closing.borrow() {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                ErrorObject::internal_error("the server is shutting down"),
            );
        }
        let legacy = self.options.legacy;
        let old_sse = self.options.legacy_sse;
        match *req.method() {
            HttpMethod::POST => self.post(req).await,
            HttpMethod::GET if old_sse && header(headers, headers::SESSION_ID).is_none() => {
                self.open_sse(headers, req.extensions())
            }
            HttpMethod::GET if legacy => self.get(req.headers(), req.extensions()).await,
            HttpMethod::DELETE if legacy => self.delete(req.headers(), req.extensions()).await,
            _ => {
                let allow = match (legacy, old_sse) {
                    (true, _) => "GET, POST, DELETE",
                    (false, true) => "GET, POST",
                    (false, false) => "POST",
                };
                let mut res = error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    None,
                    ErrorObject::invalid_request(format!(
                        "method {} not allowed; use {allow}",
                        req.method()
                    )),
                );
                res.headers_mut()
                    .insert(ALLOW, HeaderValue::from_static(allow));
                res
            }
        }
    }

    async fn post<B>(self: &Arc<Self>, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = req.into_parts();
        let content_type = header(&parts.headers, CONTENT_TYPE.as_str()).unwrap_or_default();
        if !content_type
            .to_ascii_lowercase()
            .starts_with("application/json")
        {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                None,
                ErrorObject::invalid_request("Content-Type must be application/json"),
            );
        }
        let accept = accepts(&parts.headers);
        if !accept.json && !accept.sse {
            return error(
                StatusCode::NOT_ACCEPTABLE,
                None,
                ErrorObject::invalid_request(
                    "Accept must include application/json or text/event-stream",
                ),
            );
        }
        let read = http_body_util::Limited::new(body, self.options.max_body).collect();
        let bytes = match tokio::time::timeout(self.options.body_timeout, read).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    None,
                    ErrorObject::invalid_request(format!(
                        "request body over {} bytes",
                        self.options.max_body
                    )),
                );
            }
            Ok(Err(e)) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    None,
                    ErrorObject::invalid_request(format!("reading the request body failed: {e}")),
                );
            }
            Err(_) => {
                return error(
                    StatusCode::REQUEST_TIMEOUT,
                    None,
                    ErrorObject::invalid_request(format!(
                        "the request body did not arrive within {} s",
                        self.options.body_timeout.as_secs_f32()
                    )),
                );
            }
        };
        let session = header(&parts.headers, headers::SESSION_ID);
        match (session, sse_session(&parts.uri)) {
            (Some(id), _) if self.options.legacy => {
                let id = id.to_owned();
                self.post_legacy(&id, parts, &bytes, &accept).await
            }
            (None, Some(id)) if self.options.legacy_sse => {
                let id = id.to_owned();
                self.post_sse(&id, parts, &bytes).await
            }
            _ => self.post_new(parts, &bytes, &accept).await,
        }
    }

    /// Shutdown: everything that waits for the server ends; sessions'
    /// requests in flight get their grace period.
    fn begin_shutdown(&self) {
        self.closing.send_replace(true);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let sse = self.sse.lock().unwrap_or_else(PoisonError::into_inner);
        let conns = live
            .values()
            .map(|s| Arc::clone(&s.conn))
            .chain(sse.values().map(|s| Arc::clone(&s.conn)));
        for conn in conns {
            runtime.spawn(async move { conn.shutdown().await });
        }
    }
}

/// 400 with the JSON-RPC error an unreadable body is owed.
pub(super) fn unreadable(e: &mcp_core::Error) -> Response<Body> {
    let response = e
        .to_error_response()
        .unwrap_or_else(|| ErrorResponse::new(None, ErrorObject::invalid_request(e.to_string())));
    error(StatusCode::BAD_REQUEST, response.id, response.error)
}

/// The messages of a session's POST: one, or a batch where the session's
/// version allows them; `Err` is the answer to an unreadable body.
pub(super) fn messages(
    bytes: &[u8],
    batches: bool,
) -> Result<Vec<Result<Message, mcp_core::Error>>, Box<Response<Body>>> {
    match mcp_core::jsonrpc::Incoming::from_slice(bytes, batches) {
        Ok(mcp_core::jsonrpc::Incoming::Single(message)) => Ok(vec![Ok(message)]),
        Ok(mcp_core::jsonrpc::Incoming::Batch(items)) => Ok(items),
        Err(e) => Err(Box::new(unreadable(&e))),
    }
}

/// A new session id: 128 random bits, hex, unguessable and header-safe.
/// Without a random source no id is safe to hand out: `Err` is the 503
/// answer to the request (`id`) that wanted one.
pub(super) fn session_id(id: Option<RequestId>) -> Result<String, Box<Response<Body>>> {
    let mut bytes = [0u8; 16];
    if let Err(e) = getrandom::fill(&mut bytes) {
        tracing::error!(error = %e, "no random source for session ids");
        return Err(Box::new(error(
            StatusCode::SERVICE_UNAVAILABLE,
            id,
            ErrorObject::internal_error("no random source for session ids"),
        )));
    }
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `Err(406)` unless the client takes an SSE stream.
pub(super) fn require_sse(headers: &HeaderMap) -> Result<(), Box<Response<Body>>> {
    if accepts(headers).sse {
        return Ok(());
    }
    Err(Box::new(error(
        StatusCode::NOT_ACCEPTABLE,
        None,
        ErrorObject::invalid_request("Accept must include text/event-stream"),
    )))
}

/// A refusal for want of capacity, with the `Retry-After` (seconds) a
/// client should wait before trying again.
pub(super) fn too_busy(
    status: StatusCode,
    retry_after: u32,
    id: Option<RequestId>,
    error_object: ErrorObject,
) -> Response<Body> {
    let mut res = error(status, id, error_object);
    res.headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(retry_after));
    res
}

/// The answer to a request that was not admitted: 429 when its client is
/// at its quota, 503 when the whole server is.
pub(super) fn busy(busy: Busy, id: Option<RequestId>) -> Response<Body> {
    let status = match busy {
        Busy::Client(_) => StatusCode::TOO_MANY_REQUESTS,
        Busy::Server(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    too_busy(status, 1, id, busy.error_object())
}

impl<H: Handler> Inner<H> {
    /// The route of one POST's messages: answers go to `reply`; requests
    /// count against the client's quota and wait for a permit.
    pub(super) fn route(&self, reply: Outbox, extensions: http::Extensions) -> Route {
        Route {
            reply,
            admission: Admission {
                client: ClientQuota::of(&self.quotas, &extensions),
                wait: Some(self.options.permit_timeout),
            },
            extensions: Arc::new(extensions),
        }
    }
}
