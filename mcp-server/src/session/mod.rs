//! Serving requests in both eras: the dispatcher every request goes
//! through, and connections (a stdio stream, a legacy HTTP session) that
//! run their requests concurrently and keep legacy state.
//!
//! Transports hand the session decoded messages and receive encoded ones
//! that say what they are (`mcp_core::transport::{MessageRead,
//! MessageWrite}`); a stateless 2026-07-28 request needs no connection at
//! all: the HTTP endpoint runs it through the [`Dispatcher`] directly.

#[cfg(feature = "http")]
pub(crate) mod answers;
mod connection;
mod dispatcher;
mod events;
mod input;
mod lifecycle;
mod methods;
pub(crate) mod peer;
mod pump;
mod stamp;
mod unwind;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mcp_core::request::DecodedBody;
use mcp_core::transport::{MessageRead, MessageWrite, Outgoing};
use mcp_core::{CacheScope, ProtocolVersion};
use tokio::sync::{Semaphore, mpsc};

use crate::error::Error;
use crate::handler::Handler;
use crate::request_state::StateKey;

pub(crate) use connection::Connection;
#[cfg(feature = "http")]
pub(crate) use dispatcher::{Admission, Admitted, Busy, Reply, Route, admit, decode_call};
pub(crate) use dispatcher::{Call, Dispatcher, batches_unsupported};

/// Settings of a [`Server`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// Protocol versions served, newest first.
    pub supported_versions: Vec<ProtocolVersion>,
    /// How long to wait for a legacy client to answer a server request
    /// (elicitation waits for a person, so this is generous).
    pub client_request_timeout: Duration,
    /// On shutdown, how long in-flight requests may run before they are
    /// cancelled.
    pub shutdown_grace: Duration,
    /// Requests that may run at once: on one stdio connection; on a
    /// Streamable HTTP endpoint, all requests of all clients together
    /// (see also the per-client quota,
    /// [`HttpOptions::max_in_flight_per_client`](crate::http::HttpOptions::max_in_flight_per_client)).
    /// Beyond that, a stdio request is refused as busy (`-32603`) while
    /// reading goes on, so cancellations still get through (a request
    /// answered at once gives its place back before the next is read); an HTTP
    /// request waits up to
    /// [`HttpOptions::permit_timeout`](crate::http::HttpOptions::permit_timeout)
    /// for one to free up.
    pub max_in_flight: usize,
    /// `subscriptions/listen` streams open at once, over all connections
    /// of this server. They live long by design, so they are not counted
    /// in [`max_in_flight`](Self::max_in_flight).
    pub max_listen_streams: usize,
    /// Resources one legacy session may subscribe to, and one
    /// `subscriptions/listen` stream may ask for.
    pub max_subscriptions: usize,
    /// Seals `requestState`; share it between instances behind a load
    /// balancer.
    pub state_key: StateKey,
    /// How long a `requestState` stays valid.
    pub state_ttl: Duration,
    /// `ttlMs` of cacheable modern results the handler left unset.
    pub cache_ttl_ms: u64,
    /// `cacheScope` of cacheable modern results the handler left unset.
    pub cache_scope: CacheScope,
    /// `ttlMs` of the `server/discover` result.
    pub discover_ttl_ms: u64,
    /// Rate limits per caller, on every transport; none by default.
    pub rate_limits: Option<crate::limit::RateLimits>,
    /// Records each tool call's arguments and result, as JSON text, on its
    /// span (`gen_ai.tool.call.arguments`, `gen_ai.tool.call.result`: the
    /// conventions' opt-in attributes), each cut at 16 KiB. Off by
    /// default: they may hold
    /// personal data or secrets, and spans and logs reach more readers than
    /// the tools' data does.
    pub record_tool_calls: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            supported_versions: ProtocolVersion::DEFAULT_SUPPORTED.to_vec(),
            client_request_timeout: Duration::from_secs(300),
            shutdown_grace: Duration::from_secs(10),
            max_in_flight: 64,
            max_listen_streams: 1024,
            max_subscriptions: 1024,
            state_key: StateKey::random(),
            state_ttl: Duration::from_secs(600),
            // Lists can change at runtime and may depend on who asks, so
            // by default nothing is cached and nothing is shared.
            cache_ttl_ms: 0,
            cache_scope: CacheScope::Private,
            discover_ttl_ms: 60_000,
            rate_limits: None,
            record_tool_calls: false,
        }
    }
}

