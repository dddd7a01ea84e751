//! End-to-end tests: the real client against the real server, over an
//! in-memory duplex in both protocol eras, and over stdio with the example
//! server as a child process.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

mod both_eras;
mod http_client;
mod http_sessions;
mod http_status;
mod raw;
mod stdio;
mod support;
