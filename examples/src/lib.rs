//! Shared pieces of the runnable examples in `examples/examples/`.
//!
//! Run any example from the repository root with `cargo run --example NAME`.

pub mod auth;
pub mod bridge;
pub mod demo;
pub mod ops;
pub mod private_notes;
pub mod terminal;

/// A short MCP exchange in newline-delimited JSON, as a legacy client and
/// server would write it on stdio, including one malformed line, so
/// examples have something to work on without a peer.
pub const SAMPLE_TRANSCRIPT: &str = include_str!("sample_transcript.ndjson");

/// Logs to stderr (stdout belongs to the protocol), at `RUST_LOG` or
/// `info`; as JSON lines when `LOG_FORMAT=json`.
pub fn init_logging() {
    init_logging_as(std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")));
}

/// Logs to stderr at `RUST_LOG` or `info`: one JSON object per line when
/// `json` (with the fields of the request's span, so that log platforms
/// index the trace id, request id, method, session and principal, and a
/// line as each request ends: an access log), else text.
pub fn init_logging_as(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .try_init()
    } else {
        builder.try_init()
    };
}
