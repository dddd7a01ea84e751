//! Connects to any MCP server run as a command, shows what it offers, and
//! optionally calls a tool.
//!
//! Run with:
//!
//! ```text
//! cargo run --example stdio_client -- [--call TOOL [--args JSON]] <command> [args…]
//! cargo run --example stdio_client -- cargo run -q --example stdio_server
//! cargo run --example stdio_client -- --call echo --args '{"message":"hi"}' cargo run -q --example stdio_server
//! ```
//!
//! The client answers the server's questions too: elicitation prompts on
//! this terminal, sampling answers with a canned reply (there is no model
//! here), and the current directory is the one root.

use std::process::ExitCode;

use examples::terminal::{self, Args, Host};
use mcp_client::{ChildProcess, Client, ClientOptions};
use mcp_core::Implementation;

async fn run(args: Args) -> Result<(), mcp_client::Error> {
    let (program, rest) = args.rest.split_first().ok_or(mcp_client::Error::Closed)?;
    let process = ChildProcess::new(program).args(rest);
    let options = ClientOptions::new(Implementation::new(
        "mcp-rs-stdio-client",
        env!("CARGO_PKG_VERSION"),
    ));
    let client = Client::spawn(process, options, Host).await?;
    terminal::show_and_call(&client, &args).await?;
    client.close().await
}

#[tokio::main]
async fn main() -> ExitCode {
    terminal::main(
        "usage: stdio_client [--call TOOL [--args JSON]] <command> [args…]",
        run,
    )
    .await
}
