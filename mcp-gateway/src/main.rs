//! `mcp-gateway`: one MCP endpoint in front of other MCP servers.
//!
//! ```text
//! mcp-gateway serve CONFIG.toml     # Streamable HTTP; prints the endpoint's URL
//! mcp-gateway stdio CONFIG.toml     # stdio, for a host that launches commands
//! mcp-gateway check CONFIG.toml     # validate the file and exit
//! mcp-gateway probe [URL]           # exit status 0 when ready (default: /readyz on $PORT)
//! mcp-gateway bridge URL [--header K:V]... [--client-id ID [--client-secret S]] \
//!     [--scope S] [--token-dir DIR] [--no-browser]
//! ```
//!
//! Logs go to stderr (`RUST_LOG` filters them; `LOG_FORMAT=json` for JSON
//! lines); over stdio, stdout is the protocol.

use std::process::ExitCode;

const USAGE: &str = "usage: mcp-gateway serve CONFIG | stdio CONFIG | check CONFIG | probe [URL]\n       \
                     mcp-gateway bridge URL [--header K:V]... \
                     [--client-id ID [--client-secret S]] [--scope S] [--token-dir DIR] [--no-browser]";

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let run = match command.as_deref() {
        Some("bridge") => return mcp_gateway::bridge::Bridge::command(args, USAGE).await,
        Some("probe") => {
            let url = args.next();
            return if mcp_gateway::probe(url.as_deref()).await {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
        Some("--version") => {
            println!("mcp-gateway {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some("--help" | "-h") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(command @ ("serve" | "stdio" | "check")) => command,
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (Some(path), None) = (args.next(), args.next()) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let path = std::path::PathBuf::from(path);
    let outcome = match run {
        "check" => mcp_gateway::Config::load(&path).map(|c| {
            println!(
                "{}: {} upstream(s), {} rule(s)",
                path.display(),
                c.upstreams.len(),
                c.rules.len()
            );
        }),
        "stdio" => mcp_gateway::run_stdio(path).await,
        _ => mcp_gateway::run_http(path).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ mcp_gateway::Error::Config(_)) => {
            eprintln!("mcp-gateway: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("mcp-gateway: {e}");
            ExitCode::FAILURE
        }
    }
}
