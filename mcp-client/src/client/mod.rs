//! The client handle: connecting, the era probe, requests and
//! notifications. What the server sends is handled in `reader`; what a
//! connection holds, in `inner`.

mod inner;
mod reader;
#[cfg(feature = "stdio")]
mod spawn;
mod telemetry;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use mcp_core::jsonrpc::OutgoingRequest;
use mcp_core::meta::HasMeta;
use mcp_core::method::{self, Method, Notification as NotificationMethod};
use mcp_core::notifications::ProgressParams;
use mcp_core::transport::{MessageRead, MessageWrite, Outgoing};
use mcp_core::{
    Era, Implementation, ProgressToken, ProtocolVersion, RequestId, ServerCapabilities,
};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::error::Error;
use crate::handler::{ClientHandler, DynHandler, NoHandler};
pub(crate) use inner::Inner;
use inner::{Failure, InFlight};

/// How long closing the transport may take (an HTTP session's DELETE).
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Called with each progress notification of a request.
pub type ProgressFn = Arc<dyn Fn(ProgressParams) + Send + Sync>;

/// What the client learned about the server when it connected.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerInfo {
    /// The server's era.
    pub era: Era,
    /// The protocol version in use.
    pub protocol_version: ProtocolVersion,
    /// The server's capabilities.
    pub capabilities: ServerCapabilities,
    /// The server's name and version, when it said.
    pub implementation: Option<Implementation>,
    /// How to use the server, for the model.
    pub instructions: Option<String>,
    /// Every version the server supports (modern servers list them).
    pub supported_versions: Vec<ProtocolVersion>,
}

/// How the client connects.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The client's name and version.
    pub info: Implementation,
    /// Protocol versions the client speaks, newest first.
    pub supported_versions: Vec<ProtocolVersion>,
    /// Default time limit of a request.
    pub request_timeout: Duration,
    /// How long the `server/discover` probe may take before the client
    /// assumes a legacy server.
    pub probe_timeout: Duration,
    /// How many input-required rounds one call may take.
    pub max_input_rounds: usize,
    /// How many of a legacy server's requests (elicitation, sampling,
    /// roots) are answered at once; more are refused at once with an
    /// error, so a server cannot make the client hold unbounded work.
    pub max_server_requests: usize,
}

impl ClientOptions {
    /// Options for a client called `info`.
    pub fn new(info: Implementation) -> Self {
        Self {
            info,
            supported_versions: ProtocolVersion::DEFAULT_SUPPORTED.to_vec(),
            request_timeout: Duration::from_secs(60),
            probe_timeout: Duration::from_secs(10),
            max_input_rounds: 8,
            max_server_requests: 16,
        }
    }
}

/// A connection to an MCP server. Cheap to clone; all clones share the
/// connection.
///
/// Every call works against servers of either era: the client probes with
/// `server/discover` when it connects, falls back to `initialize`, and
/// from then on shapes each request for the era it found.
///
/// # Cancel safety
///
/// Dropping a call's future before it completes cancels the request: the
/// server gets `notifications/cancelled` with its id.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.inner.server.get())
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The writer finishes on its own: the transport's goodbye (an HTTP
        // session's DELETE) is bounded by CLOSE_WAIT.
        self.stop_writer.notify_one();
        #[cfg(feature = "otel")]
        {
            // A session is what `initialize` opened, or a pipe to a server;
            // a 2026-07-28 HTTP client holds none.
            let version = self.server.get().map(|s| &s.protocol_version);
            let legacy = version.is_some_and(|v| v.era() == Some(mcp_core::Era::Legacy));
            if legacy || self.server_address.is_none() {
                telemetry::metrics::session(
                    version,
                    self.server_address.as_ref(),
                    self.started.elapsed(),
                );
            }
        }
        for task in self
            .tasks
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
    }
}

/// How a request is shaped.
#[derive(Debug, Clone)]
pub(crate) enum Mode {
    Modern(ProtocolVersion),
    Legacy,
}

/// Per-call settings.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct CallOptions {
    /// Overrides [`ClientOptions::request_timeout`]; `Duration::MAX` for none.
    pub timeout: Option<Duration>,
    /// Receives the request's progress notifications.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallOptions")
            .field("timeout", &self.timeout)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl CallOptions {
    /// With a time limit.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// With a progress callback.
    #[must_use]
    pub fn on_progress(mut self, f: impl Fn(ProgressParams) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }
}

