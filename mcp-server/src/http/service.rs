//! Streamable HTTP as a `tower::Service`: 2026-07-28 requests served
//! statelessly, legacy sessions (`Mcp-Session-Id`) on the same endpoint,
//! and, when asked, the deprecated HTTP+SSE transport of 2024-11-05.
//!
//! This file reads the request (checks that apply to all, the body, once)
//! and hands it to one of the three paths, which share the reply helpers
//! and the [`Shared`] state and never call each other.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method as HttpMethod, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use mcp_core::ErrorObject;
use mcp_core::jsonrpc::Incoming;
use mcp_core::request::DecodedBody;
use mcp_core::security::SecurityEvent;
use tower_http::cors::{AllowHeaders, AllowOrigin, Cors, CorsLayer};

use super::body::Body;
use super::health::Health;
use super::legacy::Sessions;
use super::modern::{NewSession, Routed, Stateless};
use super::options::HttpOptions;
use super::reply::{Accepts, accepts, error, header, names, unreadable};
use super::shared::Shared;
use super::sse2024::SseSessions;
use crate::bus::EventBus;
use crate::handler::Handler;
use crate::quota::{Limits, Quotas};
use crate::session::Server;
use crate::store::{EventStore, MemoryEventStore, MemorySessionStore, SessionStore};

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
            .field("options", &self.inner.shared.options)
            .finish_non_exhaustive()
    }
}

struct Inner<H: Handler> {
    shared: Arc<Shared<H>>,
    stateless: Stateless<H>,
    sessions: Sessions<H>,
    sse: SseSessions<H>,
    /// The event bus, until the first request starts carrying the
    /// server's changes over it (that needs the runtime).
    unbridged: std::sync::Mutex<Option<super::relay::OnBus>>,
    bridged: std::sync::atomic::AtomicBool,
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
        let (closing, watching) = tokio::sync::watch::channel(false);
        let shared = Arc::new(Shared {
            permits: server.permits(),
            quotas: Quotas::new(Limits {
                sessions: options.max_sessions_per_client,
                in_flight: options.max_in_flight_per_client,
                listens: options.max_listen_per_client,
            }),
            server,
            closing,
            _watching: watching,
            options,
        });
        let inner = Arc::new(Inner {
            stateless: Stateless::new(Arc::clone(&shared)),
            sessions: Sessions::new(Arc::clone(&shared), store, events),
            sse: SseSessions::new(Arc::clone(&shared)),
            shared,
            unbridged: std::sync::Mutex::new(None),
            bridged: std::sync::atomic::AtomicBool::new(true),
        });
        let cors = inner.shared.options.cors.then(|| cors(&inner));
        Self { inner, cors }
    }

    /// Shares with the other instances of the server, over `bus`, what
    /// the stores cannot hold: a legacy session's messages reach the
    /// instance holding its stream, the client's answers reach the handler
    /// waiting for them, cancellations reach the request they name, and
    /// list changes and resource updates reach subscribers on every
    /// instance. Give every instance the same stores
    /// ([`with_stores`](Self::with_stores)) and bus; see the scaling guide
    /// for what each fault does.
    ///
    /// ```no_run
    /// # #[cfg(feature = "redis")]
    /// # async fn run() -> Result<(), mcp_server::Error> {
    /// use std::sync::Arc;
    /// use mcp_server::http::{HttpOptions, StreamableHttp};
    /// use mcp_server::redis::Redis;
    /// use mcp_server::{Router, Server};
    ///
    /// let redis = Redis::new("redis://127.0.0.1:6379/")?;
    /// let http = HttpOptions::default();
    /// let endpoint = StreamableHttp::with_stores(
    ///     Server::new(Router::new("notes", "1.0")),
    ///     http.clone(),
    ///     Arc::new(redis.sessions(http.max_sessions, http.session_idle)),
    ///     Arc::new(redis.events()),
    /// )
    /// .with_bus(Arc::new(redis.bus()));
    /// # let _ = endpoint; Ok(()) }
    /// ```
    #[must_use]
    pub fn with_bus(self, bus: Arc<dyn EventBus>) -> Self {
        let me = super::relay::endpoint_id();
        if self
            .inner
            .sessions
            .set_bus(Arc::clone(&bus), Arc::clone(&me))
        {
            *self
                .inner
                .unbridged
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((bus, me));
            self.inner
                .bridged
                .store(false, std::sync::atomic::Ordering::Release);
        }
        self
    }

    /// Begins a graceful shutdown: new requests get 503, streams that only
    /// wait for server messages end, and requests in flight get
    /// [`ServerOptions::shutdown_grace`](crate::ServerOptions::shutdown_grace)
    /// to finish before they are cancelled. [`serve`](super::serve) calls
    /// it when its shutdown signal fires.
    pub fn shutdown(&self) {
        self.inner.shared.closing.send_replace(true);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            self.inner.sessions.shutdown(&runtime);
            self.inner.sse.shutdown(&runtime);
        }
    }

    /// The endpoint's health: ready unless it is shutting down, its session
    /// or event store cannot be reached, or its rate-limit store cannot.
    /// Add checks of your own with [`Health::with_check`]; [`serve`]
    /// answers `/healthz` and `/readyz` with it.
    ///
    /// [`serve`]: super::serve
    pub fn health(&self) -> Health {
        let inner = Arc::clone(&self.inner);
        let closing = Arc::clone(&self.inner);
        let limits = Arc::clone(&self.inner);
        Health::new()
            .with_check("shutdown", move || {
                let closing = closing.shared.is_closing();
                async move {
                    if closing {
                        Err("shutting down")
                    } else {
                        Ok(())
                    }
                }
            })
            .with_check("stores", move || {
                let inner = Arc::clone(&inner);
                async move { inner.sessions.stores_ready().await }
            })
            .with_check("rate_limits", move || {
                let limits = limits.shared.server.options().rate_limits.clone();
                async move {
                    match limits {
                        Some(limits) => limits.ready().await,
                        None => Ok(()),
                    }
                }
            })
    }

    /// The endpoint wrapped in `layer` (an authorization layer, say):
    /// `endpoint.layer(auth)` without importing `tower_layer::Layer`.
    pub fn layer<L: tower_layer::Layer<Self>>(self, layer: L) -> L::Service {
        layer.layer(self)
    }

    /// Waits for `signal`, then begins this endpoint's [`shutdown`]: give
    /// it to the graceful shutdown of the server the endpoint is mounted
    /// in. Without it, an open SSE stream (a legacy session's GET) is a
    /// response in flight, and the server's drain waits for it forever.
    ///
    /// ```no_run
    /// # async fn run(mcp: mcp_server::http::StreamableHttp<mcp_server::Router>) -> std::io::Result<()> {
    /// let app = axum::Router::new().route_service("/mcp", mcp.clone());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    /// axum::serve(listener, app)
    ///     .with_graceful_shutdown(mcp.shutdown_on(tokio::signal::ctrl_c()))
    ///     .await
    /// # }
    /// ```
    ///
    /// [`shutdown`]: Self::shutdown
    pub fn shutdown_on<F>(&self, signal: F) -> impl Future<Output = ()> + Send + 'static
    where
        F: Future + Send + 'static,
    {
        let endpoint = self.clone();
        async move {
            // Whatever the signal says (ctrl_c's error, say), it is time.
            let _ = signal.await;
            endpoint.shutdown();
        }
    }
}