/// An MCP server: a [`Handler`] plus the protocol around it.
///
/// Cheap to clone; one server serves any number of connections.
#[derive(Debug)]
pub struct Server<H> {
    dispatcher: Arc<Dispatcher<H>>,
}

impl<H> Clone for Server<H> {
    fn clone(&self) -> Self {
        Self {
            dispatcher: Arc::clone(&self.dispatcher),
        }
    }
}

/// Aborts a connection's tasks when `serve_until` is dropped early.
struct AbortOnDrop<H: Handler>(std::sync::Weak<Connection<H>>);

impl<H: Handler> Drop for AbortOnDrop<H> {
    fn drop(&mut self) {
        if let Some(conn) = self.0.upgrade() {
            conn.abort_all();
        }
    }
}

impl<H: Handler> Server<H> {
    /// A server with default options.
    pub fn new(handler: H) -> Self {
        Self::with_options(handler, ServerOptions::default())
    }

    /// A server with `options`.
    pub fn with_options(handler: H, options: ServerOptions) -> Self {
        Self {
            dispatcher: Arc::new(Dispatcher::new(handler, options)),
        }
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.dispatcher.handler
    }

    #[cfg(feature = "http")]
    pub(crate) fn dispatcher(&self) -> &Arc<Dispatcher<H>> {
        &self.dispatcher
    }

    /// A connection whose connection-level messages (legacy list changes,
    /// server requests outside any request) go to `tx`, and whose requests
    /// count against `permits`, which it may share with other connections
    /// ([`ServerOptions::max_in_flight`] caps them together).
    pub(crate) fn connection(
        &self,
        tx: mpsc::Sender<Outgoing>,
        permits: Arc<Semaphore>,
        transport: crate::telemetry::Transport,
    ) -> Arc<Connection<H>> {
        Connection::new(Arc::clone(&self.dispatcher), tx, permits, transport)
    }

    /// Fresh permits for [`ServerOptions::max_in_flight`] requests.
    pub(crate) fn permits(&self) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(
            self.options()
                .max_in_flight
                .clamp(1, Semaphore::MAX_PERMITS),
        ))
    }

    pub(crate) fn options(&self) -> &ServerOptions {
        &self.dispatcher.options
    }

    /// The handler's changes, and where changes other instances announced
    /// go (held weakly: it goes with the server).
    #[cfg(feature = "http")]
    pub(crate) fn changes(
        &self,
    ) -> (
        Option<tokio::sync::broadcast::Receiver<crate::ServerEvent>>,
        std::sync::Weak<tokio::sync::broadcast::Sender<crate::ServerEvent>>,
    ) {
        (
            self.dispatcher.handler.events(),
            Arc::downgrade(&self.dispatcher.remote_events),
        )
    }

    /// Serves one connection until the client closes it.
    ///
    /// Any message transport serves: frame transports (`FrameRead` and
    /// `FrameWrite`, such as `LineReader` and `LineWriter`) are message
    /// transports too.
    ///
    /// # Errors
    /// [`Error::Transport`] when writing to the client fails.
    pub async fn serve<R: MessageRead, W: MessageWrite>(
        &self,
        reader: R,
        writer: W,
    ) -> Result<(), Error> {
        self.serve_until(reader, writer, std::future::pending())
            .await
    }

    /// Serves one connection until the client closes it or `shutdown`
    /// completes. Either way, requests in flight get
    /// [`ServerOptions::shutdown_grace`] to finish and are then cancelled.
    ///
    /// # Errors
    /// [`Error::Transport`] when writing to the client fails.
    pub async fn serve_until<R: MessageRead, W: MessageWrite>(
        &self,
        mut reader: R,
        mut writer: W,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), Error> {
        let (tx, mut rx) = mpsc::channel::<Outgoing>(256);
        // Where answers wait for the writing half: reading waits while it
        // is full, and stops once it is closed (the writing half stopped, the
        // client's end is gone) rather than run requests nobody can be told of.
        let outgoing = tx.clone();
        let conn = self.connection(tx, self.permits(), crate::telemetry::Transport::Pipe);
        // If this future is dropped midway, stop the connection's tasks too.
        let _guard = AbortOnDrop(Arc::downgrade(&conn));
        let write = async move {
            while let Some(message) = rx.recv().await {
                writer.write_message(message).await?;
            }
            writer.close().await
        };
        let read = async {
            // A scope of its own: `stop` borrows `outgoing`, which has to be
            // dropped below for the writing half to end.
            {
                // Polled only when it fires, not on every message read.
                let stop = crate::wake::when_woken(async {
                    tokio::select! {
                        () = shutdown => {}
                        () = outgoing.closed() => {}
                    }
                });
                tokio::pin!(stop);
                loop {
                    // Out of cooperative budget (a flood of requests read from
                    // one buffer): let the answers go out and the requests that
                    // had to wait run before reading more.
                    if !tokio::task::coop::has_budget_remaining() {
                        tokio::task::yield_now().await;
                    }
                    // The client is not taking its answers as fast as it sends
                    // requests: wait for room rather than read more requests
                    // whose answers would have to wait in tasks of their own.
                    if outgoing.capacity() == 0 {
                        tokio::select! {
                            _ = outgoing.reserve() => {}
                            () = &mut stop => break,
                        }
                    }
                    let decoded = tokio::select! {
                        decoded = reader.read_decoded() => decoded,
                        () = &mut stop => break,
                    };
                    match decoded {
                        None => break,
                        Some(DecodedBody {
                            incoming: Err(e), ..
                        }) if e.is_fatal() => {
                            tracing::warn!(error = %e, "reading from the client failed");
                            break;
                        }
                        Some(decoded) => conn.on_incoming(decoded).await,
                    }
                }
            }
            conn.shutdown().await;
            drop(conn);
            drop(outgoing);
        };
        let ((), written) = pump::join(read, write).await;
        written.map_err(Error::Transport)
    }
}

