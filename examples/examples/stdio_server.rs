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

#[tokio::main]
async fn main() -> Result<(), mcp_server::Error> {
    examples::init_logging();
    tracing::info!("demo server ready on stdio");
    Server::new(examples::demo::router()).serve_stdio().await
}
