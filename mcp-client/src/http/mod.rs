//! The Streamable HTTP transport, client side, for servers of either era:
//! 2026-07-28 requests with their mirrored headers, legacy sessions
//! (`Mcp-Session-Id`, the GET stream), SSE responses with reconnection
//! (`Last-Event-ID`, `retry`).
//!
//! Here: the POST of each message and the reading of its response. In the
//! submodules: server-sent events (`events`), credentials from an
//! [`AuthProvider`] on every request (`auth`), a new session when the
//! server forgets the old one (`session`), and the deprecated HTTP+SSE
//! transport of 2024-11-05 for servers that speak nothing newer
//! (`sse_fallback`).

mod auth;
mod events;
mod pool;
mod session;
mod sse_fallback;
mod wire;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use mcp_core::headers;
use mcp_core::jsonrpc::Incoming;
use mcp_core::transport::{MessageRead, MessageWrite, Outgoing, OutgoingKind};
use mcp_core::{Era, Message, ProtocolVersion, RequestId, sse};
use tokio::sync::mpsc;

use crate::client::{Client, ClientOptions};
use crate::error::Error;
use crate::handler::ClientHandler;

pub use auth::{AuthChallenge, AuthProvider};
use wire::{Request, Response, Wire};

// The MCP headers (`mcp_core::headers`) as header names, made once.
const SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
const PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
const METHOD: HeaderName = HeaderName::from_static("mcp-method");
const NAME: HeaderName = HeaderName::from_static("mcp-name");

/// Settings of the HTTP transport.
#[derive(Clone)]
#[non_exhaustive]
pub struct HttpOptions {
    /// Headers sent with every request (an API key, say).
    pub headers: HeaderMap,
    /// How many times a broken SSE stream is resumed before giving up.
    pub reconnect_attempts: u32,
    /// Wait before resuming when the server sent no `retry`.
    pub default_retry: Duration,
    /// Supplies the `Authorization` header of every request and hears
    /// about 401/403 refusals; see [`AuthProvider`].
    pub auth: Option<Arc<dyn AuthProvider>>,
    /// The largest message read from the server: a JSON response body,
    /// or one SSE event. A larger one fails its request with
    /// [`mcp_core::Error::FrameTooLarge`] (inside
    /// [`Error::Transport`](crate::Error::Transport)); nothing over it is
    /// ever held in memory.
    pub max_message_size: usize,
    /// How long connecting to the server may take.
    pub connect_timeout: Duration,
    /// The longest wait for the next bytes of a response; a server that
    /// stalls longer is given up on (an SSE stream is then resumed, as
    /// when it breaks). Servers that stream send keep-alives more often.
    pub read_timeout: Duration,
    /// The longest reconnection delay a server's SSE `retry` field may
    /// ask for.
    pub max_retry: Duration,
    /// The longest `Retry-After` of a 429 or 503 answer that the client
    /// waits out before sending the request again (at most twice); a
    /// longer wait, or a third refusal, fails the request with
    /// [`Error::Http`](crate::Error::Http). Zero never waits.
    pub max_retry_after: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            headers: HeaderMap::new(),
            reconnect_attempts: 5,
            default_retry: Duration::from_secs(1),
            auth: None,
            max_message_size: 16 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
            max_retry: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values are credentials as often as not: names only.
        f.debug_struct("HttpOptions")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("reconnect_attempts", &self.reconnect_attempts)
            .field("default_retry", &self.default_retry)
            .field("auth", &self.auth.as_ref().map(|_| "AuthProvider"))
            .field("max_message_size", &self.max_message_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("max_retry", &self.max_retry)
            .finish()
    }
}

impl HttpOptions {
    /// Adds a header to every request. Its value is marked sensitive: it
    /// never appears in `Debug` output or in logs.
    ///
    /// # Errors
    /// When the name or value is not a valid header.
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, Error> {
        let name = HeaderName::try_from(name)
            .map_err(|e| Error::Incompatible(format!("header name: {e}")))?;
        let mut value = HeaderValue::try_from(value)
            .map_err(|e| Error::Incompatible(format!("header value: {e}")))?;
        value.set_sensitive(true);
        self.headers.insert(name, value);
        Ok(self)
    }

