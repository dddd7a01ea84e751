//! End-to-end tests: the real client against the real server, over an
//! in-memory duplex in both protocol eras, and over stdio with the example
//! server as a child process; and a real OAuth authorization server for the
//! authorization tests.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

mod auth_e2e;
mod both_eras;
mod http_client;
mod http_sessions;
mod http_status;
mod oidc;
mod raw;
mod stdio;
mod support;
