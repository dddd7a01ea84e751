//! Telemetry by OpenTelemetry's MCP semantic conventions: a `tracing` span
//! per request and metrics per operation and session.
//!
//! Each request runs in a span (target `mcp_server::request`) named
//! `{mcp.method.name} {target}` (`tools/call get_weather`), with the
//! conventions' attributes: `mcp.method.name`, `jsonrpc.request.id`,
//! `mcp.protocol.version`, `gen_ai.tool.name`, `gen_ai.prompt.name`,
//! `mcp.resource.uri`, `gen_ai.operation.name`, `network.transport`,
//! `network.protocol.name`, `client.address`, `client.port`, and on
//! failure `error.type` (`tool_error` for an `isError` result, else the
//! JSON-RPC code) and `rpc.response.status_code`. `mcp.session.id` is set
//! on legacy sessions only, as a digest of the id (the id itself lets its
//! holder use the session). `otel.name`, `otel.kind` and
//! `otel.status_code` are what `tracing-opentelemetry` reads to name and
//! type the span. For correlation every line logged inside the span also
//! carries `trace_id` (the caller's W3C `traceparent` trace id, from
//! `params._meta`, or a fresh one) and `principal`. Arguments and results
//! are recorded only when the server opts in
//! ([`ServerOptions::record_tool_calls`](crate::ServerOptions)).
//!
//! A request the server sends its client on a legacy session
//! (`elicitation/create`, `sampling/createMessage`, `roots/list`) has a
//! span too (target `mcp_server::peer_request`): named by its method, of
//! kind `client`, inside the span of the request being handled, with
//! `mcp.method.name`, `jsonrpc.request.id` and on failure `error.type`;
//! its trace context goes along in the request's `_meta`.
//!
//! Metrics: [`Metrics`], rendered for Prometheus by [`MetricsService`].

mod metrics;
mod operation;
pub(crate) mod outgoing;
mod trace;

use std::fmt;
#[cfg(feature = "http")]
use std::future::Future;
#[cfg(feature = "http")]
use std::pin::Pin;
use std::sync::Arc;
#[cfg(feature = "http")]
use std::task::{Context, Poll};

pub use self::metrics::{MAX_SERIES, Metrics};
pub(crate) use self::operation::{Operation, Outcome};
/// Head sampling for the OpenTelemetry layer (feature `otel`): see
/// [`mcp_core::telemetry::HeadSampler`].
#[cfg(feature = "otel")]
pub use mcp_core::telemetry::{HeadSampler, Sampling};

/// How a connection reaches its client, as the conventions name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Transport {
    /// stdio, or any byte stream a server is handed.
    #[default]
    Pipe,
    /// Streamable HTTP (or HTTP+SSE).
    #[cfg_attr(not(feature = "http"), allow(dead_code, reason = "HTTP builds only"))]
    Http,
}

impl Transport {
    /// `network.transport`.
    pub(crate) fn network(self) -> &'static str {
        match self {
            Self::Pipe => "pipe",
            Self::Http => "tcp",
        }
    }

    /// `network.protocol.name`.
    pub(crate) fn protocol(self) -> Option<&'static str> {
        match self {
            Self::Pipe => None,
            Self::Http => Some("http"),
        }
    }
}

/// A legacy session, as spans name it: a digest of its id, so that spans
/// and logs correlate a session's requests without holding what would let
/// a reader use it.
#[derive(Debug, Clone)]
pub(crate) struct SessionLabel(pub(crate) Arc<str>);

impl SessionLabel {
    #[cfg_attr(not(feature = "http"), allow(dead_code, reason = "HTTP builds only"))]
    pub(crate) fn of(session_id: &str) -> Self {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(session_id.as_bytes());
        let hex = mcp_core::hex::encode(digest.get(..8).unwrap_or_default());
        Self(hex.into())
    }
}

/// The metrics endpoint: [`Metrics::global`] in the Prometheus text
/// format, as a `tower::Service` for any request (mount it at a path,
/// `/metrics` by custom).
///
/// ```no_run
/// # fn app(mcp: mcp_server::http::StreamableHttp<mcp_server::Router>) -> axum::Router {
/// axum::Router::new()
///     .route_service("/mcp", mcp)
///     .route_service("/metrics", mcp_server::telemetry::MetricsService::new())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct MetricsService;

impl MetricsService {
    /// The service.
    pub fn new() -> Self {
        Self
    }
}

#[cfg(feature = "http")]
impl<B> tower_service::Service<http::Request<B>> for MetricsService {
    type Response = http::Response<crate::http::Body>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<B>) -> Self::Future {
        let mut res = http::Response::new(crate::http::Body::full(Metrics::global().render()));
        res.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        Box::pin(std::future::ready(Ok(res)))
    }
}

impl fmt::Display for SessionLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