impl Client {
    /// Connects over a transport, with a host handler, and finds out which
    /// era the server speaks.
    ///
    /// # Errors
    /// [`Error::Incompatible`] when there is no common version;
    /// [`Error::Closed`], [`Error::Timeout`] or [`Error::Remote`] when the
    /// handshake fails.
    pub async fn connect<R: MessageRead, W: MessageWrite>(
        reader: R,
        writer: W,
        options: ClientOptions,
        handler: impl ClientHandler,
    ) -> Result<Self, Error> {
        let client = Self::connect_inner(reader, writer, options, handler);
        client.probe().await?;
        Ok(client)
    }

    pub(crate) fn connect_inner<R: MessageRead, W: MessageWrite>(
        reader: R,
        writer: W,
        options: ClientOptions,
        handler: impl ClientHandler,
    ) -> Self {
        Self::start(reader, writer, options, Arc::new(handler))
    }

    /// Connects with a handler that offers the server nothing.
    ///
    /// # Errors
    /// As [`Client::connect`].
    pub async fn connect_simple<R: MessageRead, W: MessageWrite>(
        reader: R,
        writer: W,
        info: Implementation,
    ) -> Result<Self, Error> {
        Self::connect(reader, writer, ClientOptions::new(info), NoHandler).await
    }

    fn start<R: MessageRead, W: MessageWrite>(
        mut reader: R,
        mut writer: W,
        options: ClientOptions,
        handler: Arc<dyn DynHandler>,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<Outgoing>(256);
        let stop = Arc::new(tokio::sync::Notify::new());
        #[cfg(feature = "http")]
        let direct = (&writer as &dyn std::any::Any)
            .downcast_ref::<crate::http::HttpWriter>()
            .map(crate::http::HttpWriter::direct);
        #[cfg(feature = "otel")]
        telemetry::metrics::init();
        let inner = Arc::new(Inner {
            outbox: tx,
            pending: Mutex::default(),
            progress: Mutex::default(),
            next_id: AtomicI64::new(0),
            capabilities: Arc::new(handler.capabilities()),
            info: Arc::new(options.info.clone()),
            options,
            handler,
            notifications: broadcast::channel(256).0,
            acknowledgements: broadcast::channel(16).0,
            server: OnceLock::new(),
            log_level: Mutex::new(None),
            tasks: Mutex::default(),
            stop_writer: Arc::clone(&stop),
            writer: Mutex::default(),
            closed: AtomicBool::new(false),
            gone: tokio::sync::watch::channel(false).0,
            serving: Mutex::default(),
            #[cfg(feature = "stdio")]
            child: tokio::sync::Mutex::new(None),
            mirrors: writer.mirrors(),
            server_address: writer.server_address(),
            session_label: writer.session_label(),
            tool_headers: Mutex::default(),
            #[cfg(feature = "otel")]
            started: std::time::Instant::now(),
            #[cfg(feature = "http")]
            direct,
        });
        let write = tokio::spawn(async move {
            let mut stopping = false;
            loop {
                let message = if stopping {
                    rx.try_recv().ok()
                } else {
                    tokio::select! {
                        // Messages already queued go first.
                        biased;
                        message = rx.recv() => message,
                        () = stop.notified() => {
                            stopping = true;
                            rx.try_recv().ok()
                        }
                    }
                };
                let Some(message) = message else { break };
                if let Err(e) = writer.write_message(message).await {
                    tracing::warn!(error = %e, "writing to the server failed");
                    break;
                }
            }
            if tokio::time::timeout(CLOSE_WAIT, writer.close())
                .await
                .is_err()
            {
                tracing::debug!("closing the transport timed out");
            }
        });
        // The reader holds only a weak reference: dropping the last client
        // handle ends the connection.
        let weak = Arc::downgrade(&inner);
        let read = tokio::spawn(async move {
            loop {
                let incoming = reader.read_message().await;
                let Some(inner) = weak.upgrade() else { break };
                match incoming {
                    None => break,
                    Some(Err(e)) if e.is_fatal() => {
                        tracing::warn!(error = %e, "reading from the server failed");
                        break;
                    }
                    Some(incoming) => inner.on_incoming(incoming),
                }
            }
            if let Some(inner) = weak.upgrade() {
                inner.fail_all();
            }
        });
        inner
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(read);
        *inner.writer.lock().unwrap_or_else(PoisonError::into_inner) = Some(write);
        Self { inner }
    }

