//! Connects to any MCP server over Streamable HTTP (either era), shows what
//! it offers, and optionally calls a tool.
//!
//! Run with (the `http_server` example listening in another terminal):
//!
//! ```text
//! cargo run --example http_client -- [--call TOOL [--args JSON]] <url>
//! cargo run --example http_client -- http://127.0.0.1:8000/mcp
//! cargo run --example http_client -- --call echo --args '{"message":"hi"}' http://127.0.0.1:8000/mcp
//! ```
//!
//! Set `MCP_AUTHORIZATION` to send an `Authorization` header (an API key, a
//! bearer token). The client answers the server's questions as
//! `stdio_client` does.

use std::process::ExitCode;

use examples::terminal::{self, Args, Host};
use mcp_client::{Client, ClientOptions, HttpOptions};
use mcp_core::Implementation;

async fn run(args: Args) -> Result<(), mcp_client::Error> {
    let url = args.rest.first().ok_or(mcp_client::Error::Closed)?;
    let mut http = HttpOptions::default();
    if let Ok(value) = std::env::var("MCP_AUTHORIZATION") {
        http = http.with_header("authorization", &value)?;
    }
    let options = ClientOptions::new(Implementation::new(
        "mcp-rs-http-client",
        env!("CARGO_PKG_VERSION"),
    ));
    let client = Client::connect_http(url, options, http, Host).await?;
    terminal::show_and_call(&client, &args).await?;
    client.close().await
}

#[tokio::main]
async fn main() -> ExitCode {
    terminal::main("usage: http_client [--call TOOL [--args JSON]] <url>", run).await
}
