//! Streamable HTTP as a `tower::Service`: 2026-07-28 requests served
//! statelessly, legacy sessions (`Mcp-Session-Id`) on the same endpoint.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::header::{ACCEPT, ALLOW, CONTENT_TYPE, HOST, ORIGIN};
use http::{HeaderMap, HeaderValue, Method as HttpMethod, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use mcp_core::jsonrpc::Incoming;
use mcp_core::jsonrpc::response_id;
use mcp_core::meta::RequestMeta;
use mcp_core::version::negotiate;
use mcp_core::{ErrorObject, ErrorResponse, Message, ProtocolVersion, RequestId, headers, sse};
use tokio::sync::mpsc;

use super::body::Body;
use super::security::AllowedHosts;
use crate::handler::Handler;
use crate::session::peer::Outbox;
use crate::session::{Connection, Route, Server};

/// Settings of the Streamable HTTP transport.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpOptions {
    /// Accepted `Host` and `Origin` values (loopback only by default).
    pub allowed: AllowedHosts,
    /// Largest request body, in bytes.
    pub max_body: usize,
    /// How often an idle SSE stream gets a keep-alive comment.
    pub keep_alive: Duration,
    /// Legacy sessions idle this long are closed.
    pub session_idle: Duration,
    /// Most legacy sessions at once.
    pub max_sessions: usize,
    /// Whether legacy (`initialize`) sessions are served at all.
    pub legacy: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            allowed: AllowedHosts::default(),
            max_body: 4 * 1024 * 1024,
            keep_alive: Duration::from_secs(15),
            session_idle: Duration::from_secs(30 * 60),
            max_sessions: 10_000,
            legacy: true,
        }
    }
}

/// The MCP endpoint as a `tower::Service` over `http` requests: mount it
/// at any path of an axum or hyper server.
pub struct StreamableHttp<H: Handler> {
    inner: Arc<Inner<H>>,
}

impl<H: Handler> Clone for StreamableHttp<H> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
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

struct Inner<H: Handler> {
    server: Server<H>,
    options: HttpOptions,
    sessions: Mutex<HashMap<String, Arc<Session<H>>>>,
    /// Shared by all stateless requests, each of which is a connection.
    permits: Arc<tokio::sync::Semaphore>,
}

/// A legacy session: its connection and its server-to-client stream.
struct Session<H: Handler> {
    conn: Arc<Connection<H>>,
    /// The connection-level messages, until a GET stream takes them.
    stream: tokio::sync::Mutex<Option<mpsc::Receiver<Bytes>>>,
    last_seen: Mutex<Instant>,
}

impl<H: Handler> StreamableHttp<H> {
    /// The endpoint for `server`.
    pub fn new(server: Server<H>, options: HttpOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                permits: server.permits(),
                server,
                options,
                sessions: Mutex::default(),
            }),
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<H, B> tower_service::Service<Request<B>> for StreamableHttp<H>
where
    H: Handler,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { Ok(inner.handle(req).await) })
    }
}