    /// Whether the connection is gone (the server process exited, its
    /// stream ended, or [`close`](Client::close) was called): every request
    /// now fails with [`Error::Closed`].
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Resolves when the connection is gone, as [`is_closed`](Client::is_closed)
    /// turns true: a supervisor waits on it to reconnect.
    pub async fn closed(&self) {
        let mut gone = self.inner.gone.subscribe();
        // `wait_for` looks at the current value first, so a connection
        // already gone resolves at once.
        let _ = gone.wait_for(|gone| *gone).await;
    }

    /// What the client learned about the server.
    ///
    /// # Panics
    /// Never after [`Client::connect`] returned: the information is set
    /// before it does.
    pub fn server(&self) -> &ServerInfo {
        self.inner
            .server
            .get()
            .unwrap_or_else(|| unreachable!("connect sets the server info"))
    }

    /// The negotiated protocol version.
    pub fn protocol_version(&self) -> &ProtocolVersion {
        &self.server().protocol_version
    }

    pub(crate) fn mode(&self) -> Mode {
        let server = self.server();
        match server.era {
            Era::Modern => Mode::Modern(server.protocol_version.clone()),
            _ => Mode::Legacy,
        }
    }

    /// Sends request `M` with `params` and waits for its result.
    ///
    /// This is the raw call every typed method uses; `_meta` is filled in
    /// for the server's era.
    ///
    /// # Errors
    /// [`Error::Remote`] for the server's errors, [`Error::Timeout`],
    /// [`Error::Closed`], [`Error::InvalidResult`].
    pub async fn request<M: Method>(
        &self,
        params: M::Params,
        options: CallOptions,
    ) -> Result<M::Result, Error> {
        self.request_in::<M>(params, options, self.mode()).await
    }

    pub(crate) async fn request_in<M: Method>(
        &self,
        mut params: M::Params,
        options: CallOptions,
        mode: Mode,
    ) -> Result<M::Result, Error> {
        let id = self.inner.next_request_id();
        self.send_request::<M>(id, &mut params, options, mode).await
    }

    pub(crate) async fn request_with_id<M: Method>(
        &self,
        id: RequestId,
        mut params: M::Params,
        options: CallOptions,
        mode: Mode,
    ) -> Result<M::Result, Error> {
        self.send_request::<M>(id, &mut params, options, mode).await
    }

    /// Sends request `M` with `params` (whose `_meta` is filled in for
    /// `mode`; they stay with the caller, so a retry needs no copy) and
    /// waits for its result.
    pub(crate) async fn send_request<M: Method>(
        &self,
        id: RequestId,
        params: &mut M::Params,
        options: CallOptions,
        mode: Mode,
    ) -> Result<M::Result, Error> {
        let version = match &mode {
            Mode::Modern(version) => Some(version.clone()),
            // Before `initialize` settles it, there is none.
            Mode::Legacy => self.inner.server.get().map(|s| s.protocol_version.clone()),
        };
        // Only legacy sessions name theirs (`mcp.session.id`).
        let session = match mode {
            Mode::Legacy => self.inner.session_label.as_ref().and_then(|read| read()),
            Mode::Modern(_) => None,
        };
        let (span, _kept) = telemetry::request(
            M::NAME,
            &id,
            &*params,
            version.as_ref(),
            self.inner.server_address.as_ref(),
            session.as_deref(),
        );
        #[cfg(feature = "otel")]
        let start = std::time::Instant::now();
        #[cfg(feature = "otel")]
        mcp_core::telemetry::inject_context(&span, _kept, params.meta_mut());
        let sent = self.send_in_span::<M>(id, params, options, mode);
        let result = tracing::Instrument::instrument(sent, span.clone()).await;
        let _error_type =
            telemetry::outcome(&span, result.as_ref().map(|r| r as &dyn std::any::Any));
        #[cfg(feature = "otel")]
        telemetry::metrics::operation(
            M::NAME,
            &*params,
            version.as_ref(),
            self.inner.server_address.as_ref(),
            _error_type,
            start.elapsed(),
        );
        result
    }

