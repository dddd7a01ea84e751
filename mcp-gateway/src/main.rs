//! `mcp-gateway`: one MCP endpoint in front of other MCP servers.
//!
//! ```text
//! mcp-gateway bridge URL [--header K:V]... [--client-id ID [--client-secret S]] \
//!     [--scope S] [--token-dir DIR] [--no-browser]
//! ```
//!
//! Logs go to stderr (`RUST_LOG` filters them); stdout is the protocol.

use std::process::ExitCode;

const USAGE: &str = "usage: mcp-gateway bridge URL [--header K:V]... \
                     [--client-id ID [--client-secret S]] [--scope S] [--token-dir DIR] [--no-browser]";

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("bridge") => {}
        Some("--version") => {
            println!("mcp-gateway {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some("--help" | "-h") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    mcp_gateway::bridge::Bridge::command(args, USAGE).await
}
