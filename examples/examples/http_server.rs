//! The demo MCP server (the one `stdio_server` runs) over Streamable HTTP.
//!
//! Run with:
//!
//! ```text
//! cargo run --example http_server                       # http://127.0.0.1:8000/mcp
//! cargo run --example http_server -- --bind 127.0.0.1:9000
//! ```
//!
//! It answers 2026-07-28 clients statelessly and legacy clients with
//! sessions, on the same endpoint. Only loopback `Host`/`Origin` values are
//! accepted (DNS-rebinding protection). Inspect it with
//! `npx @modelcontextprotocol/inspector --cli http://127.0.0.1:8000/mcp --method tools/list`.

use mcp_server::Server;
use mcp_server::http::{HttpOptions, StreamableHttp, serve};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    examples::init_logging();
    let mut args = std::env::args().skip(1);
    let mut bind = "127.0.0.1:8000".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bind" => bind = args.next().unwrap_or(bind),
            other => {
                eprintln!("unknown argument {other}; usage: http_server [--bind ADDR]");
                std::process::exit(2);
            }
        }
    }
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    // The URL goes to stdout, so a script that bound port 0 learns it.
    println!("http://{}/mcp", listener.local_addr()?);
    let endpoint = StreamableHttp::new(
        Server::new(examples::demo::router()),
        HttpOptions::default(),
    );
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    serve(listener, "/mcp", endpoint, shutdown).await
}
