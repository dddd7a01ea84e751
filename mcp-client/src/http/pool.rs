//! The direct path's connections: HTTP/1.1 to the transport's one origin,
//! kept open between requests.
//!
//! hyper-util's pooled client serves any number of origins: it keys its
//! pool by scheme and authority (hashed a byte at a time with SipHash),
//! formats the `Host` header and rewrites the URI on every request, about
//! 10,000 instructions per request that a transport bound to one URL does
//! not need. This pool holds hyper's own HTTP/1 connections for one
//! origin: the request target and `Host` are made once, an idle connection
//! is taken from a list, and it goes back when its response has been read.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderValue;
use http_body_util::{Either, Empty, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;

/// A request body on the direct path.
pub(super) type DirectBody = Either<Full<Bytes>, Empty<Bytes>>;

/// Idle connections kept at most: more than this many requests at once
/// leave connections that are closed when their response is read.
const MAX_IDLE: usize = 256;
/// How long an idle connection is kept (reqwest's default).
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connections to one origin.
pub(super) struct Pool {
    connector: Connector,
    /// The URL, for connecting.
    uri: http::Uri,
    /// What requests ask for: the path and query.
    target: http::Uri,
    /// The `Host` header: the URL's authority.
    host: HeaderValue,
    idle: Mutex<VecDeque<Idle>>,
}

struct Idle {
    sender: SendRequest<DirectBody>,
    since: Instant,
}

impl Pool {
    /// A pool for `uri` (an `http://` URL with an authority), connecting
    /// within `connect_timeout`.
    pub(super) fn new(uri: http::Uri, connect_timeout: Duration) -> Option<Arc<Self>> {
        let host = HeaderValue::from_str(uri.authority()?.as_str()).ok()?;
        let target = uri
            .path_and_query()
            .map_or_else(|| http::Uri::from_static("/"), |p| p.clone().into());
        // reqwest's defaults, so that neither path notices a dead peer
        // later than the other.
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_keepalive(Some(Duration::from_secs(15)));
        http.set_keepalive_interval(Some(Duration::from_secs(15)));
        http.set_keepalive_retries(Some(3));
        #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
        http.set_tcp_user_timeout(Some(Duration::from_secs(30)));
        Some(Arc::new(Self {
            connector: Connector {
                http,
                timeout: connect_timeout,
            },
            uri,
            target,
            host,
            idle: Mutex::new(VecDeque::new()),
        }))
    }

    fn idle(&self) -> MutexGuard<'_, VecDeque<Idle>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `request` (its URI is replaced by the pool's) on an idle
    /// connection, or a new one; its response and the connection's lease,
    /// to give back once the response is read.
    ///
    /// # Errors
    /// Connecting failed, or the request could not be sent or answered.
    pub(super) async fn send(
        self: &Arc<Self>,
        mut request: http::Request<DirectBody>,
    ) -> Result<(http::Response<hyper::body::Incoming>, Lease), BoxError> {
        *request.uri_mut() = self.target.clone();
        request
            .headers_mut()
            .entry(http::header::HOST)
            .or_insert_with(|| self.host.clone());
        // A connection taken from the list may have been closed by the
        // server meanwhile: a request it never sent goes out on the next.
        while let Some(mut sender) = self.take_idle() {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((response, self.lease(sender))),
                Err(mut e) => match e.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(e.into_error().into()),
                },
            }
        }
        let mut sender = self.connect().await?;
        let response = sender.send_request(request).await?;
        Ok((response, self.lease(sender)))
    }

    /// The most recently used idle connection that is still open.
    fn take_idle(&self) -> Option<SendRequest<DirectBody>> {
        let mut idle = self.idle();
        while let Some(entry) = idle.pop_back() {
            if !entry.sender.is_closed() && entry.since.elapsed() < IDLE_TIMEOUT {
                return Some(entry.sender);
            }
        }
        None
    }

    async fn connect(&self) -> Result<SendRequest<DirectBody>, BoxError> {
        let io = self.connector.connect(self.uri.clone()).await?;
        let (sender, connection) = hyper::client::conn::http1::handshake(io).await?;
        // The connection's own task reads and writes the socket; it ends
        // when the connection closes or every sender is gone.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "an HTTP connection to the server ended");
            }
        });
        Ok(sender)
    }

    fn lease(self: &Arc<Self>, sender: SendRequest<DirectBody>) -> Lease {
        Lease {
            sender: Some(sender),
            pool: Arc::clone(self),
        }
    }

    fn give_back(&self, sender: SendRequest<DirectBody>) {
        if sender.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut idle = self.idle();
        // The oldest are at the front: those left too long go here, so
        // that a pool kept busy by a few connections does not keep the
        // rest open forever.
        while idle
            .front()
            .is_some_and(|e| e.sender.is_closed() || now.duration_since(e.since) >= IDLE_TIMEOUT)
        {
            idle.pop_front();
        }
        if idle.len() < MAX_IDLE {
            idle.push_back(Idle { sender, since: now });
        }
    }
}

/// A connection in use for one response: back to its pool when the
/// response has been read or dropped. A response dropped before its end
/// makes hyper close the connection, and the pool skips it.
pub(super) struct Lease {
    sender: Option<SendRequest<DirectBody>>,
    pool: Arc<Pool>,
}