    /// Takes credentials from `provider`; see [`AuthProvider`].
    #[must_use]
    pub fn with_auth(mut self, provider: Arc<dyn AuthProvider>) -> Self {
        self.auth = Some(provider);
        self
    }
}

struct Shared {
    /// The HTTP clients, and the endpoint's URL.
    wire: Wire,
    options: HttpOptions,
    session: Mutex<Session>,
    /// The legacy version `initialize` settled on, for the version header
    /// of the transport's own requests (the GET stream, DELETE); the client
    /// names it in each message's mirror.
    legacy_version: Mutex<Option<String>>,
    inbox: mpsc::Sender<Result<Incoming, mcp_core::Error>>,
    /// The client's `initialize` and `notifications/initialized`, replayed
    /// to start a new session when the server forgets one.
    handshake: Mutex<Handshake>,
    /// Held while a new session is being started, so that only one
    /// request starts it and the others wait for it.
    renewing: tokio::sync::Mutex<()>,
    get_stream: AtomicBool,
    /// The task reading the legacy GET stream, stopped when a new session
    /// replaces the one it belongs to.
    get_task: Mutex<Option<tokio::task::AbortHandle>>,
    /// Where messages go once the server turned out to speak only the
    /// 2024-11-05 HTTP+SSE transport.
    sse_endpoint: OnceLock<reqwest::Url>,
    /// The task reading that transport's SSE stream.
    sse_task: Mutex<Option<tokio::task::AbortHandle>>,
    /// The POSTs of 2026-07-28 requests in flight, to cancel by closing.
    streams: Mutex<HashMap<RequestId, tokio::task::AbortHandle>>,
}

/// The legacy session: its id, if the server gave one, and which session
/// of this transport it is (0 for the first, one more for each new one
/// started after the server forgot the previous), so that a request that
/// failed on an old session can tell that a new one already exists.
#[derive(Debug, Default, Clone)]
struct Session {
    id: Option<String>,
    epoch: u64,
    /// How telemetry names it (`mcp.session.id`).
    label: Option<Arc<str>>,
}

impl Session {
    /// Session `id` (if the server gave one), the `epoch`-th of this
    /// transport.
    fn new(id: Option<String>, epoch: u64) -> Self {
        let label = id.as_deref().map(label);
        Self { id, epoch, label }
    }
}

/// A session as telemetry names it: the first 16 hex digits of the id's
/// SHA-256, as the server names it too, so that both sides' spans of a
/// session correlate without holding what would let a reader use it.
fn label(session_id: &str) -> Arc<str> {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(session_id.as_bytes());
    mcp_core::hex::encode(digest.get(..8).unwrap_or_default()).into()
}

/// The handshake frames the client sent.
#[derive(Debug, Default)]
struct Handshake {
    initialize: Option<Bytes>,
    initialized: Option<Bytes>,
}

/// The POST of a request, for the client to run on the caller's task
/// rather than hand to the writer (2026-07-28 requests, which need no
/// order among the messages and are cancelled by closing their stream).
pub(crate) struct Direct(Arc<Shared>);

