//! Serving on a TCP listener with hyper, hardened for peers that misbehave:
//! a cap on open connections, timeouts for slow and idle ones, and an
//! accept loop that outlives running out of file descriptors.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::health::Health;
use super::service::StreamableHttp;
use crate::handler::Handler;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How [`serve_with`] and [`serve_service`] treat connections.
///
/// Every limit has a default fit for a server facing the internet; each
/// is documented with the threat it answers in `docs/security.md`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeOptions {
    /// Most connections open at once. Beyond it the server stops
    /// accepting, and new connections wait in the kernel's backlog until
    /// one closes, so the process never runs out of file descriptors.
    /// Default: three quarters of the process's open-file limit (on Unix;
    /// 1,024 elsewhere), at least 16.
    pub max_connections: usize,
    /// Once the first byte of an HTTP/1 request arrives, its headers must
    /// be complete within this time, or the connection is closed
    /// (slowloris). Default: 10 s.
    pub header_timeout: Duration,
    /// A connection with no request in flight is closed after this long.
    /// A streaming response (an SSE stream) is a request in flight.
    /// Default: 60 s.
    pub idle_timeout: Duration,
    /// On shutdown, how long to wait for connections to finish their
    /// requests before they are dropped. Default: 30 s.
    pub drain_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            max_connections: default_max_connections(),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Three quarters of the soft open-file limit: the rest stays for what
/// the server itself opens (files, upstream connections, a database).
fn default_max_connections() -> usize {
    #[cfg(unix)]
    {
        use nix::sys::resource::{Resource, getrlimit};
        if let Ok((soft, _)) = getrlimit(Resource::RLIMIT_NOFILE) {
            let quarter = soft / 4;
            return usize::try_from(soft - quarter)
                .unwrap_or(usize::MAX)
                .clamp(16, 1 << 20);
        }
    }
    1024
}

/// Serves `endpoint` at `path` on `listener` (HTTP/1.1 and HTTP/2) with
/// the default [`ServeOptions`], until `shutdown` completes; then stops
/// accepting, shuts the endpoint down ([`StreamableHttp::shutdown`]) and
/// returns once the requests in flight are answered (or the drain timeout
/// passed). [`LIVENESS_PATH`] and [`READINESS_PATH`] answer with the
/// endpoint's [`health`](StreamableHttp::health); other paths get 404.
/// Each request carries the client's `SocketAddr` in its extensions.
///
/// # Errors
/// None today: accepting connections is retried whatever fails (file
/// descriptors run out, say), so that no client can stop the server.
/// The `Result` stays for errors a future version may report.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    path: &str,
    endpoint: StreamableHttp<H>,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    serve_with(listener, path, endpoint, ServeOptions::default(), shutdown).await
}

/// [`serve`] with `options`.
///
/// # Errors
/// As [`serve`].
pub async fn serve_with<H: Handler>(
    listener: TcpListener,
    path: &str,
    endpoint: StreamableHttp<H>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let service = AtPath {
        path: Arc::from(path),
        endpoint: endpoint.clone(),
        health: endpoint.health(),
    };
    let shutdown = async move {
        shutdown.await;
        // Streams waiting for server messages end, requests in flight
        // get their grace period.
        endpoint.shutdown();
    };
    serve_service(listener, service, options, shutdown).await
}