impl Lease {
    /// The response was read to its end: the connection may serve another.
    pub(super) fn release(&mut self) {
        if let Some(sender) = self.sender.take() {
            self.pool.give_back(sender);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.release();
    }
}

/// hyper-util's connector, with the connect timeout over the whole of
/// connecting, name resolution included (as reqwest's is: the connector's
/// own covers only the TCP attempts).
struct Connector {
    http: HttpConnector,
    timeout: Duration,
}

impl Connector {
    async fn connect(&self, uri: http::Uri) -> Result<TokioIo<tokio::net::TcpStream>, BoxError> {
        use tower_service::Service;
        let mut http = self.http.clone();
        std::future::poll_fn(|cx| http.poll_ready(cx)).await?;
        match tokio::time::timeout(self.timeout, http.call(uri)).await {
            Ok(connected) => connected.map_err(Into::into),
            Err(_) => Err(format!("connecting took longer than {:?}", self.timeout).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A keep-alive server answering every request with `body`; how many
    /// connections it accepted. With `one_each`, it closes each connection
    /// after its first answer without saying so, and tells `closed`.
    async fn server(
        body: &'static str,
        one_each: bool,
    ) -> (
        Arc<Pool>,
        Arc<AtomicUsize>,
        tokio::sync::mpsc::UnboundedReceiver<()>,
    ) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri: http::Uri = format!("http://{}/mcp", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let (closed_tx, closed) = tokio::sync::mpsc::unbounded_channel();
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let closed_tx = closed_tx.clone();
                tokio::spawn(async move {
                    let mut pending = Vec::new();
                    let mut buffer = [0; 4096];
                    loop {
                        // One request: its head, then as many bytes as it says.
                        let end = loop {
                            if let Some(at) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                                break at + 4;
                            }
                            match stream.read(&mut buffer).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => pending.extend_from_slice(&buffer[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&pending[..end]).to_ascii_lowercase();
                        assert!(head.contains("\r\nhost: 127.0.0.1:"), "{head}");
                        assert!(head.starts_with("post /mcp http/1.1"), "{head}");
                        let length: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .map_or(0, |n| n.trim().parse().unwrap());
                        while pending.len() < end + length {
                            match stream.read(&mut buffer).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => pending.extend_from_slice(&buffer[..n]),
                            }
                        }
                        pending.drain(..end + length);
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if stream.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                        if one_each {
                            drop(stream);
                            let _ = closed_tx.send(());
                            return;
                        }
                    }
                });
            }
        });
        let pool = Pool::new(uri, Duration::from_secs(10)).unwrap();
        (pool, accepted, closed)
    }

    fn post() -> http::Request<DirectBody> {
        let mut request = http::Request::new(Either::Left(Full::new(Bytes::from_static(b"{}"))));
        *request.method_mut() = http::Method::POST;
        request
    }

    /// A request's whole answer, the connection given back after it.
    async fn answer(pool: &Arc<Pool>) -> Bytes {
        let (response, mut lease) = pool.send(post()).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        lease.release();
        body
    }

    /// Until the pool's idle connections have all seen their close, or a
    /// bounded number of turns (the connection tasks run between them).
    async fn until_idle_closed(pool: &Pool) {
        for _ in 0..10_000 {
            if pool.idle().iter().all(|e| e.sender.is_closed()) {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("an idle connection never saw the server close it");
    }

    #[tokio::test]
    async fn requests_one_after_another_share_one_connection() {
        let (pool, accepted, _) = server("ok", false).await;
        for _ in 0..5 {
            assert_eq!(answer(&pool).await, "ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(pool.idle().len(), 1);
    }

    #[tokio::test]
    async fn requests_at_once_open_connections_that_are_used_again() {
        let (pool, accepted, _) = server("ok", false).await;
        // Four responses held at once: four connections.
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(pool.send(post()).await.unwrap());
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
        for (response, mut lease) in held {
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, "ok");
            lease.release();
        }
        for _ in 0..8 {
            assert_eq!(answer(&pool).await, "ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn idle_connections_are_kept_up_to_the_cap() {
        let (pool, accepted, _) = server("ok", false).await;
        let mut held = Vec::new();
        for _ in 0..MAX_IDLE + 4 {
            held.push(pool.send(post()).await.unwrap());
        }
        assert_eq!(accepted.load(Ordering::SeqCst), MAX_IDLE + 4);
        for (response, mut lease) in held {
            response.into_body().collect().await.unwrap();
            lease.release();
        }
        // The rest were closed, not kept.
        assert_eq!(pool.idle().len(), MAX_IDLE);
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_not_used_again() {
        let (pool, accepted, mut closed) = server("ok", true).await;
        assert_eq!(answer(&pool).await, "ok");
        closed.recv().await.unwrap();
        until_idle_closed(&pool).await;
        assert_eq!(answer(&pool).await, "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_response_dropped_before_its_end_leaves_the_pool_working() {
        let big = "x".repeat(1 << 20);
        let (pool, accepted, _) = server(big.leak(), false).await;
        // The head only: hyper closes a connection whose body was left
        // unread, and the pool must not hand it out again as it is.
        let (response, lease) = pool.send(post()).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::OK);
        drop((response, lease));
        let body = answer(&pool).await;
        assert_eq!(body.len(), 1 << 20);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_idle_connection_past_its_time_is_closed() {
        let (pool, accepted, _) = server("ok", false).await;
        assert_eq!(answer(&pool).await, "ok");
        // As if it had been idle since long ago.
        pool.idle().front_mut().unwrap().since = Instant::now() - IDLE_TIMEOUT;
        assert_eq!(answer(&pool).await, "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(pool.idle().len(), 1);
    }
}