    async fn send_in_span<M: Method>(
        &self,
        id: RequestId,
        params: &mut M::Params,
        options: CallOptions,
        mode: Mode,
    ) -> Result<M::Result, Error> {
        let inner = &*self.inner;
        let token = options
            .progress
            .as_ref()
            .map(|_| ProgressToken::String(format!("p-{id}")));
        inner.stamp(params.meta_mut(), &mode, token.clone());
        let (tx, rx) = oneshot::channel();
        {
            // Checked under the lock `fail_all` takes, so no request can
            // slip in after the connection closed and wait forever.
            let mut pending = inner.lock_pending();
            if inner.closed.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            pending.insert(id.clone(), tx);
        }
        if let (Some(token), Some(f)) = (&token, options.progress) {
            inner.lock_progress().insert(token.clone(), f);
        }
        // A 2026-07-28 request over Streamable HTTP is posted and read
        // right here: no hop through the writer task, no task of its own.
        #[cfg(feature = "http")]
        let direct = inner
            .direct
            .as_ref()
            .filter(|_| matches!(mode, Mode::Modern(_)));
        #[cfg(not(feature = "http"))]
        let direct: Option<&()> = None;
        let mut guard = InFlight {
            inner,
            id: &id,
            token: token.as_ref(),
            done: false,
            closes: direct.is_some(),
        };
        let bytes = serde_json::to_vec(&OutgoingRequest {
            id: &id,
            method: M::NAME,
            params: &*params,
        })
        .map_err(|e| {
            Error::Transport(mcp_core::Error::Encode {
                message: e.to_string(),
            })
        })?;
        let mut message = Outgoing::request(id.clone(), M::NAME, Bytes::from(bytes));
        if let Some(mirror) = inner.request_mirror(&*params, &mode) {
            message = message.with_mirror(mirror);
        }
        let timeout = options.timeout.unwrap_or(inner.options.request_timeout);
        let waited = match direct {
            #[cfg(feature = "http")]
            Some(direct) => posting(inner, direct.post(message), rx, timeout).await,
            _ => {
                inner
                    .outbox
                    .send(message)
                    .await
                    .map_err(|_| Error::Closed)?;
                tokio::time::timeout(timeout, rx).await
            }
        };
        let reply = match waited {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => {
                guard.done = true;
                return Err(Error::Closed);
            }
            // The guard cancels the request on the way out.
            Err(_) => {
                return Err(Error::Timeout {
                    method: M::NAME.to_owned(),
                });
            }
        };
        guard.done = true;
        let raw = reply.map_err(|failure| match failure {
            Failure::Remote(e) => Error::Remote(e),
            Failure::Cancelled => Error::CancelledByServer {
                method: M::NAME.to_owned(),
            },
            Failure::Malformed(message) => Error::InvalidResult {
                method: M::NAME.to_owned(),
                message,
            },
            Failure::Transport(e) => Error::from(e),
        })?;
        let mut result = M::decode_result(raw.get()).map_err(|e| Error::InvalidResult {
            method: M::NAME.to_owned(),
            message: e.to_string(),
        })?;
        inner.check_tools(&mut result);
        Ok(result)
    }

    /// Sends notification `N`.
    ///
    /// # Errors
    /// [`Error::Closed`] when the connection is gone.
    pub async fn notify<N: NotificationMethod>(&self, params: &N::Params) -> Result<(), Error> {
        let message = Outgoing::encode_notification::<N>(params).map_err(Error::Transport)?;
        if self.inner.send(message).await {
            Ok(())
        } else {
            Err(Error::Closed)
        }
    }

    /// The era probe: `server/discover`, then `initialize` for legacy servers.
    async fn probe(&self) -> Result<(), Error> {
        let ours = self.inner.options.supported_versions.clone();
        let mut modern: Vec<ProtocolVersion> = ours
            .iter()
            .filter(|v| v.era() == Some(Era::Modern))
            .cloned()
            .collect();
        let quick = CallOptions::default().timeout(self.inner.options.probe_timeout);
        // A server may refuse even a version it lists (a stale cache, a
        // rolling deploy): retry from its list, a bounded number of times.
        let mut attempts = 0;
        while let Some(version) = modern.first().cloned() {
            attempts += 1;
            let params = mcp_core::result::RequestParams::default();
            match self
                .request_in::<method::Discover>(
                    params,
                    quick.clone(),
                    Mode::Modern(version.clone()),
                )
                .await
            {
                Ok(discovered) => {
                    // Speak the newest version both sides know.
                    let version = mcp_core::version::negotiate::client_pick(
                        &discovered.supported_versions,
                        &ours,
                    )
                    .filter(|v| v.era() == Some(Era::Modern))
                    .unwrap_or(version);
                    let _ = self.inner.server.set(ServerInfo {
                        era: Era::Modern,
                        protocol_version: version,
                        capabilities: discovered.capabilities,
                        implementation: discovered
                            .meta
                            .and_then(|m| m.server_info)
                            .map(std::sync::Arc::unwrap_or_clone),
                        instructions: discovered.instructions,
                        supported_versions: discovered.supported_versions,
                    });
                    return Ok(());
                }
                Err(Error::Remote(e))
                    if e.code() == mcp_core::ErrorCode::UNSUPPORTED_PROTOCOL_VERSION =>
                {
                    // A modern server that wants another version: retry
                    // with the best one it lists, or fall back to legacy
                    // when it lists no modern version we speak.
                    let theirs = e.supported_versions().unwrap_or_default();
                    modern.retain(|v| theirs.iter().any(|t| t == v.as_str()));
                    if attempts >= 3 {
                        modern.clear();
                    }
                }
                Err(Error::Closed) => return Err(Error::Closed),
                // Anything else (method not found, not initialized, no
                // answer) identifies a legacy server.
                Err(e) => {
                    tracing::debug!(error = %e, "server/discover failed; trying initialize");
                    break;
                }
            }
        }
        self.initialize().await
    }

