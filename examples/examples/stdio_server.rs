//! The demo MCP server over stdio: tools (echo, add, count with progress,
//! greet with elicitation, summarize with sampling, show_roots,
//! save_note), resources with a template, and a prompt.
//!
//! Run with:
//!
//! ```text
//! cargo run --example stdio_server
//! ```
//!
//! It speaks MCP on stdin/stdout and logs to stderr (`RUST_LOG=debug` for
//! more). Try it with `cargo run --example stdio_client -- cargo run -q --example stdio_server`,
//! or with the MCP Inspector:
//! `npx @modelcontextprotocol/inspector --cli --method tools/list -- cargo run -q --example stdio_server`.

use mcp_server::Server;

// One connection, I/O-bound handlers: a single-threaded runtime answers
// fastest (no hand-offs between threads). Use the multi-threaded one when
// handlers compute for long, or move that work to `spawn_blocking`.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), mcp_server::Error> {
    let _telemetry = examples::init_logging();
    tracing::info!("demo server ready on stdio");
    Server::new(examples::demo::router()).serve_stdio().await
}