impl Direct {
    /// Sends `message` and reads what the server answers. The answer to
    /// the request itself, when it comes as a JSON body, is returned to
    /// the caller, which is waiting for it: handing it to the reading half
    /// would wake another task only for it to wake the caller. Anything
    /// else the server sends is delivered to the reading half.
    pub(crate) fn post(
        &self,
        message: Outgoing,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Message>> + Send>> {
        Box::pin(Arc::clone(&self.0).post_keeping(message, true))
    }
}

/// The request `message` answers, if it is a response.
fn answers(message: &Message) -> Option<&RequestId> {
    match message {
        Message::Response(r) => Some(&r.id),
        Message::Error(e) => e.id.as_ref(),
        _ => None,
    }
}

/// The receiving half: messages from response bodies and the GET stream,
/// each decoded once.
#[derive(Debug)]
pub struct HttpReader {
    inbox: mpsc::Receiver<Result<Incoming, mcp_core::Error>>,
}

/// The sending half: one POST per message, its headers from what the
/// message says of itself (its method, its
/// [`Mirror`](mcp_core::transport::Mirror)).
pub struct HttpWriter {
    shared: Arc<Shared>,
}

impl HttpWriter {
    /// Its POST, for requests the client sends on the caller's task.
    pub(crate) fn direct(&self) -> Direct {
        Direct(Arc::clone(&self.shared))
    }
}

impl std::fmt::Debug for HttpWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpWriter")
            .field("url", &self.shared.wire.url().as_str())
            .finish_non_exhaustive()
    }
}