    async fn initialize(&self) -> Result<(), Error> {
        let ours = &self.inner.options.supported_versions;
        let proposed = ours
            .iter()
            .find(|v| v.era() == Some(Era::Legacy))
            .cloned()
            .ok_or_else(|| {
                Error::Incompatible(
                    "the server speaks no modern version we know, and we speak no legacy one"
                        .into(),
                )
            })?;
        let params = mcp_core::lifecycle::InitializeParams::new(
            proposed,
            mcp_core::ClientCapabilities::clone(&self.inner.capabilities),
            self.inner.options.info.clone(),
        );
        let result = self
            .request_in::<method::Initialize>(params, CallOptions::default(), Mode::Legacy)
            .await?;
        if !mcp_core::version::negotiate::client_accept_initialize(&result.protocol_version, ours) {
            return Err(Error::Incompatible(format!(
                "the server chose protocol version {}, which this client does not speak",
                result.protocol_version
            )));
        }
        let _ = self.inner.server.set(ServerInfo {
            era: Era::Legacy,
            protocol_version: result.protocol_version.clone(),
            capabilities: result.capabilities,
            implementation: Some(result.server_info),
            instructions: result.instructions,
            supported_versions: vec![result.protocol_version],
        });
        self.notify::<method::Initialized>(&Default::default())
            .await
    }

    /// Closes the connection: no more requests; a child process gets EOF,
    /// then SIGTERM, then SIGKILL.
    ///
    /// # Errors
    /// [`Error::Process`] when stopping a child process fails.
    pub async fn close(self) -> Result<(), Error> {
        #[cfg(feature = "stdio")]
        let child = self.inner.child.lock().await.take();
        // The writer sends what is queued, then closes the transport: EOF
        // for a child's stdin, DELETE for an HTTP session.
        let writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(writer) = writer {
            self.inner.stop_writer.notify_one();
            let _ = writer.await;
        }
        for task in self
            .inner
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
        self.inner.fail_all();
        #[cfg(feature = "stdio")]
        if let Some(child) = child {
            return child.close().await.map(drop);
        }
        Ok(())
    }
}

/// Waits up to `timeout` for the reply to a request whose POST (`post`)
/// runs here, on the caller's task. A JSON answer comes back from the
/// POST itself; an answer in an SSE stream comes through the reader, like
/// any other message. A POST still reading when the reply came (an SSE
/// stream's end) finishes on a task of its own, so that its connection
/// goes back to the pool; one given up on (a timeout, the caller dropped)
/// is dropped with its stream, which cancels the request.
#[cfg(feature = "http")]
async fn posting(
    inner: &Inner,
    post: std::pin::Pin<Box<dyn std::future::Future<Output = Option<mcp_core::Message>> + Send>>,
    mut rx: oneshot::Receiver<inner::Reply>,
    timeout: Duration,
) -> Result<Result<inner::Reply, oneshot::error::RecvError>, tokio::time::error::Elapsed> {
    let mut post = post;
    let mut posted = false;
    let waited = tokio::time::timeout(timeout, async {
        loop {
            tokio::select! {
                biased;
                reply = &mut rx => break reply,
                answer = &mut post, if !posted => {
                    posted = true;
                    if let Some(reply) = answer.and_then(|m| inner.claim(m)) {
                        break Ok(reply);
                    }
                }
            }
        }
    })
    .await;
    if !posted && matches!(waited, Ok(Ok(_))) {
        tokio::spawn(post);
    }
    waited
}