/// A response with a JSON-RPC error body.
fn error(status: StatusCode, id: Option<RequestId>, error: ErrorObject) -> Response<Body> {
    let body =
        serde_json::to_vec(&Message::from(ErrorResponse::new(id, error))).unwrap_or_default();
    let mut res = Response::new(Body::full(body));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// A mirrored header (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`,
/// `Mcp-Param-*`) that appears more than once.
fn repeated_mirror(headers: &HeaderMap) -> Option<&str> {
    headers.keys().map(http::HeaderName::as_str).find(|name| {
        let mirrored = name.eq_ignore_ascii_case(headers::PROTOCOL_VERSION)
            || name.eq_ignore_ascii_case(headers::METHOD)
            || name.eq_ignore_ascii_case(headers::NAME)
            || name
                .get(..headers::PARAM_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(headers::PARAM_PREFIX));
        mirrored && headers.get_all(*name).iter().nth(1).is_some()
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// What the client accepts.
struct Accepts {
    json: bool,
    sse: bool,
}

fn accepts(headers: &HeaderMap) -> Accepts {
    let accept = header(headers, ACCEPT.as_str())
        .unwrap_or("*/*")
        .to_ascii_lowercase();
    let any = accept.contains("*/*");
    Accepts {
        json: any || accept.contains("application/json"),
        sse: any || accept.contains("text/event-stream"),
    }
}

impl<H: Handler> Inner<H> {
    async fn handle<B>(self: Arc<Self>, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let headers = req.headers();
        if let Err(why) = self.options.allowed.check(
            header(headers, HOST.as_str()),
            header(headers, ORIGIN.as_str()),
        ) {
            tracing::warn!(why, "request refused (DNS rebinding protection)");
            return error(
                StatusCode::FORBIDDEN,
                None,
                ErrorObject::invalid_request(why),
            );
        }
        match *req.method() {
            HttpMethod::POST => self.post(req).await,
            HttpMethod::GET if self.options.legacy => self.get(req.headers()).await,
            HttpMethod::DELETE if self.options.legacy => self.delete(req.headers()),
            _ => {
                let allow = if self.options.legacy {
                    "GET, POST, DELETE"
                } else {
                    "POST"
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
        let bytes = match http_body_util::Limited::new(body, self.options.max_body)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    None,
                    ErrorObject::invalid_request(format!(
                        "request body over {} bytes",
                        self.options.max_body
                    )),
                );
            }
        };
        let session = header(&parts.headers, headers::SESSION_ID);
        match session {
            Some(id) if self.options.legacy => {
                self.post_legacy(id, &parts.headers, &bytes, &accept).await
            }
            _ => self.post_new(&parts.headers, &bytes, &accept).await,
        }
    }

    /// A POST without a session: `initialize` (a new legacy session) or a
    /// stateless 2026-07-28 request.
    async fn post_new(
        self: &Arc<Self>,
        headers_in: &HeaderMap,
        bytes: &[u8],
        accept: &Accepts,
    ) -> Response<Body> {
        let message = match Message::from_slice(bytes) {
            Ok(message) => message,
            Err(e) => {
                let response = e.to_error_response().unwrap_or_else(|| {
                    ErrorResponse::new(None, ErrorObject::invalid_request(e.to_string()))
                });
                return error(StatusCode::BAD_REQUEST, response.id, response.error);
            }
        };
        let Message::Request(req) = message else {
            // Notifications and responses need no answer; a modern client
            // cancels by closing its stream, so `cancelled` is moot here.
            return accepted();
        };
        let peek = headers::Mirrored::of(req.params.as_deref());
        let modern = peek
            .meta
            .as_ref()
            .is_some_and(|m| m.protocol_version.is_some());
        if req.method == "initialize" && self.options.legacy && !modern {
            return self.initialize(req, accept).await;
        }
        let Some(meta) = peek.meta.as_ref().filter(|_| modern) else {
            let message = if self.options.legacy {
                "Bad Request: no Mcp-Session-Id header, and no _meta protocolVersion (2026-07-28)"
            } else {
                "Missing required _meta key \"io.modelcontextprotocol/protocolVersion\""
            };
            return error(
                StatusCode::BAD_REQUEST,
                Some(req.id),
                ErrorObject::invalid_params(message),
            );
        };
        // Methods 2026-07-28 removed are not found, with the status the
        // transport gives that.
        if mcp_core::method::lookup(&req.method, mcp_core::Era::Modern).is_none()
            && mcp_core::method::lookup(&req.method, mcp_core::Era::Legacy).is_some()
        {
            return error(
                StatusCode::NOT_FOUND,
                Some(req.id.clone()),
                ErrorObject::method_not_found(&req.method),
            );
        }
        if let Err(e) = RequestMeta::require_modern(Some(meta)) {
            return error(StatusCode::BAD_REQUEST, Some(req.id), e);
        }
        // A mirrored header given twice could say two things; reading
        // only one of them would let the body and a proxy disagree.
        if let Some(name) = repeated_mirror(headers_in) {
            return error(
                StatusCode::BAD_REQUEST,
                Some(req.id),
                ErrorObject::header_mismatch(format!("header {name} appears more than once")),
            );
        }
        // The headers mirror the body; a mismatch is reported before
        // anything else about the version.
        let version = meta
            .protocol_version
            .clone()
            .unwrap_or_else(|| ProtocolVersion::new(""));
        let mismatch = match header(headers_in, headers::PROTOCOL_VERSION) {
            Some(v) if v == version.as_str() => None,
            Some(v) => Some(format!(
                "MCP-Protocol-Version header value '{v}' does not match body value '{version}'"
            )),
            None => Some("MCP-Protocol-Version header is missing".to_owned()),
        };
        if let Some(why) = mismatch {
            return error(
                StatusCode::BAD_REQUEST,
                Some(req.id),
                ErrorObject::header_mismatch(why),
            );
        }
        if let Err(e) =
            negotiate::server_accept_modern(&version, &self.server.options().supported_versions)
        {
            return error(StatusCode::BAD_REQUEST, Some(req.id), e);
        }
        let name = peek.name_for(&req.method);
        let params = match (&req.method[..], name) {
            ("tools/call", Some(tool)) => {
                self.server.handler().tool(tool).map_or_else(Vec::new, |t| {
                    headers::ParamHeader::from_schema(&t.input_schema).unwrap_or_default()
                })
            }
            _ => Vec::new(),
        };
        let lookup = |h: &str| header(headers_in, h);
        if let Err(e) = headers::check(lookup, &req.method, name, &params, peek.arguments.as_ref())
        {
            return error(StatusCode::BAD_REQUEST, Some(req.id), e);
        }
        // A connection of its own: nothing is shared between requests.
        let (unused, _) = mpsc::channel(1);
        let conn = self
            .server
            .connection_sharing(unused, Arc::clone(&self.permits));
        let (reply, rx) = Outbox::channel(64);
        let route = Route {
            reply,
            extensions: http::Extensions::new(),
        };
        let expected = BTreeSet::from([req.id.clone()]);
        conn.on_message(Message::Request(req), &route).await;
        drop(route);
        // The request's connection lives as long as its response stream:
        // when the client goes away, the request is cancelled.
        let cancel = move || conn.abort_all();
        self.respond(rx, expected, accept, Some(Box::new(cancel)), None)
            .await
    }

    async fn initialize(
        self: &Arc<Self>,
        req: mcp_core::Request,
        accept: &Accepts,
    ) -> Response<Body> {
        let id = {
            let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
            let idle = self.options.session_idle;
            sessions.retain(|_, s| {
                s.last_seen
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .elapsed()
                    < idle
            });
            if sessions.len() >= self.options.max_sessions {
                drop(sessions);
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Some(req.id),
                    ErrorObject::internal_error("too many sessions; retry later"),
                );
            }
            let id = new_session_id();
            let (tx, rx) = mpsc::channel(256);
            let session = Arc::new(Session {
                conn: self.server.connection(tx),
                stream: tokio::sync::Mutex::new(Some(rx)),
                last_seen: Mutex::new(Instant::now()),
            });
            sessions.insert(id.clone(), session);
            id
        };
        let Some(session) = self.session(&id) else {
            return error(
                StatusCode::NOT_FOUND,
                Some(req.id),
                ErrorObject::invalid_request("session closed"),
            );
        };
        let (reply, rx) = Outbox::channel(64);
        let route = Route {
            reply,
            extensions: http::Extensions::new(),
        };
        let expected = BTreeSet::from([req.id.clone()]);
        session.conn.on_message(Message::Request(req), &route).await;
        drop(route);
        let mut res = self.respond(rx, expected, accept, None, None).await;
        if !session.conn.is_initialized() {
            // The handshake failed: no session was created after all.
            self.sessions
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id);
        } else if let Ok(value) = HeaderValue::from_str(&id) {
            res.headers_mut().insert(headers::SESSION_ID, value);
        }
        res
    }

    fn session(&self, id: &str) -> Option<Arc<Session<H>>> {
        let session = self
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()?;
        *session
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        Some(session)
    }

    async fn post_legacy(
        self: &Arc<Self>,
        id: &str,
        headers_in: &HeaderMap,
        bytes: &[u8],
        accept: &Accepts,
    ) -> Response<Body> {
        let Some(session) = self.session(id) else {
            return error(
                StatusCode::NOT_FOUND,
                None,
                ErrorObject::invalid_request("Session not found"),
            );
        };
        if let Some(v) = header(headers_in, headers::PROTOCOL_VERSION)
            && !self
                .server
                .options()
                .supported_versions
                .iter()
                .any(|s| s == v)
        {
            let e = ErrorObject::invalid_request(format!("Unsupported MCP-Protocol-Version: {v}"));
            return error(StatusCode::BAD_REQUEST, None, e);
        }
        let messages = match Incoming::from_slice(bytes, session.conn.allows_batches()) {
            Ok(Incoming::Single(message)) => vec![Ok(message)],
            Ok(Incoming::Batch(items)) => items,
            Err(e) => {
                let response = e.to_error_response().unwrap_or_else(|| {
                    ErrorResponse::new(None, ErrorObject::invalid_request(e.to_string()))
                });
                return error(StatusCode::BAD_REQUEST, response.id, response.error);
            }
        };
        let (reply, rx) = Outbox::channel(64);
        let route = Route {
            reply,
            extensions: http::Extensions::new(),
        };
        let mut expected = BTreeSet::new();
        let mut bad = Vec::new();
        for message in messages {
            match message {
                Ok(message) => {
                    if let Message::Request(r) = &message {
                        expected.insert(r.id.clone());
                    }
                    session.conn.on_message(message, &route).await;
                }
                Err(e) => bad.extend(e.to_error_response()),
            }
        }
        drop(route);
        if expected.is_empty() && bad.is_empty() {
            return accepted();
        }
        let bad: Vec<Bytes> = bad
            .into_iter()
            .filter_map(|e| serde_json::to_vec(&Message::from(e)).ok().map(Bytes::from))
            .collect();
        self.respond(rx, expected, accept, None, Some(bad)).await
    }

    /// GET: the legacy session's stream of server-initiated messages.
    async fn get(self: &Arc<Self>, headers_in: &HeaderMap) -> Response<Body> {
        if !accepts(headers_in).sse {
            return error(
                StatusCode::NOT_ACCEPTABLE,
                None,
                ErrorObject::invalid_request("Accept must include text/event-stream"),
            );
        }
        let Some(id) = header(headers_in, headers::SESSION_ID) else {
            return error(
                StatusCode::BAD_REQUEST,
                None,
                ErrorObject::invalid_request("Bad Request: Mcp-Session-Id header is required"),
            );
        };
        let Some(session) = self.session(id) else {
            return error(
                StatusCode::NOT_FOUND,
                None,
                ErrorObject::invalid_request("Session not found"),
            );
        };
        let Some(rx) = session.stream.lock().await.take() else {
            return error(
                StatusCode::CONFLICT,
                None,
                ErrorObject::invalid_request("this session's stream is already open"),
            );
        };
        let (body_tx, body_rx) = mpsc::channel::<Bytes>(16);
        let keep_alive = self.options.keep_alive;
        tokio::spawn(async move {
            let mut rx = rx;
            let mut tick = tokio::time::interval(keep_alive);
            tick.reset();
            loop {
                let chunk = tokio::select! {
                    frame = rx.recv() => match frame {
                        Some(frame) => event(&frame),
                        None => break,
                    },
                    _ = tick.tick() => comment(),
                };
                if body_tx.send(chunk).await.is_err() {
                    break;
                }
            }
            // The client left: keep what arrives for the next GET.
            *session.stream.lock().await = Some(rx);
        });
        sse_response(Body::stream(body_rx))
    }

    fn delete(&self, headers_in: &HeaderMap) -> Response<Body> {
        let Some(id) = header(headers_in, headers::SESSION_ID) else {
            return error(
                StatusCode::BAD_REQUEST,
                None,
                ErrorObject::invalid_request("Bad Request: Mcp-Session-Id header is required"),
            );
        };
        match self
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
        {
            Some(session) => {
                session.conn.abort_all();
                Response::new(Body::empty())
            }
            None => error(
                StatusCode::NOT_FOUND,
                None,
                ErrorObject::invalid_request("Session not found"),
            ),
        }
    }

    /// Answers a POST that carried requests: as an SSE stream when the
    /// client takes one (notifications and server requests can then go
    /// along), else as JSON once every response is in.
    async fn respond(
        &self,
        mut rx: mpsc::Receiver<Bytes>,
        mut expected: BTreeSet<RequestId>,
        accept: &Accepts,
        cancel: Option<Box<dyn FnOnce() + Send>>,
        mut ready: Option<Vec<Bytes>>,
    ) -> Response<Body> {
        let modern = cancel.is_some();
        // Until the answer is out, losing this future (hyper drops it when
        // the client disconnects) or the stream cancels the request.
        let mut guard = CancelOnDrop(cancel);
        // When the answer comes before anything else, send it as JSON (with
        // a status that says what kind of failure an error is); a stream is
        // only worth it when notifications or requests come first.
        let mut first = None;
        if accept.json && ready.as_ref().is_none_or(Vec::is_empty) && expected.len() == 1 {
            match rx.recv().await {
                Some(frame) => match response_id(&frame) {
                    Some(id) if expected.contains(&id) => {
                        guard.disarm();
                        return json_response(frame, modern);
                    }
                    _ => first = Some(frame),
                },
                None => {
                    guard.disarm();
                    return json_response(Bytes::new(), false);
                }
            }
        }
        if accept.sse {
            let (body_tx, body_rx) = mpsc::channel::<Bytes>(16);
            let keep_alive = self.options.keep_alive;
            tokio::spawn(async move {
                for frame in ready.take().unwrap_or_default().into_iter().chain(first) {
                    if let Some(id) = response_id(&frame) {
                        expected.remove(&id);
                    }
                    let _ = body_tx.send(event(&frame)).await;
                }
                let mut tick = tokio::time::interval(keep_alive);
                tick.reset();
                while !expected.is_empty() {
                    let chunk = tokio::select! {
                        frame = rx.recv() => match frame {
                            Some(frame) => {
                                if let Some(id) = response_id(&frame) {
                                    expected.remove(&id);
                                }
                                event(&frame)
                            }
                            None => break,
                        },
                        _ = tick.tick() => comment(),
                        // The client closed the stream: for a 2026-07-28
                        // request, that is its cancellation (the guard).
                        () = body_tx.closed() => return,
                    };
                    if body_tx.send(chunk).await.is_err() {
                        return;
                    }
                }
                guard.disarm();
            });
            return sse_response(Body::stream(body_rx));
        }
        guard.disarm();
        let mut responses = ready.take().unwrap_or_default();
        responses.extend(first.filter(|f| response_id(f).is_some()));
        let batch = expected.len() + responses.len() > 1;
        while !expected.is_empty() {
            let Some(frame) = rx.recv().await else { break };
            if let Some(id) = response_id(&frame) {
                expected.remove(&id);
                responses.push(frame);
            }
        }
        let body = if batch {
            let mut out = BytesMut::from(&b"["[..]);
            for (i, frame) in responses.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b",");
                }
                out.extend_from_slice(frame);
            }
            out.extend_from_slice(b"]");
            out.freeze()
        } else {
            responses.pop().unwrap_or_default()
        };
        let mut res = Response::new(Body::full(body));
        res.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        res
    }
}

