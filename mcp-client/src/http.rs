//! The Streamable HTTP transport, client side, for servers of either era:
//! 2026-07-28 requests with their mirrored headers, legacy sessions
//! (`Mcp-Session-Id`, the GET stream), SSE responses with reconnection
//! (`Last-Event-ID`, `retry`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use mcp_core::headers::{self, Mirrored, ParamHeader};
use mcp_core::jsonrpc::response_id;
use mcp_core::tools::ListToolsResult;
use mcp_core::transport::{FrameRead, FrameWrite};
use mcp_core::{ErrorObject, ErrorResponse, Message, RequestId, sse};
use tokio::sync::mpsc;

use crate::client::{Client, ClientOptions};
use crate::error::Error;
use crate::handler::ClientHandler;

/// Settings of the HTTP transport.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpOptions {
    /// Headers sent with every request (an API key, say).
    pub headers: HeaderMap,
    /// How many times a broken SSE stream is resumed before giving up.
    pub reconnect_attempts: u32,
    /// Wait before resuming when the server sent no `retry`.
    pub default_retry: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            headers: HeaderMap::new(),
            reconnect_attempts: 5,
            default_retry: Duration::from_secs(1),
        }
    }
}

impl HttpOptions {
    /// Adds a header to every request.
    ///
    /// # Errors
    /// When the name or value is not a valid header.
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, Error> {
        let name = HeaderName::try_from(name)
            .map_err(|e| Error::Incompatible(format!("header name: {e}")))?;
        let value = HeaderValue::try_from(value)
            .map_err(|e| Error::Incompatible(format!("header value: {e}")))?;
        self.headers.insert(name, value);
        Ok(self)
    }
}

struct Shared {
    http: reqwest::Client,
    url: reqwest::Url,
    options: HttpOptions,
    session: Mutex<Option<String>>,
    /// The legacy version `initialize` settled on, for the version header.
    legacy_version: Mutex<Option<String>>,
    inbox: mpsc::Sender<Result<Bytes, mcp_core::Error>>,
    /// `Mcp-Param-*` headers of the tools last listed.
    tool_headers: Mutex<HashMap<String, Vec<ParamHeader>>>,
    /// Ids of `tools/list` requests in flight, whose results get checked.
    listing: Mutex<HashSet<RequestId>>,
    /// Ids of `initialize` requests in flight.
    initializing: Mutex<HashSet<RequestId>>,
    get_stream: AtomicBool,
    /// The POSTs of 2026-07-28 requests in flight, to cancel by closing.
    streams: Mutex<HashMap<RequestId, tokio::task::AbortHandle>>,
}

/// The receiving half: frames from response bodies and the GET stream.
#[derive(Debug)]
pub struct HttpReader {
    inbox: mpsc::Receiver<Result<Bytes, mcp_core::Error>>,
}

