//! Streamable HTTP: the MCP endpoint as a `tower::Service`, and a way to
//! serve it on a TCP listener.
//!
//! The endpoint ([`StreamableHttp`]) reads each request once and hands it
//! to one of three paths: stateless 2026-07-28 requests, legacy sessions,
//! or the HTTP+SSE transport of 2024-11-05. They share the reply helpers
//! and the endpoint's state (permits, quotas, the shutdown signal), and do
//! not call each other.

mod body;
mod container;
mod health;
mod legacy;
mod modern;
mod options;
mod pump;
mod relay;
mod reply;
mod resume;
mod security;
mod serve;
mod service;
mod shared;
mod sse2024;

pub use body::Body;
pub use container::{listen_address, shutdown_signal};
pub use health::{Health, HealthService};
pub use options::HttpOptions;
pub use security::AllowedHosts;
pub use serve::{LIVENESS_PATH, READINESS_PATH, ServeOptions, serve, serve_service, serve_with};
pub use service::StreamableHttp;
