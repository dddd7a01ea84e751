//! One MCP endpoint in front of other MCP servers.
//!
//! Today this crate holds the gateway's simplest case, the **bridge**: one
//! remote Streamable HTTP server (OAuth-protected or not, either protocol
//! era) served to a local host as a stdio server, for hosts that only
//! launch commands. The binary runs it as `mcp-gateway bridge URL`:
//!
//! ```json
//! {"mcpServers": {"notes": {"command": "mcp-gateway", "args": ["bridge", "https://mcp.example.com/mcp"]}}}
//! ```
//!
//! The same from Rust:
//!
//! ```no_run
//! # async fn run() -> Result<(), mcp_gateway::Error> {
//! use mcp_gateway::bridge::Bridge;
//!
//! let mut bridge = Bridge::new("https://mcp.example.com/mcp");
//! bridge.scope = Some("mcp:read".to_owned());
//! bridge.run().await
//! # }
//! ```
//!
//! Dependencies: `mcp-client` (the upstream connection, Streamable HTTP
//! with its fallbacks), `mcp-auth` (discovery, registration, PKCE, token
//! storage), `mcp-core` (messages and stdio framing), `tokio`, `tracing`
//! and `tracing-subscriber` (the binary's logs, on stderr), `thiserror`
//! (the error type), `bytes` and `serde_json` (frames, kept registrations).

pub mod bridge;
mod error;

pub use error::Error;