#[cfg(test)]
mod tests {
    use mcp_core::jsonrpc::Incoming;
    use mcp_core::transport::{MessageRead, MessageWrite, Outgoing};

    use super::Server;
    use crate::router::Router;

    /// One `initialize` request, then nothing more, ever.
    struct OneThenSilence(bool);

    impl MessageRead for OneThenSilence {
        async fn read_message(&mut self) -> Option<Result<Incoming, mcp_core::Error>> {
            if std::mem::replace(&mut self.0, true) {
                return std::future::pending().await;
            }
            let line = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
            Some(Incoming::from_slice(line, true))
        }
    }

    /// A client end that is gone: every write fails.
    struct Gone;

    impl MessageWrite for Gone {
        async fn write_message(&mut self, _: Outgoing) -> Result<(), mcp_core::Error> {
            Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe).into())
        }

        async fn close(&mut self) -> Result<(), mcp_core::Error> {
            Ok(())
        }
    }

    /// A burst of requests served from the main future of a multi-threaded
    /// runtime, where tokio wakes a task that ran out of budget at once:
    /// every request is answered (a joined task that let its writing half
    /// wake itself without bound spun here forever).
    #[test]
    fn a_burst_served_from_a_multi_threaded_block_on_is_answered() {
        // On a thread of its own, so that a spinning poll (which no timer
        // can interrupt) fails the test instead of hanging it.
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(burst_from_the_main_future());
            let _ = done.send(());
        });
        finished
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("every request answered within a minute");
    }

    async fn burst_from_the_main_future() {
        use mcp_core::transport::{LineReader, LineWriter};
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        const BURST: usize = 2000;
        let (client, server_end) = tokio::io::duplex(1 << 16);
        let (server_read, server_write) = tokio::io::split(server_end);
        let (client_read, mut client_write) = tokio::io::split(client);
        let mut burst = String::from(
            "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}\n{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n",
        );
        for id in 1..=BURST {
            burst.push_str(&format!(
                "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"ping\"}}\n"
            ));
        }
        let writing = tokio::spawn(async move {
            client_write.write_all(burst.as_bytes()).await.unwrap();
            client_write.shutdown().await.unwrap();
        });
        let reading = tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(client_read).lines();
            let mut answered = 0;
            while let Some(line) = lines.next_line().await.unwrap() {
                assert!(!line.contains("\"error\""), "{line}");
                answered += 1;
            }
            answered
        });
        let served = Server::new(Router::new("t", "1"))
            .serve_until(
                LineReader::new(server_read),
                LineWriter::new(server_write),
                std::future::pending(),
            )
            .await;
        assert!(served.is_ok(), "{served:?}");
        writing.await.unwrap();
        assert_eq!(reading.await.unwrap(), BURST + 1);
    }

    /// When the answers can no longer be written, the connection stops
    /// reading and says why, rather than run requests for nobody until the
    /// input ends (which, here, it never does).
    #[tokio::test(start_paused = true)]
    async fn a_connection_whose_writes_fail_stops_reading() {
        let server = Server::new(Router::new("t", "1"));
        let served = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            server.serve_until(OneThenSilence(false), Gone, std::future::pending()),
        )
        .await
        .expect("serve_until returned");
        assert!(served.is_err(), "{served:?}");
    }
}
