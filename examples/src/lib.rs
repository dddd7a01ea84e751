//! Shared pieces of the runnable examples in `examples/examples/`.
//!
//! Run any example from the repository root with `cargo run --example NAME`.

pub mod auth;
pub mod bridge;
pub mod demo;
pub mod terminal;

/// A short MCP exchange in newline-delimited JSON, as a legacy client and
/// server would write it on stdio, including one malformed line, so
/// examples have something to work on without a peer.
pub const SAMPLE_TRANSCRIPT: &str = include_str!("sample_transcript.ndjson");

/// Logs to stderr (stdout belongs to the protocol), at `RUST_LOG` or `info`.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
