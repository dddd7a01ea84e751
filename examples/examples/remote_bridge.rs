//! A remote, OAuth-protected Streamable HTTP MCP server as a local stdio
//! server, for hosts that can only launch commands: `mcp-gateway bridge`
//! (the `mcp-gateway` crate holds the logic), with the examples' logging
//! and OpenTelemetry export.
//!
//! ```text
//! cargo run --example remote_bridge -- https://host/mcp [--header K:V]... \
//!     [--client-id ID [--client-secret S]] [--scope S] [--token-dir DIR] [--no-browser]
//! ```
//!
//! The first run signs in through the browser (the URL is also printed to
//! stderr); later runs reuse or refresh the tokens kept in `--token-dir`.
//! Stdout is the protocol channel: everything else goes to stderr. Hosts
//! run the installed binary instead: `cargo install --path mcp-gateway`,
//! then `mcp-gateway bridge URL`.

use std::process::ExitCode;

use mcp_gateway::bridge::Bridge;

const USAGE: &str = "usage: remote_bridge URL [--header K:V]... [--client-id ID [--client-secret S]] \
                     [--scope S] [--token-dir DIR] [--no-browser]";

#[tokio::main]
async fn main() -> ExitCode {
    let _telemetry = examples::init_logging();
    Bridge::command(std::env::args().skip(1), USAGE).await
}
