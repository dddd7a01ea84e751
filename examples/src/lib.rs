//! Shared pieces of the runnable examples in `examples/examples/`.
//!
//! Run any example from the repository root with `cargo run --example NAME`.

pub mod auth;
pub mod demo;
pub mod ops;
pub mod private_notes;
pub mod telemetry;
pub mod terminal;

/// A short MCP exchange in newline-delimited JSON, as a legacy client and
/// server would write it on stdio, including one malformed line, so
/// examples have something to work on without a peer.
pub const SAMPLE_TRANSCRIPT: &str = include_str!("sample_transcript.ndjson");

pub use telemetry::{Logs, Telemetry, init_logging, init_logging_as};
