//! End-to-end tests: the real client against the real server, over an
//! in-memory duplex in both protocol eras, and over stdio with the example
//! server as a child process; a real OAuth authorization server for the
//! authorization tests; and the resource-server checks of `mcp-auth`
//! against tokens minted in the tests.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

mod auth_client;
mod auth_e2e;
mod auth_flow;
mod auth_provider;
mod auth_tokens;
mod both_eras;
mod bridge;
mod capture;
mod deploy;
mod gateway;
mod health;
mod hostile;
mod http_client;
mod http_sessions;
mod http_status;
mod introspection_secret;
mod isolation;
mod oidc;
mod operations;
mod otlp;
mod rate_limits;
mod raw;
mod redis;
mod secrets;
mod security_events;
mod shared_sessions;
mod stdio;
mod support;
mod telemetry;
