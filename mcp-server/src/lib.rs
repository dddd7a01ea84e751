//! Model Context Protocol servers, for both protocol eras.
//!
//! Write a [`Handler`] (or build a [`Router`] of tools, resources and
//! prompts), wrap it in a [`Server`], and serve it: over stdio with
//! [`Server::serve_stdio`], or over any [`FrameRead`] / [`FrameWrite`]
//! pair with [`Server::serve`].
//!
//! ```no_run
//! use mcp_server::{Router, Server, tool};
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct Echo {
//!     /// What to send back.
//!     message: String,
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), mcp_server::Error> {
//!     let echo = tool("echo", "Sends the message back", |args: Echo| async move { args.message });
//!     Server::new(Router::new("echo-server", "1.0.0").with_tool(echo)).serve_stdio().await
//! }
//! ```
//!
//! # Both eras, one handler
//!
//! The session decides per request: a request whose `_meta` names a
//! protocol version is served statelessly under 2026-07-28; otherwise the
//! connection's `initialize` handshake applies. Handlers see the
//! difference only through [`RequestContext::era`] if they care.
//! [`RequestContext::elicit`], [`sample`](RequestContext::sample) and
//! [`list_roots`](RequestContext::list_roots) send a real request to a
//! legacy client, and produce an input-required result on a modern request
//! (the client retries with the answers, and the handler runs again).
//!
//! # Cancel safety
//!
//! When a client cancels a request (`notifications/cancelled`), the
//! handler's future is dropped at its next `.await`; no response is sent.
//!
//! [`FrameRead`]: mcp_core::transport::FrameRead
//! [`FrameWrite`]: mcp_core::transport::FrameWrite
//!
//! # Features
//!
//! - `stdio` (on): [`Server::serve_stdio`] and process signals.
//! - `http` (on): Streamable HTTP ([`http`]): the endpoint as a tower
//!   `Service` and a hardened hyper listener. Off, the tree has no hyper,
//!   tower or HTTP body crates.
//! - `otel`: W3C trace context through `params._meta`, metrics through
//!   OpenTelemetry, and head sampling for the OpenTelemetry layer
//!   (`telemetry::HeadSampler`) ([`telemetry`]).
//! - `redis`: sessions, resumable events and rate-limit buckets shared on
//!   Redis (`mcp_server::redis`), for many instances.
//!
//! # Dependencies, and why
//!
//! - `tokio`: the runtime every MCP transport here runs on; requests run
//!   as tasks so they can be cancelled.
//! - `schemars`: a tool's input and output JSON Schemas come from its Rust
//!   types, so the schema cannot disagree with the decoder.
//! - `serde`, `serde_json`, `bytes`: the protocol's JSON, shared buffers.
//! - `hmac`, `sha2`, `getrandom`, `base64`: a 2026-07-28
//!   `requestState` is sealed with HMAC-SHA256 under a random key; session
//!   ids are random. RustCrypto crates: pure Rust, audited, small.
//! - `foldhash`: the maps looked up on every request (sessions, requests
//!   in flight, per-client quotas) hash with it, randomly seeded per map:
//!   a fraction of SipHash's cost, and no peer chooses enough of their keys
//!   for collisions to matter. Small, no dependencies of its own.
//! - `async-trait`: the store traits users implement take `async fn` and
//!   stay object-safe (`Arc<dyn SessionStore>`).
//! - `tracing`: spans and events that any subscriber (logs, OpenTelemetry)
//!   can take.
//! - `thiserror`, `pin-project-lite`: the error enum, and pinned futures
//!   and bodies without `unsafe`.
//! - `http` always (the extensions a handler reads are `http::Extensions`).
//!   With `http`: `hyper` and `hyper-util` (HTTP/1 and HTTP/2 with the
//!   timeouts and limits of `serve`), `tower-service`/`tower-layer` (the
//!   endpoint mounts in axum or any tower stack), `http-body`/
//!   `http-body-util` (streaming SSE bodies), `tower-http` (CORS), `nix`
//!   (raising the descriptor limit that the connection cap is sized by).
//! - `atomic-waker`: a connection's watchdog and shutdown signal wake its
//!   task without being polled on every request, and a stdio connection
//!   writes a reply in the pass that made it (no dependencies of its own).
//! - With `otel`: `opentelemetry` (the API: the W3C propagator the
//!   application installed reads `params._meta`; metrics go to its meter
//!   provider), `opentelemetry_sdk` only to turn on its bound instruments
//!   (each label set's histogram is bound once, so a request's record
//!   hashes no attributes), and `tracing-opentelemetry` (the caller's
//!   context becomes the parent of the request's `tracing` span).
//!   Rate limits, metrics and the GCRA step are written here: see
//!   [`limit`] and [`telemetry`] for why.
//! - With `redis`: `redis` (redis-rs: kept up, async on tokio, with a
//!   connection manager that reconnects, and Lua scripts run by their
//!   digest), over which the shared stores are a few scripts each.

mod boxed;
pub mod bus;
pub mod clock;
mod context;
mod error;
mod fast_map;
mod handler;
#[cfg(feature = "http")]
pub mod http;
// Per-client quotas apply where a transport knows its clients (HTTP).
pub mod limit;
#[cfg_attr(not(feature = "http"), allow(dead_code))]
mod quota;
#[cfg(feature = "redis")]
pub mod redis;
mod request_state;
mod router;
pub mod secrets;
pub mod security_event;
mod session;
#[cfg(feature = "stdio")]
mod stdio;
pub mod store;
pub mod telemetry;
pub mod uri_template;
mod wake;

// The getting-started guide's code blocks compile as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/getting-started.md")]
struct GettingStartedDoctests;

// So do the HTTP guide's.
#[cfg(doctest)]
#[doc = include_str!("../../docs/http.md")]
struct HttpDoctests;

// And the complete server's.
#[cfg(doctest)]
#[doc = include_str!("../../docs/server-guide.md")]
struct ServerGuideDoctests;

// And the operations guide's.
#[cfg(doctest)]
#[doc = include_str!("../../docs/operations.md")]
struct OperationsDoctests;

/// The attribute that lets [`store::SessionStore`] and
/// [`store::EventStore`] implementations use `async fn`.
pub use async_trait::async_trait;
pub use context::RequestContext;
pub use error::{Error, Result};
pub use handler::{Handler, ServerEvent};
/// The protocol types a server's handlers use most, so that a first
/// server needs this crate only; everything else is in [`mcp_core`].
pub use mcp_core::{
    CallToolResult, ContentBlock, ErrorObject, Implementation, JsonObject, ResourceContents, Role,
    prompts::{GetPromptResult, PromptMessage},
    resources::{Resource, ResourceTemplate},
};
pub use request_state::StateKey;
pub use router::{
    IntoPromptResult, IntoToolResult, Json, NoArgs, PromptRoute, ResourceRoute, Router,
    TemplateRoute, ToolFn, ToolRoute, WithContext, WithoutContext, prompt, resource,
    resource_not_found, resource_template, tool,
};
pub use session::{Server, ServerOptions};