/// The endpoint without CORS, for the CORS layer to wrap.
struct Plain<H: Handler>(Arc<Inner<H>>);

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
        // Each kind of request gets a future of its own size, built in its
        // box: a future awaited inside another is copied into it whole.
        match inner.start(req) {
            Start::Answered(res) => Box::pin(std::future::ready(Ok(res))),
            Start::Post(parts, body, accept) => {
                crate::boxed::future(move || inner.post(parts, body, accept))
            }
            Start::Session(req) => crate::boxed::future(move || async move {
                Ok(if req.method() == HttpMethod::DELETE {
                    inner.sessions.delete(req.headers(), req.extensions()).await
                } else {
                    inner.sessions.get(req.headers(), req.extensions()).await
                })
            }),
        }
    }
}

/// Where a request goes, decided before anything is awaited.
enum Start<B> {
    /// Answered at once: refused, or an HTTP+SSE stream opened.
    Answered(Response<Body>),
    /// A POST whose headers passed: its body is read next.
    Post(http::request::Parts, B, Accepts),
    /// A legacy session's GET (its stream) or DELETE.
    Session(Request<B>),
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
    let allowed = inner.shared.options.allowed.clone();
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

/// The `sessionId` query parameter of an HTTP+SSE message POST.
fn sse_session(uri: &http::Uri) -> Option<&str> {
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("sessionId="))
}

impl<H: Handler> Inner<H> {
    /// Starts carrying the server's changes over the event bus.
    #[cold]
    fn bridge(&self) {
        let bus = self
            .unbridged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        self.bridged
            .store(true, std::sync::atomic::Ordering::Release);
        if let Some((bus, me)) = bus {
            let (local, remote) = self.shared.server.changes();
            super::relay::bridge_changes(me, bus, local, remote);
        }
    }