/// A single JSON response. For 2026-07-28 requests (`modern`), errors carry
/// the HTTP status the transport assigns them.
/// Runs the cancellation it holds when dropped, unless disarmed first.
struct CancelOnDrop(Option<Box<dyn FnOnce() + Send>>);

impl CancelOnDrop {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(cancel) = self.0.take() {
            cancel();
        }
    }
}

fn json_response(frame: Bytes, modern: bool) -> Response<Body> {
    let status = if modern {
        status_of(&frame)
    } else {
        StatusCode::OK
    };
    let mut res = Response::new(Body::full(frame));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

fn status_of(frame: &[u8]) -> StatusCode {
    #[derive(serde::Deserialize)]
    struct Peek {
        #[serde(default)]
        error: Option<ErrorObject>,
    }
    let code = serde_json::from_slice::<Peek>(frame)
        .ok()
        .and_then(|p| p.error)
        .map(|e| e.code());
    match code.map(|c| c.0) {
        Some(-32601) => StatusCode::NOT_FOUND,
        Some(-32700 | -32600 | -32020 | -32021 | -32022) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    }
}

fn event(frame: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    sse::encode(
        &sse::Event::message(String::from_utf8_lossy(frame).into_owned()),
        &mut out,
    );
    out.freeze()
}

fn comment() -> Bytes {
    let mut out = BytesMut::new();
    sse::encode_comment("keep-alive", &mut out);
    out.freeze()
}

fn accepted() -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::ACCEPTED;
    res
}

fn sse_response(body: Body) -> Response<Body> {
    let mut res = Response::new(body);
    let h = res.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    res
}

/// 128 random bits, hex: unguessable and header-safe.
fn new_session_id() -> String {
    let mut bytes = [0u8; 16];
    // Without a random source no session id is safe to hand out; an id
    // that stays all zeros is refused below by being impossible to reuse
    // (every session would collide), so fail loudly instead.
    if getrandom::fill(&mut bytes).is_err() {
        tracing::error!("no random source for session ids");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
