//! One MCP endpoint in front of many MCP servers.
//!
//! A [`Gateway`] is an MCP server ([`mcp_server::Handler`]) whose tools,
//! prompts, resources and resource templates are those of its
//! **upstreams** — stdio servers it runs, and Streamable HTTP servers of
//! either protocol era — merged into one: names prefixed with their
//! upstream's when there are several, resource URIs mapped reversibly,
//! each request routed to its owner. The gateway does what every server
//! would otherwise repeat: authenticate callers (`mcp-auth`), decide who
//! may use what ([`config::Rule`]), limit rates, observe all traffic, and
//! keep upstreams healthy (restarts with backoff, timeouts, a circuit
//! breaker each). Everything passes through across eras: progress,
//! cancellation, logging, and the input a tool asks for (a legacy
//! client's elicitation request on one side can be a 2026-07-28
//! input-required result on the other).
//!
//! The binary runs it from one TOML file (`docs/gateway.md` has the
//! schema):
//!
//! ```text
//! mcp-gateway serve gateway.toml     # Streamable HTTP
//! mcp-gateway stdio gateway.toml     # stdio, for a desktop host
//! mcp-gateway check gateway.toml     # validate only
//! mcp-gateway probe [URL]            # exit 0 when ready (health checks)
//! mcp-gateway bridge URL             # one remote server as a stdio server
//! ```
//!
//! The same from Rust, embedded in a service:
//!
//! ```no_run
//! # async fn run() -> Result<(), mcp_gateway::Error> {
//! use mcp_gateway::{Config, Gateway};
//!
//! let config = Config::parse(r#"
//!     [[upstream]]
//!     name = "notes"
//!     command = "notes-server"
//!
//!     [[upstream]]
//!     name = "search"
//!     url = "https://search.example.com/mcp"
//! "#)?;
//! let gateway = Gateway::new(config.clone(), mcp_gateway::secrets(&config));
//! // A handler like any other: over stdio here, or in a StreamableHttp
//! // endpoint (see `mcp_gateway::app`).
//! mcp_server::Server::new(gateway).serve_stdio().await?;
//! # Ok(())
//! # }
//! ```
//!
//! The **bridge** ([`bridge`]) is the one-upstream, stdio-downstream case
//! for hosts that only launch commands: a remote, OAuth-protected server
//! served as a local stdio server, frames relayed as they are.
//!
//! # Features
//!
//! - `otel`: trace context and metrics through OpenTelemetry on both
//!   sides, so one trace runs from the caller through the gateway to the
//!   upstream (`params._meta.traceparent`).
//!
//! # Dependencies, and why
//!
//! - `mcp-server` (the downstream side, both eras, stdio and HTTP),
//!   `mcp-client` (the upstream connections, with their fallbacks),
//!   `mcp-auth` (the caller's token on the way in; discovery,
//!   registration, PKCE and token storage on the way out), `mcp-core`.
//! - `axum`: the HTTP application around the endpoint (metadata, health,
//!   metrics routes); `http` for its types; `http-body-util` to read a
//!   body within limits; `tower-layer`, `tower-service` (both under axum)
//!   for the policy check in front of the endpoint, a plain service.
//! - `sha2`: the key a token-exchange caller's connection is kept under
//!   (a digest of its token, never the token).
//! - `toml`, `serde`: the configuration file, with the line of each error.
//! - `tokio`, `tokio-stream`: upstream supervisors, signals, reloads.
//! - `tracing`, `tracing-subscriber`: logs (the binary's, on stderr).
//! - `thiserror` (the error type), `bytes` and `serde_json` (frames, kept
//!   registrations).

// The gateway guide's code blocks compile as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/gateway.md")]
struct GatewayGuideDoctests;

pub mod bridge;
pub mod config;
mod error;
mod federation;
mod forbid;
mod metrics;
mod policy;
mod serve;
mod upstream;

pub use config::Config;
pub use error::Error;
pub use federation::{FORBIDDEN, Gateway};
pub use serve::{app, probe, rate_limits, reload, run_http, run_stdio, secrets};
pub use upstream::{CircuitState, UpstreamStatus};
