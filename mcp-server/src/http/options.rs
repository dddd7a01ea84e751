//! The settings of the Streamable HTTP transport, apart from the code that
//! reads them so that every path can see them without seeing each other.

use std::time::Duration;

use super::security::AllowedHosts;

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
