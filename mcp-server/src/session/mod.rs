//! A connection to one client: reads frames, runs requests concurrently,
//! writes responses as they finish, and speaks whichever era each request
//! is in.

mod dispatch;
pub(crate) mod peer;
mod stamp;
mod unwind;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mcp_core::transport::{FrameRead, FrameWrite};
use mcp_core::{CacheScope, ProtocolVersion};
use tokio::sync::{Semaphore, mpsc};

use crate::error::Error;
use crate::handler::Handler;
use crate::request_state::StateKey;

pub(crate) use dispatch::{Admission, Busy, Connection, Route};

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
    /// reading goes on, so cancellations still get through; an HTTP
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
        }
    }
}

/// An MCP server: a [`Handler`] plus the protocol around it.
///
/// Cheap to clone; one server serves any number of connections.
#[derive(Debug)]
pub struct Server<H> {
    handler: Arc<H>,
    options: Arc<ServerOptions>,
    /// Open `subscriptions/listen` streams, over all connections.
    listens: Arc<Semaphore>,
}

impl<H> Clone for Server<H> {
    fn clone(&self) -> Self {
        Self {
            handler: Arc::clone(&self.handler),
            options: Arc::clone(&self.options),
            listens: Arc::clone(&self.listens),
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
            handler: Arc::new(handler),
            listens: Arc::new(Semaphore::new(
                options.max_listen_streams.min(Semaphore::MAX_PERMITS),
            )),
            options: Arc::new(options),
        }
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// A connection whose connection-level messages (legacy list changes,
    /// server requests outside any request) go to `tx`.
    pub(crate) fn connection(&self, tx: mpsc::Sender<Bytes>) -> Arc<Connection<H>> {
        self.connection_sharing(tx, self.permits())
    }

    /// A connection whose requests count against `permits`, shared with
    /// other connections (stateless HTTP requests each get a connection,
    /// but [`ServerOptions::max_in_flight`] caps them together).
    pub(crate) fn connection_sharing(
        &self,
        tx: mpsc::Sender<Bytes>,
        permits: Arc<Semaphore>,
    ) -> Arc<Connection<H>> {
        Connection::new(
            Arc::clone(&self.handler),
            Arc::clone(&self.options),
            tx,
            permits,
            Arc::clone(&self.listens),
        )
    }

    /// Fresh permits for [`ServerOptions::max_in_flight`] requests.
    pub(crate) fn permits(&self) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(
            self.options.max_in_flight.clamp(1, Semaphore::MAX_PERMITS),
        ))
    }

    pub(crate) fn options(&self) -> &ServerOptions {
        &self.options
    }

    /// Serves one connection until the client closes it.
    ///
    /// # Errors
    /// [`Error::Transport`] when writing to the client fails.
    pub async fn serve<R: FrameRead, W: FrameWrite>(
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
    pub async fn serve_until<R: FrameRead, W: FrameWrite>(
        &self,
        mut reader: R,
        mut writer: W,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), Error> {
        let (tx, mut rx) = mpsc::channel::<Bytes>(256);
        let conn = self.connection(tx);
        // If this future is dropped midway, stop the connection's tasks too.
        let _guard = AbortOnDrop(Arc::downgrade(&conn));
        let write = async move {
            while let Some(frame) = rx.recv().await {
                writer.write_frame(frame).await?;
            }
            writer.close().await
        };
        let read = async {
            tokio::pin!(shutdown);
            loop {
                let frame = tokio::select! {
                    frame = reader.read_frame() => frame,
                    () = &mut shutdown => break,
                };
                match frame {
                    None => break,
                    Some(Ok(frame)) => conn.on_frame(&frame).await,
                    Some(Err(e)) if e.is_fatal() => {
                        tracing::warn!(error = %e, "reading from the client failed");
                        break;
                    }
                    Some(Err(e)) => conn.on_frame_error(&e).await,
                }
            }
            conn.shutdown().await;
            drop(conn);
        };
        let ((), written) = tokio::join!(read, write);
        written.map_err(Error::Transport)
    }
}
