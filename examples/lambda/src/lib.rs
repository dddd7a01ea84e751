//! The demo MCP server as an AWS Lambda function: its stateless
//! 2026-07-28 endpoint, a tower `Service`, handed to
//! [`lambda_http`](https://docs.rs/lambda_http), which turns API Gateway
//! HTTP API and function URL events into HTTP requests and the answers
//! back into events.
//!
//! A function keeps nothing between invocations, so legacy sessions are
//! not served: a 2025 client's `initialize` gets 400 with error -32022
//! naming the versions that are (2026-07-28), which tells a client that
//! can speak it to retry, and anyone reading the logs what happened.
//! Answers are buffered whole (API Gateway does not stream): a tool's
//! progress arrives with its result, in one SSE body.
//!
//! ```no_run
//! # async fn run() -> Result<(), lambda_http::Error> {
//! lambda_http::run(examples_lambda::endpoint()).await
//! # }
//! ```
//!
//! Dependencies: `lambda_http` (the Lambda runtime and the event types,
//! HTTP API payloads only), `examples` (the demo server and its logging),
//! `mcp-server` (the endpoint).

use mcp_server::Server;
use mcp_server::http::{AllowedHosts, HttpOptions, StreamableHttp};

/// The endpoint the function serves: the demo server, stateless only.
///
/// `Host` values: those in `MCP_ALLOWED_HOSTS` (comma-separated) when set,
/// else any. DNS rebinding, which the check is for, reaches servers on a
/// private network through a browser; a function's URL is public, and
/// API Gateway or the function URL only forwards its own host names.
pub fn endpoint() -> StreamableHttp<mcp_server::Router> {
    let allowed = std::env::var("MCP_ALLOWED_HOSTS").ok();
    endpoint_for(allowed.as_deref())
}

/// [`endpoint`] with the allowed hosts given.
pub fn endpoint_for(allowed_hosts: Option<&str>) -> StreamableHttp<mcp_server::Router> {
    let mut http = HttpOptions::default();
    // Nothing outlives an invocation: no sessions, no HTTP+SSE.
    http.legacy = false;
    http.legacy_sse = false;
    http.allowed = match allowed_hosts {
        Some(hosts) => hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .fold(AllowedHosts::loopback(), AllowedHosts::with_host),
        None => AllowedHosts::any(),
    };
    StreamableHttp::new(Server::new(examples::demo::router()), http)
}