/// Serves any tower service over `http` requests (an axum `Router` with
/// the endpoint mounted in it, say) on `listener`, hardened as [`serve`]
/// is, until `shutdown` completes. Each request carries the client's
/// `SocketAddr` in its extensions.
///
/// Pass `endpoint.shutdown_on(signal)` ([`StreamableHttp::shutdown_on`])
/// as `shutdown`, so that open SSE streams end and the drain does not wait
/// for them.
///
/// # Errors
/// As [`serve`].
pub async fn serve_service<S, B>(
    listener: TcpListener,
    service: S,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()>
where
    S: tower_service::Service<http::Request<Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let options = Arc::new(options);
    let slots = Arc::new(Semaphore::new(
        options.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut backoff = Backoff::default();
    tokio::pin!(shutdown);
    loop {
        // Finished connections are reaped as we go.
        while connections.try_join_next().is_some() {}
        // Backpressure: no free slot, no accept.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff.reset();
                accepted
            }
            // The client gave up before we got to it: nothing to wait for.
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors or memory: wait for some to free
                // up, instead of spinning or giving up.
                let wait = backoff.next();
                tracing::warn!(error = %e, ?wait, "accepting a connection failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(wait) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        // Small request/response exchanges: do not wait to coalesce.
        let _ = stream.set_nodelay(true);
        let conn = connection(
            stream,
            peer,
            service.clone(),
            Arc::clone(&options),
            stopping.clone(),
        );
        connections.spawn(async move {
            conn.await;
            drop(slot);
        });
    }
    drop(listener);
    stop.send_replace(true);
    let drained = tokio::time::timeout(options.drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "connections still busy after the drain timeout; closing them"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Errors about one connection that went away before it was accepted.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}

/// Doubling waits from 5 ms to 1 s.
#[derive(Debug, Default)]
struct Backoff(u32);

impl Backoff {
    fn next(&mut self) -> Duration {
        let wait = Duration::from_millis(5u64 << self.0.min(8)).min(Duration::from_secs(1));
        self.0 = self.0.saturating_add(1);
        wait
    }

    fn reset(&mut self) {
        self.0 = 0;
    }
}

/// Serves one connection until it ends, times out, or shutdown drains it.
async fn connection<S, B>(
    stream: TcpStream,
    peer: SocketAddr,
    service: S,
    options: Arc<ServeOptions>,
    mut stopping: watch::Receiver<bool>,
) where
    S: tower_service::Service<http::Request<Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let activity = Arc::new(Activity::new());
    let io = Watched {
        inner: stream,
        activity: Arc::clone(&activity),
    };
    let tracked = Arc::clone(&activity);
    // Each request carries who connected (quotas, security logs) and is
    // counted in flight until its response body is sent or dropped.
    let service = service_fn(move |mut req: http::Request<Incoming>| {
        tracked.request_started();
        let guard = InFlight(Arc::clone(&tracked));
        req.extensions_mut().insert(peer);
        let mut inner = service.clone();
        async move {
            std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
            let res = inner.call(req).await?;
            Ok::<_, S::Error>(res.map(|body| TrackedBody {
                inner: body,
                _guard: guard,
            }))
        }
    });
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(64 * 1024)
        // Finds peers that vanished without closing: their streams end.
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20));
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let expired = activity.expired(&options);
    tokio::pin!(expired);
    let stop = async move {
        // The sender gone means shutdown too.
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    tokio::pin!(stop);
    // The connection is polled on every wake-up; the watchdog and the
    // shutdown signal only when their own timer or signal woke the task
    // (polling them on every request re-registered both each time).
    let side = Arc::new(crate::wake::SideWake::default());
    let side_waker = std::task::Waker::from(Arc::clone(&side));
    let mut draining = false;
    std::future::poll_fn(|cx| {
        side.task.register(cx.waker());
        loop {
            if let Poll::Ready(ended) = conn.as_mut().poll(cx) {
                if let Err(e) = ended {
                    tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
                }
                return Poll::Ready(());
            }
            if !side.woken.swap(false, Ordering::AcqRel) {
                return Poll::Pending;
            }
            let mut side_cx = Context::from_waker(&side_waker);
            if let Poll::Ready(why) = expired.as_mut().poll(&mut side_cx) {
                tracing::debug!(%peer, why, "closing connection");
                return Poll::Ready(());
            }
            if draining || stop.as_mut().poll(&mut side_cx).is_pending() {
                return Poll::Pending;
            }
            draining = true;
            conn.as_mut().graceful_shutdown();
            // Polled again: the shutdown has to be driven.
        }
    })
    .await;
}

/// What a connection is doing, for its timeouts. Times are milliseconds
/// since the connection opened.
///
/// Requests only touch atomics: the watchdog is never woken per request,
/// it wakes at the deadline it last computed (or after `header_timeout`,
/// whichever is first) and looks again. A deadline can only move earlier
/// when the first bytes of a request arrive on an idle connection, so a
/// stalled peer is closed within twice the header timeout at worst.
struct Activity {
    opened: Instant,
    /// Requests whose response has not been fully sent.
    in_flight: AtomicUsize,
    /// When the connection last became idle.
    idle_since: AtomicU64,
    /// When bytes of a new HTTP/1 request first arrived while idle; 0
    /// while none is being read. A new connection counts as reading one
    /// from the start: a peer that connects and sends nothing gets the
    /// header timeout, not the idle one.
    head_since: AtomicU64,
    /// Whether the peer speaks HTTP/2 (no header timeout: its frames are
    /// not requests).
    http2: AtomicBool,
    /// Whether any byte has been read yet.
    started: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(1),
            http2: AtomicBool::new(false),
            started: AtomicBool::new(false),
        }
    }

    /// Now, in milliseconds since the connection opened; never 0, which
    /// means "unset".
    fn now(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.opened + Duration::from_millis(ms)
    }

    /// Bytes arrived.
    fn read(&self, bytes: &[u8]) {
        if !self.started.swap(true, Ordering::Relaxed) && bytes.starts_with(b"PRI * HTTP/2") {
            // HTTP/2 frames are not request heads: only the idle rule.
            self.http2.store(true, Ordering::Relaxed);
            self.head_since.store(0, Ordering::Relaxed);
            return;
        }
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.head_since.load(Ordering::Relaxed) == 0
            && !self.http2.load(Ordering::Relaxed)
        {
            self.head_since.store(self.now(), Ordering::Relaxed);
        }
    }

    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(0, Ordering::Relaxed);
    }

    fn request_finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle_since.store(self.now(), Ordering::Relaxed);
        }
    }

    /// When the connection expires as things stand, and why; `None` while
    /// a request is in flight.
    fn deadline(&self, options: &ServeOptions) -> Option<(Instant, &'static str)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(match self.head_since.load(Ordering::Relaxed) {
            0 => (
                self.at(self.idle_since.load(Ordering::Relaxed)) + options.idle_timeout,
                "idle timeout",
            ),
            head => (self.at(head) + options.header_timeout, "header timeout"),
        })
    }

    /// Completes when the connection has been idle, or reading one
    /// request's headers, for too long; says which.
    async fn expired(&self, options: &ServeOptions) -> &'static str {
        loop {
            let now = Instant::now();
            let look_again = now + options.header_timeout;
            let wake = match self.deadline(options) {
                Some((deadline, why)) if deadline <= now => return why,
                Some((deadline, _)) => deadline.min(look_again),
                None => look_again,
            };
            tokio::time::sleep_until(wake).await;
        }
    }
}