    /// The checks every request passes (Host and Origin, shutdown, the
    /// method, a POST's headers), and where it goes next.
    fn start<B>(&self, req: Request<B>) -> Start<B> {
        if !self.bridged.load(std::sync::atomic::Ordering::Acquire) {
            self.bridge();
        }
        let options = &self.shared.options;
        let headers = req.headers();
        if let Err(why) = options.allowed.check_request(req.uri(), headers) {
            let event = if why.contains("Origin") {
                SecurityEvent::OriginRefused
            } else {
                SecurityEvent::HostRefused
            };
            crate::security_event::refused(event, req.extensions(), &why);
            return Start::Answered(error(
                StatusCode::FORBIDDEN,
                None,
                ErrorObject::invalid_request(why),
            ));
        }
        if self.shared.is_closing() {
            return Start::Answered(error(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                ErrorObject::internal_error("the server is shutting down"),
            ));
        }
        let legacy = options.legacy;
        let old_sse = options.legacy_sse;
        match *req.method() {
            HttpMethod::POST => {
                let (parts, body) = req.into_parts();
                match post_headers(&parts.headers) {
                    Ok(accept) => Start::Post(parts, body, accept),
                    Err(refused) => Start::Answered(*refused),
                }
            }
            HttpMethod::GET if old_sse && header(headers, names::SESSION_ID).is_none() => {
                Start::Answered(self.sse.open(headers, req.extensions(), &self.sessions))
            }
            HttpMethod::GET | HttpMethod::DELETE if legacy => Start::Session(req),
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
                Start::Answered(res)
            }
        }
    }

    /// A POST past its headers: its body read and decoded, then served.
    async fn post<B>(
        self: Arc<Self>,
        mut parts: http::request::Parts,
        body: B,
        accept: Accepts,
    ) -> Result<Response<Body>, std::convert::Infallible>
    where
        B: http_body::Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let options = &self.shared.options;
        let bytes = match read_body(body, options.max_body, options.body_timeout).await {
            Ok(bytes) => bytes,
            Err(res) => {
                if matches!(
                    res.status(),
                    StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
                ) {
                    let reason = format_args!("request body refused with {}", res.status());
                    crate::security_event::refused(
                        SecurityEvent::LimitReached,
                        &parts.extensions,
                        &reason,
                    );
                }
                return Ok(*res);
            }
        };
        // Decoded once: by a layer in front (that read these very bytes),
        // or here.
        let decoded = match parts.extensions.remove::<DecodedBody>() {
            Some(decoded) if decoded.is_of(&bytes) => decoded,
            _ => DecodedBody::decode(bytes),
        };
        let incoming = match decoded.incoming {
            Ok(incoming) => incoming,
            Err(e) => return Ok(unreadable(&e)),
        };
        let call = decoded.request;
        let session = header(&parts.headers, names::SESSION_ID).map(str::to_owned);
        Ok(
            match (session, sse_session(&parts.uri).map(str::to_owned)) {
                (Some(id), _) if options.legacy => {
                    crate::boxed::pinned(|| self.sessions.post(&id, parts, incoming, call, &accept))
                        .await
                }
                (None, Some(id)) if options.legacy_sse => {
                    crate::boxed::pinned(|| self.sse.post(&id, parts, incoming)).await
                }
                _ => {
                    let Incoming::Single(message) = incoming else {
                        return Ok(unreadable(&crate::session::batches_unsupported()));
                    };
                    match self.stateless.post(parts, message, call) {
                        Routed::Done(res) => res,
                        Routed::Run(checked) => self.stateless.run(checked, &accept).await,
                        Routed::Initialize(new) => {
                            let NewSession { req, call, parts } = *new;
                            crate::boxed::pinned(|| {
                                self.sessions.initialize(req, call, parts, &accept)
                            })
                            .await
                        }
                    }
                }
            },
        )
    }
}

/// A POST's `Content-Type` and `Accept`: what it accepts, or the refusal.
fn post_headers(headers: &http::HeaderMap) -> Result<Accepts, Box<Response<Body>>> {
    let content_type = header(headers, CONTENT_TYPE).unwrap_or_default();
    if !content_type
        .get(.."application/json".len())
        .is_some_and(|t| t.eq_ignore_ascii_case("application/json"))
    {
        return Err(Box::new(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            ErrorObject::invalid_request("Content-Type must be application/json"),
        )));
    }
    let accept = accepts(headers);
    if !accept.json && !accept.sse {
        return Err(Box::new(error(
            StatusCode::NOT_ACCEPTABLE,
            None,
            ErrorObject::invalid_request(
                "Accept must include application/json or text/event-stream",
            ),
        )));
    }
    Ok(accept)
}

/// Reads a request body within `max` bytes and `timeout`; `Err` is the
/// answer to a body that is too large (413), too slow (408), or broken.
async fn read_body<B>(body: B, max: usize, timeout: Duration) -> Result<Bytes, Box<Response<Body>>>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    let mut read = std::pin::pin!(http_body_util::Limited::new(body, max).collect());
    // A short body has usually arrived with the head: read without a
    // timer (setting one up and tearing it down is most of the cost).
    let first = std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await;
    let read = match first {
        Poll::Ready(done) => Ok(done),
        Poll::Pending => tokio::time::timeout(timeout, read).await,
    };
    let (status, message) = match read {
        Ok(Ok(collected)) => return Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body over {max} bytes"),
        ),
        Ok(Err(e)) => (
            StatusCode::BAD_REQUEST,
            format!("reading the request body failed: {e}"),
        ),
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s",
                timeout.as_secs_f32()
            ),
        ),
    };
    Err(Box::new(error(
        status,
        None,
        ErrorObject::invalid_request(message),
    )))
}