/// The sending half: one POST per frame.
pub struct HttpWriter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HttpWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpWriter")
            .field("url", &self.shared.url.as_str())
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
    let http = reqwest::Client::builder().build().map_err(|e| {
        Error::Transport(mcp_core::Error::Io {
            kind: std::io::ErrorKind::Other,
            message: e.to_string(),
        })
    })?;
    let (inbox, rx) = mpsc::channel(256);
    let shared = Arc::new(Shared {
        http,
        url,
        options,
        session: Mutex::default(),
        legacy_version: Mutex::default(),
        inbox,
        tool_headers: Mutex::default(),
        listing: Mutex::default(),
        initializing: Mutex::default(),
        get_stream: AtomicBool::new(false),
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

impl FrameRead for HttpReader {
    async fn read_frame(&mut self) -> Option<Result<Bytes, mcp_core::Error>> {
        self.inbox.recv().await
    }
}

impl FrameWrite for HttpWriter {
    async fn write_frame(&mut self, frame: Bytes) -> Result<(), mcp_core::Error> {
        let message = Message::from_slice(&frame).ok();
        let shared = Arc::clone(&self.shared);
        if let Some(Message::Request(req)) = &message {
            // Each request runs on its own: a long SSE answer must not
            // hold up the requests after it.
            let id = req.id.clone();
            let mirrored = Mirrored::of(req.params.as_deref());
            // A 2026-07-28 request's response stream is its lifetime.
            let stateless = mirrored.protocol_version().is_some();
            let done = stateless.then(|| id.clone());
            // Held across the spawn, so the task cannot remove its entry
            // before it is there.
            let mut streams = Shared::lock(&self.shared.streams);
            let task = tokio::spawn(async move {
                shared.clone().post(frame, message, mirrored).await;
                if let Some(id) = done {
                    Shared::lock(&shared.streams).remove(&id);
                }
            });
            if stateless {
                streams.insert(id, task.abort_handle());
            }
        } else if let Some(id) = cancelled_request(message.as_ref())
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
            shared.post(frame, message, Mirrored::default()).await;
        }
        Ok(())
    }

    async fn close(&mut self) -> Result<(), mcp_core::Error> {
        let session = self
            .shared
            .session
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(session) = session {
            let _ = self
                .shared
                .http
                .delete(self.shared.url.clone())
                .headers(self.shared.options.headers.clone())
                .header(headers::SESSION_ID, session)
                .send()
                .await;
        }
        Ok(())
    }
}

/// The request a `notifications/cancelled` frame cancels.
fn cancelled_request(message: Option<&Message>) -> Option<RequestId> {
    #[derive(serde::Deserialize)]
    struct Params {
        #[serde(rename = "requestId")]
        request_id: RequestId,
    }
    let Some(Message::Notification(n)) = message else {
        return None;
    };
    if n.method != "notifications/cancelled" {
        return None;
    }
    let params: Params = serde_json::from_str(n.params.as_deref()?.get()).ok()?;
    Some(params.request_id)
}

impl Shared {
    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn base(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let mut builder = builder.headers(self.options.headers.clone());
        if let Some(session) = Self::lock(&self.session).as_ref() {
            builder = builder.header(headers::SESSION_ID, session.as_str());
        }
        builder
    }

    /// Sends one message; `peek` holds the mirrored parts of a request's
    /// params (empty for other messages).
    async fn post(self: Arc<Self>, frame: Bytes, message: Option<Message>, peek: Mirrored) {
        let mut builder = self
            .base(self.http.post(self.url.clone()))
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json, text/event-stream");
        let mut request_id = None;
        let mut version = Self::lock(&self.legacy_version).clone();
        if let Some(message) = &message {
            if let Some(method) = message.method() {
                builder = builder.header(headers::METHOD, headers::encode_value(method).as_ref());
            }
            if let Message::Request(req) = message {
                request_id = Some(req.id.clone());
                if let Some(v) = peek.protocol_version() {
                    version = Some(v.as_str().to_owned());
                }
                if let Some(name) = peek.name_for(&req.method) {
                    builder = builder.header(headers::NAME, headers::encode_value(name).as_ref());
                }
                if req.method == "tools/call"
                    && let (Some(tool), Some(arguments)) = (&peek.name, &peek.arguments)
                {
                    for param in Self::lock(&self.tool_headers)
                        .get(tool)
                        .into_iter()
                        .flatten()
                    {
                        if let Ok(Some(value)) = param.value_in(arguments) {
                            builder = builder.header(param.header(), value);
                        }
                    }
                }
                match req.method.as_str() {
                    "tools/list" => {
                        Self::lock(&self.listing).insert(req.id.clone());
                    }
                    "initialize" => {
                        Self::lock(&self.initializing).insert(req.id.clone());
                    }
                    _ => {}
                }
            }
        }
        if let Some(version) = &version {
            builder = builder.header(headers::PROTOCOL_VERSION, version.as_str());
        }
        let initialized =
            message.as_ref().and_then(Message::method) == Some("notifications/initialized");
        let response = match builder.body(frame).send().await {
            Ok(response) => response,
            Err(e) => {
                self.fail(request_id.as_ref(), &format!("HTTP request failed: {e}"))
                    .await;
                return;
            }
        };
        if let Some(session) = response
            .headers()
            .get(headers::SESSION_ID)
            .and_then(|v| v.to_str().ok())
        {
            *Self::lock(&self.session) = Some(session.to_owned());
        }
        let status = response.status();
        if status == StatusCode::NOT_FOUND && Self::lock(&self.session).is_some() {
            // The session is gone (expired or ended by the server).
            *Self::lock(&self.session) = None;
        }
        self.handle_response(response, request_id.as_ref()).await;
        if initialized && status.is_success() {
            self.clone().open_get_stream().await;
        }
    }

    /// Reads a response: JSON, an SSE stream, or an error status.
    async fn handle_response(
        self: &Arc<Self>,
        response: reqwest::Response,
        request: Option<&RequestId>,
    ) {
        let status = response.status();
        if status == StatusCode::ACCEPTED {
            return;
        }
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("text/event-stream") {
            self.read_events(response, request).await;
            return;
        }
        let body = response.bytes().await.unwrap_or_default();
        let is_json = content_type.starts_with("application/json") && !body.is_empty();
        let message = if is_json {
            Message::from_slice(&body).ok()
        } else {
            None
        };
        match (message, request) {
            (Some(Message::Error(mut error)), Some(id)) if error.id.is_none() => {
                // A server that could not (or would not) echo the id still
                // answered this request: the body of its POST is about it.
                error.id = Some(id.clone());
                if let Ok(frame) = Message::from(error).to_vec() {
                    self.deliver(Bytes::from(frame)).await;
                }
            }
            (Some(_), _) => {
                self.deliver(body).await;
            }
            _ if is_json && body.first() == Some(&b'[') => {
                self.deliver(body).await;
            }
            _ if !status.is_success() => {
                let text = String::from_utf8_lossy(&body);
                self.fail(request, &format!("HTTP {status}: {}", text.trim()))
                    .await;
            }
            _ => {}
        }
    }

    /// Reads an SSE response, resuming it with GET and `Last-Event-ID`
    /// when it ends before the answer to `request` came.
    async fn read_events(
        self: &Arc<Self>,
        mut response: reqwest::Response,
        request: Option<&RequestId>,
    ) {
        let mut decoder = sse::Decoder::new();
        let mut answered = request.is_none();
        let mut attempts = 0;
        loop {
            loop {
                let Ok(Some(chunk)) = response.chunk().await else {
                    break;
                };
                for event in decoder.feed(&chunk) {
                    let Ok(event) = event else { continue };
                    if event.data.is_empty() {
                        continue;
                    }
                    let answers = self.deliver(Bytes::from(event.data)).await;
                    answered |= request.is_some() && answers.as_ref() == request;
                }
            }
            decoder.finish();
            if answered
                || decoder.last_event_id().is_none()
                || attempts >= self.options.reconnect_attempts
            {
                break;
            }
            attempts += 1;
            let wait = decoder
                .retry()
                .map_or(self.options.default_retry, Duration::from_millis);
            tokio::time::sleep(wait).await;
            response = match self.get_stream(decoder.last_event_id()).await {
                Some(r) => r,
                None => break,
            };
        }
        if !answered && let Some(id) = request {
            self.fail(Some(id), "the response stream ended before the answer")
                .await;
        }
    }

    /// A GET for the legacy stream, resuming after `last_event_id`; `None`
    /// when the server offers no stream (405) or cannot be reached.
    async fn get_stream(&self, last_event_id: Option<&str>) -> Option<reqwest::Response> {
        let mut get = self
            .base(self.http.get(self.url.clone()))
            .header(http::header::ACCEPT, "text/event-stream");
        if let Some(version) = Self::lock(&self.legacy_version).as_ref() {
            get = get.header(headers::PROTOCOL_VERSION, version.as_str());
        }
        if let Some(last) = last_event_id {
            get = get.header("Last-Event-ID", last);
        }
        get.send().await.ok().filter(|r| r.status().is_success())
    }

    /// Opens the legacy GET stream of server-initiated messages and keeps
    /// it open, resuming it when it breaks. Returns once the server
    /// accepted (or refused) it, so nothing it sends early is missed.
    async fn open_get_stream(self: Arc<Self>) {
        if self.get_stream.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(first) = self.get_stream(None).await else {
            return;
        };
        tokio::spawn(async move {
            let mut attempts = 0;
            let mut last_event_id: Option<String> = None;
            let mut next = Some(first);
            while attempts <= self.options.reconnect_attempts && !self.inbox.is_closed() {
                let response = match next.take() {
                    Some(response) => Some(response),
                    None => self.get_stream(last_event_id.as_deref()).await,
                };
                let Some(mut response) = response else {
                    break;
                };
                let mut decoder = sse::Decoder::new();
                while let Ok(Some(chunk)) = response.chunk().await {
                    attempts = 0;
                    for event in decoder.feed(&chunk).into_iter().flatten() {
                        if !event.data.is_empty() {
                            self.deliver(Bytes::from(event.data)).await;
                        }
                    }
                }
                last_event_id = decoder.last_event_id().map(str::to_owned).or(last_event_id);
                attempts += 1;
                tokio::time::sleep(
                    decoder
                        .retry()
                        .map_or(self.options.default_retry, Duration::from_millis),
                )
                .await;
            }
        });
    }

    /// Hands a frame to the client, after the checks only the transport
    /// can make: tools whose `x-mcp-header` annotations are invalid are
    /// left out of `tools/list`; `initialize` settles the version header.
    /// Returns the id the frame answers, if it is a response.
    async fn deliver(&self, frame: Bytes) -> Option<RequestId> {
        let id = response_id(&frame);
        let frame = match &id {
            Some(id) if Self::lock(&self.listing).remove(id) => self.check_tools(frame),
            Some(id) if Self::lock(&self.initializing).remove(id) => {
                #[derive(serde::Deserialize)]
                struct Init {
                    result: Option<InitResult>,
                }
                #[derive(serde::Deserialize)]
                struct InitResult {
                    #[serde(rename = "protocolVersion")]
                    protocol_version: String,
                }
                if let Ok(Init { result: Some(r) }) = serde_json::from_slice::<Init>(&frame) {
                    *Self::lock(&self.legacy_version) = Some(r.protocol_version);
                }
                frame
            }
            _ => frame,
        };
        let _ = self.inbox.send(Ok(frame)).await;
        id
    }

    fn check_tools(&self, frame: Bytes) -> Bytes {
        let Ok(Message::Response(response)) = Message::from_slice(&frame) else {
            return frame;
        };
        let Ok(mut list) = response.result::<ListToolsResult>() else {
            return frame;
        };
        let mut cache = Self::lock(&self.tool_headers);
        list.tools
            .retain(|tool| match ParamHeader::from_schema(&tool.input_schema) {
                Ok(params) => {
                    cache.insert(tool.name.clone(), params);
                    true
                }
                Err(why) => {
                    tracing::warn!(tool = %tool.name, %why, "tool left out: invalid x-mcp-header");
                    false
                }
            });
        drop(cache);
        match mcp_core::Response::typed(response.id, &list) {
            Ok(rebuilt) => Message::from(rebuilt)
                .to_vec()
                .map(Bytes::from)
                .unwrap_or(frame),
            Err(_) => frame,
        }
    }

    /// Fails request `id` locally, so its caller does not wait for nothing.
    async fn fail(&self, id: Option<&RequestId>, why: &str) {
        let Some(id) = id else {
            tracing::warn!(why, "HTTP transport error");
            return;
        };
        let error = ErrorResponse::new(
            Some(id.clone()),
            ErrorObject::internal_error(why.to_owned()),
        );
        if let Ok(frame) = Message::from(error).to_vec() {
            let _ = self.inbox.send(Ok(Bytes::from(frame))).await;
        }
    }
}