pin_project! {
    /// The TCP stream, telling [`Activity`] when bytes arrive.
    struct Watched {
        #[pin]
        inner: TcpStream,
        activity: Arc<Activity>,
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let polled = this.inner.poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled
            && let Some(new) = buf.filled().get(before..)
            && !new.is_empty()
        {
            this.activity.read(new);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Counts a request in flight from its call until its response body is
/// sent or dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

pin_project! {
    /// A response body that ends its request's time in flight when done.
    struct TrackedBody<B> {
        #[pin]
        inner: B,
        _guard: InFlight,
    }
}

impl<B: http_body::Body> http_body::Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The liveness path [`serve`] answers beside the endpoint's.
pub const LIVENESS_PATH: &str = "/healthz";
/// The readiness path [`serve`] answers beside the endpoint's.
pub const READINESS_PATH: &str = "/readyz";

/// The endpoint at one path and its health at the probe paths; 404
/// elsewhere.
struct AtPath<H: Handler> {
    path: Arc<str>,
    endpoint: StreamableHttp<H>,
    health: Health,
}

impl<H: Handler> Clone for AtPath<H> {
    fn clone(&self) -> Self {
        Self {
            path: Arc::clone(&self.path),
            endpoint: self.endpoint.clone(),
            health: self.health.clone(),
        }
    }
}

impl<H: Handler> tower_service::Service<http::Request<Incoming>> for AtPath<H> {
    type Response = http::Response<super::Body>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Incoming>) -> Self::Future {
        // The endpoint's own path wins should it be one of the probes'.
        let path = req.uri().path();
        if path != &*self.path && (path == LIVENESS_PATH || path == READINESS_PATH) {
            let mut probe = if path == LIVENESS_PATH {
                self.health.liveness()
            } else {
                self.health.readiness()
            };
            return tower_service::Service::call(&mut probe, req);
        }
        if req.uri().path() != &*self.path {
            let mut res = http::Response::new(super::Body::full("not found"));
            *res.status_mut() = http::StatusCode::NOT_FOUND;
            return Box::pin(std::future::ready(Ok(res)));
        }
        tower_service::Service::call(&mut self.endpoint, req)
    }
}
