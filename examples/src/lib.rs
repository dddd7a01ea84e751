//! Shared pieces of the runnable examples in `examples/examples/`.
//!
//! Run any example from the repository root with `cargo run --example NAME`.

/// A short MCP exchange in newline-delimited JSON, as a legacy client and
/// server would write it on stdio, including one malformed line, so
/// examples have something to work on without a peer.
pub const SAMPLE_TRANSCRIPT: &str = include_str!("sample_transcript.ndjson");