/// The two halves of a Streamable HTTP transport to the endpoint at `url`.
///
/// # Errors
/// When `url` is not an `http` or `https` URL.
pub fn http_transport(url: &str, options: HttpOptions) -> Result<(HttpReader, HttpWriter), Error> {
    let url =
        reqwest::Url::parse(url).map_err(|e| Error::Incompatible(format!("bad URL {url}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Incompatible(format!("not an HTTP URL: {url}")));
    }
    let wire = Wire::new(url, &options)?;
    let (inbox, rx) = mpsc::channel(256);
    let shared = Arc::new(Shared {
        wire,
        options,
        session: Mutex::default(),
        legacy_version: Mutex::default(),
        inbox,
        handshake: Mutex::default(),
        renewing: tokio::sync::Mutex::new(()),
        get_stream: AtomicBool::new(false),
        get_task: Mutex::default(),
        sse_endpoint: OnceLock::new(),
        sse_task: Mutex::default(),
        streams: Mutex::default(),
    });
    Ok((HttpReader { inbox: rx }, HttpWriter { shared }))
}

impl Client {
    /// Connects to the Streamable HTTP endpoint at `url`, in whichever era
    /// the server speaks.
    ///
    /// # Errors
    /// As [`Client::connect`], and for a bad URL.
    pub async fn connect_http(
        url: &str,
        options: ClientOptions,
        http: HttpOptions,
        handler: impl ClientHandler,
    ) -> Result<Self, Error> {
        let (reader, writer) = http_transport(url, http)?;
        Self::connect(reader, writer, options, handler).await
    }
}

impl MessageRead for HttpReader {
    async fn read_message(&mut self) -> Option<Result<Incoming, mcp_core::Error>> {
        self.inbox.recv().await
    }
}

impl MessageWrite for HttpWriter {
    async fn write_message(&mut self, message: Outgoing) -> Result<(), mcp_core::Error> {
        let shared = Arc::clone(&self.shared);
        if let OutgoingKind::Request { id, .. } = &message.kind {
            // Each request runs on its own: a long SSE answer must not
            // hold up the requests after it.
            let id = id.clone();
            // A 2026-07-28 request's response stream is its lifetime.
            let stateless = message
                .mirror
                .as_ref()
                .and_then(|m| m.protocol_version.as_deref())
                .is_some_and(|v| ProtocolVersion::new(v.to_owned()).era() == Some(Era::Modern));
            let done = stateless.then(|| id.clone());
            // Held across the spawn, so the task cannot remove its entry
            // before it is there.
            let mut streams = Shared::lock(&self.shared.streams);
            let task = tokio::spawn(async move {
                shared.clone().post(message).await;
                if let Some(id) = done {
                    Shared::lock(&shared.streams).remove(&id);
                }
            });
            if stateless {
                streams.insert(id, task.abort_handle());
            }
        } else if let Some(id) = cancelled_request(&message)
            && let Some(stream) = Shared::lock(&self.shared.streams).remove(&id)
        {
            // A 2026-07-28 request is cancelled by closing its response
            // stream; no notification goes to the server.
            stream.abort();
        } else {
            // Notifications and answers are acknowledged at once (202);
            // waiting keeps them in order with what follows, so that
            // `notifications/initialized` reaches the server before the
            // first request of the session.
            shared.post(message).await;
        }
        Ok(())
    }

    async fn close(&mut self) -> Result<(), mcp_core::Error> {
        let shared = &self.shared;
        for task in [&shared.get_task, &shared.sse_task] {
            if let Some(task) = Shared::lock(task).take() {
                task.abort();
            }
        }
        let session = Shared::lock(&shared.session).id.take();
        if let Some(session) = session {
            let _ = shared
                .send(|| {
                    let mut headers = shared.options.headers.clone();
                    Shared::with_session(&mut headers, Some(&session));
                    Request::new(Method::DELETE, headers)
                })
                .await;
        }
        Ok(())
    }

    fn mirrors(&self) -> bool {
        true
    }

    fn server_address(&self) -> Option<(String, u16)> {
        let url = self.shared.wire.url();
        Some((url.host_str()?.to_owned(), url.port_or_known_default()?))
    }

    fn session_label(&self) -> Option<mcp_core::transport::SessionLabel> {
        let shared = Arc::clone(&self.shared);
        Some(Arc::new(move || {
            Shared::lock(&shared.session).label.clone()
        }))
    }
}

/// Whether a response is an SSE stream.
fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/event-stream"))
}

/// The request a `notifications/cancelled` message cancels.
fn cancelled_request(message: &Outgoing) -> Option<RequestId> {
    #[derive(serde::Deserialize)]
    struct Params {
        #[serde(rename = "requestId")]
        request_id: RequestId,
    }
    #[derive(serde::Deserialize)]
    struct Cancelled {
        params: Params,
    }
    if message.method() != Some("notifications/cancelled") {
        return None;
    }
    // The one message read again here, and a small one.
    let cancelled: Cancelled = serde_json::from_slice(&message.bytes).ok()?;
    Some(cancelled.params.request_id)
}

impl Shared {
    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fixed headers and the session's id.
    fn base(&self) -> HeaderMap {
        let mut headers = self.options.headers.clone();
        let session = Self::lock(&self.session).id.clone();
        Self::with_session(&mut headers, session.as_deref());
        headers
    }

    /// Names `session` in `headers`. An id the server sent is a valid
    /// header value (it came in one); one that is not is left out.
    fn with_session(headers: &mut HeaderMap, session: Option<&str>) {
        if let Some(value) = session.and_then(|s| HeaderValue::from_str(s).ok()) {
            headers.insert(SESSION_ID, value);
        }
    }

    /// Sends one message, and reads what the server answers.
    async fn post(self: Arc<Self>, message: Outgoing) {
        self.post_keeping(message, false).await;
    }

    /// Sends one message, and reads what the server answers; with `keep`,
    /// the answer to a request that comes as a JSON body is returned
    /// instead of delivered.
    async fn post_keeping(self: Arc<Self>, message: Outgoing, keep: bool) -> Option<Message> {
        let request_id = match &message.kind {
            OutgoingKind::Request { id, .. } => Some(id.clone()),
            _ => None,
        };
        let method = message.method().map(str::to_owned);
        match method.as_deref() {
            Some("initialize") => {
                Self::lock(&self.handshake).initialize = Some(message.bytes.clone());
            }
            Some("notifications/initialized") => {
                Self::lock(&self.handshake).initialized = Some(message.bytes.clone());
            }
            _ => {}
        }
        // The client names the negotiated legacy version once it knows it;
        // the transport's own requests (GET, DELETE) name it too.
        if let Some(version) = message
            .mirror
            .as_ref()
            .and_then(|m| m.protocol_version.as_ref())
            && ProtocolVersion::new(version.clone()).era() == Some(Era::Legacy)
        {
            let mut known = Self::lock(&self.legacy_version);
            if known.as_deref() != Some(version.as_str()) {
                *known = Some(version.clone());
            }
        }
        if let Some(endpoint) = self.sse_endpoint.get() {
            self.post_to_endpoint(endpoint, message.bytes, request_id.as_ref())
                .await;
            return None;
        }
        let mut renewed = false;
        loop {
            let session = Self::lock(&self.session).clone();
            let response = self
                .send(|| self.build_post(&message, session.id.as_deref()))
                .await;
            let response = match response {
                Ok(response) => response,
                Err(why) => {
                    self.fail(request_id.as_ref(), &why).await;
                    return None;
                }
            };
            let status = response.status();
            // A session is what a server grants with an answer; a refusal
            // that names one (some servers set it on every response) does
            // not start it.
            if let Some(id) = response
                .headers()
                .get(&SESSION_ID)
                .and_then(|v| v.to_str().ok())
                .filter(|_| status.is_success())
            {
                let mut session = Self::lock(&self.session);
                if session.id.as_deref() != Some(id) {
                    *session = Session::new(Some(id.to_owned()), session.epoch);
                }
            }
            // The server forgot the session (it expired, or was ended):
            // start a new one and send the message again, once. Answers
            // to the old session's requests mean nothing to a new one.
            let answer = matches!(
                message.kind,
                OutgoingKind::Response { .. } | OutgoingKind::Batch
            );
            if status == StatusCode::NOT_FOUND && session.id.is_some() && !renewed && !answer {
                renewed = true;
                drop(response);
                match self.renew_session(session.epoch).await {
                    Ok(()) => continue,
                    Err(why) => {
                        let why = format!(
                            "the server ended the session (HTTP 404), and starting a new one failed: {why}"
                        );
                        self.fail(request_id.as_ref(), &why).await;
                        return None;
                    }
                }
            }
            if method.as_deref() == Some("initialize")
                && session.id.is_none()
                && matches!(
                    status,
                    StatusCode::BAD_REQUEST
                        | StatusCode::NOT_FOUND
                        | StatusCode::METHOD_NOT_ALLOWED
                )
            {
                self.fall_back_to_sse(response, message.bytes, request_id.as_ref())
                    .await;
                return None;
            }
            let kept = self
                .handle_response(response, request_id.as_ref(), keep)
                .await;
            if method.as_deref() == Some("notifications/initialized") && status.is_success() {
                self.clone().open_get_stream().await;
            }
            return kept;
        }
    }

    /// The POST of `message` to the Streamable HTTP endpoint, with the
    /// headers that mirror it.
    fn build_post(&self, message: &Outgoing, session: Option<&str>) -> Request {
        let mut map = self.options.headers.clone();
        Self::with_session(&mut map, session);
        json_post_headers(&mut map);
        if let Some(method) = message.method() {
            insert(&mut map, METHOD, &headers::encode_value(method));
        }
        let mirror = message.mirror.as_deref();
        if let Some(mirror) = mirror {
            if let Some(name) = &mirror.name {
                insert(&mut map, NAME, &headers::encode_value(name));
            }
            for (header, value) in &mirror.params {
                if let Ok(header) = HeaderName::try_from(header.as_str()) {
                    insert(&mut map, header, value);
                }
            }
        }
        let version = mirror
            .and_then(|m| m.protocol_version.clone())
            .or_else(|| Self::lock(&self.legacy_version).clone());
        if let Some(version) = &version {
            insert(&mut map, PROTOCOL_VERSION, version);
        }
        Request::new(Method::POST, map).body(message.bytes.clone())
    }

    /// Reads a response: JSON, an SSE stream, or an error status. With
    /// `keep`, a JSON answer to `request` is returned, not delivered.
    async fn handle_response(
        self: &Arc<Self>,
        response: Response,
        request: Option<&RequestId>,
        keep: bool,
    ) -> Option<Message> {
        let status = response.status();
        if status == StatusCode::ACCEPTED {
            // Right for notifications and answers; a request is owed its
            // response in the body (JSON or an event stream), and nothing
            // else will bring it.
            if request.is_some() {
                self.fail(
                    request,
                    "the server accepted the request (HTTP 202) without answering it",
                )
                .await;
            }
            return None;
        }
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if is_event_stream(response.headers()) {
            self.read_events(response, request).await;
            return None;
        }
        // Read before the body consumes the response; only refusals have any.
        let challenges = if status.is_success() {
            Vec::new()
        } else {
            auth::challenges(response.headers())
        };
        let body = match read_body(response, self.options.max_message_size).await {
            Ok(body) => body,
            Err(e) => {
                self.fail_with(request, e).await;
                return None;
            }
        };
        if !challenges.is_empty() {
            // Credentials refused: whatever the body says, the caller needs
            // the status and the challenge to do something about it.
            self.refused(request, status, challenges, &body).await;
            return None;
        }
        self.handle_body(status, &content_type, body, request, keep)
            .await
    }

    /// Reads a response body that is not an SSE stream. With `keep`, the
    /// answer to `request` is returned, not delivered.
    async fn handle_body(
        &self,
        status: StatusCode,
        content_type: &str,
        body: Bytes,
        request: Option<&RequestId>,
        keep: bool,
    ) -> Option<Message> {
        let is_json = content_type.starts_with("application/json") && !body.is_empty();
        let decoded = is_json.then(|| Incoming::from_slice(&body, true));
        match (decoded, request) {
            (Some(Ok(Incoming::Single(Message::Error(mut error)))), Some(id))
                if error.id.is_none()
                    || (!status.is_success() && error.id.as_ref() != Some(id)) =>
            {
                // A server that could not (or would not) echo the id still
                // answered this request: the body of a refused POST is
                // about it, whatever id it names (one SDK answers every
                // refusal with the id "server-error").
                error.id = Some(id.clone());
                if keep {
                    return Some(Message::Error(error));
                }
                self.deliver(Incoming::Single(Message::Error(error))).await;
            }
            (Some(Ok(Incoming::Single(message))), Some(id))
                if keep && answers(&message) == Some(id) =>
            {
                return Some(message);
            }
            (Some(Ok(incoming)), _) => {
                let answered = self.deliver(incoming).await;
                // A body is the answer to its request or to nothing: the
                // request fails now rather than wait for its timeout.
                if let Some(id) = request
                    && answered.as_ref() != Some(id)
                {
                    if status.is_success() {
                        self.fail(
                            request,
                            "the server's answer is not the response to this request",
                        )
                        .await;
                    } else {
                        self.refused(request, status, Vec::new(), &body).await;
                    }
                }
            }
            _ if !status.is_success() => {
                self.refused(request, status, Vec::new(), &body).await;
            }
            (Some(Err(e)), Some(_)) => self.fail_with(request, e).await,
            (None, Some(_)) => {
                let why = format!(
                    "the server's answer is neither JSON nor an event stream (content type {content_type:?}, {} bytes)",
                    body.len()
                );
                self.fail(request, &why).await;
            }
            (Some(Err(e)), None) => tracing::debug!(error = %e, "unreadable answer"),
            (None, None) => {}
        }
        None
    }

    /// Hands what the server sent to the client, decoded once. Returns
    /// whether it answers request `waiting`.
    async fn deliver(&self, incoming: Incoming) -> Option<RequestId> {
        let answers = match &incoming {
            Incoming::Single(message) => answers(message).cloned(),
            Incoming::Batch(_) => None,
        };
        let _ = self.inbox.send(Ok(incoming)).await;
        answers
    }

    /// Decodes an SSE event's data and hands it to the client; the request
    /// it answers, if any.
    async fn deliver_event(&self, data: &str) -> Option<RequestId> {
        match Incoming::from_slice(data.as_bytes(), true) {
            Ok(incoming) => self.deliver(incoming).await,
            Err(e) => {
                let id = match &e {
                    mcp_core::Error::InvalidResponse { id, .. } => id.clone(),
                    _ => None,
                };
                let _ = self.inbox.send(Err(e)).await;
                id
            }
        }
    }

    /// An SSE decoder within the message size limit.
    fn decoder(&self) -> sse::Decoder {
        sse::Decoder::with_max_event(self.options.max_message_size)
    }

    /// How long to wait before resuming a stream: what the server asked
    /// for, within [`HttpOptions::max_retry`].
    fn retry_delay(&self, decoder: &sse::Decoder) -> Duration {
        decoder
            .retry()
            .map_or(self.options.default_retry, Duration::from_millis)
            .min(self.options.max_retry)
    }

    /// Fails request `id` with a transport error, typed.
    async fn fail_with(&self, id: Option<&RequestId>, error: mcp_core::Error) {
        let Some(id) = id else {
            tracing::warn!(%error, "HTTP transport error");
            return;
        };
        let failed = mcp_core::Error::RequestFailed {
            id: id.clone(),
            reason: Box::new(error),
        };
        let _ = self.inbox.send(Err(failed)).await;
    }

    /// Fails request `id` locally with a transport error saying `why`
    /// (the server could not be reached, a stream broke), so its caller
    /// does not wait for nothing.
    async fn fail(&self, id: Option<&RequestId>, why: &str) {
        let error = mcp_core::Error::Io {
            kind: std::io::ErrorKind::Other,
            message: why.to_owned(),
        };
        self.fail_with(id, error).await;
    }

    /// Fails request `id` with an HTTP error `status`, its challenges and
    /// its body (read within the message size limit).
    async fn refused(
        &self,
        id: Option<&RequestId>,
        status: StatusCode,
        www_authenticate: Vec<String>,
        body: &[u8],
    ) {
        let error = mcp_core::Error::HttpStatus {
            status: status.as_u16(),
            www_authenticate,
            body: String::from_utf8_lossy(body).trim().to_owned(),
        };
        self.fail_with(id, error).await;
    }
}

/// The body of `response`, read while it stays within `max` bytes.
///
/// # Errors
/// [`mcp_core::Error::FrameTooLarge`] past `max` (what was read is
/// dropped); [`mcp_core::Error::Io`] when reading fails.
async fn read_body(mut response: Response, max: usize) -> Result<Bytes, mcp_core::Error> {
    let too_large = |len: u64| mcp_core::Error::FrameTooLarge {
        max,
        len: usize::try_from(len).unwrap_or(usize::MAX),
    };
    if let Some(len) = response.content_length()
        && len > u64::try_from(max).unwrap_or(u64::MAX)
    {
        return Err(too_large(len));
    }
    let mut body = bytes::BytesMut::new();
    loop {
        let chunk = response.chunk().await.map_err(|e| mcp_core::Error::Io {
            kind: e.kind(),
            message: format!("reading the response failed: {e}"),
        })?;
        let Some(chunk) = chunk else {
            return Ok(body.freeze());
        };
        if body.len() + chunk.len() > max {
            return Err(too_large((body.len() + chunk.len()) as u64));
        }
        body.extend_from_slice(&chunk);
    }
}

/// Up to 4 KiB of an error response's body, as text for a message.
async fn error_text(response: Response) -> String {
    const SHOWN: usize = 4096;
    let mut response = response;
    let mut text = Vec::new();
    while text.len() < SHOWN {
        match response.chunk().await {
            Ok(Some(chunk)) => text.extend_from_slice(&chunk),
            _ => break,
        }
    }
    text.truncate(SHOWN);
    String::from_utf8_lossy(&text).trim().to_owned()
}

/// The content headers of a JSON-RPC POST.
fn json_post_headers(headers: &mut HeaderMap) {
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        http::header::ACCEPT,
        HeaderValue::from_static("application/json, text/event-stream"),
    );
}

/// Adds a header whose value the message supplied; one that is not a
/// valid header value is left out (the mirrored forms are encoded so that
/// they always are).
fn insert(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_are_mcp_cores() {
        for (name, spelled) in [
            (SESSION_ID, headers::SESSION_ID),
            (PROTOCOL_VERSION, headers::PROTOCOL_VERSION),
            (METHOD, headers::METHOD),
            (NAME, headers::NAME),
        ] {
            assert_eq!(name, HeaderName::try_from(spelled).unwrap());
        }
    }
}
