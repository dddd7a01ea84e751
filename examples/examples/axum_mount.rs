//! The MCP endpoint mounted inside an existing axum application, next to
//! the application's own routes.
//!
//! Run with:
//!
//! ```text
//! cargo run --example axum_mount                        # http://127.0.0.1:8001
//! cargo run --example axum_mount -- --bind 127.0.0.1:9001
//! curl http://127.0.0.1:8001/health
//! cargo run --example http_client -- http://127.0.0.1:8001/api/mcp
//! ```
//!
//! `StreamableHttp` is a `tower::Service`, so it mounts with
//! `route_service` at any path, and axum's own middleware (timeouts,
//! tracing, auth layers) can wrap it like any other route. The whole
//! application is served with `serve_service`, the SDK's hardened server.

use axum::Router;
use axum::routing::get;
use mcp_server::Server;
use mcp_server::http::{HttpOptions, ServeOptions, StreamableHttp, serve_service};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let _telemetry = examples::init_logging();
    let mut args = std::env::args().skip(1);
    let mut bind = "127.0.0.1:8001".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bind" => bind = args.next().unwrap_or(bind),
            other => {
                eprintln!("unknown argument {other}; usage: axum_mount [--bind ADDR]");
                std::process::exit(2);
            }
        }
    }
    let mcp = StreamableHttp::new(
        Server::new(examples::demo::router()),
        HttpOptions::default(),
    );
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route_service("/api/mcp", mcp.clone());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    // The URL goes to stdout, so a script that bound port 0 learns it.
    println!("http://{}/api/mcp", listener.local_addr()?);
    // `axum::serve` would do too, without the connection cap and the
    // header and idle timeouts that keep slow clients from holding the
    // server.
    // On Ctrl-C the endpoint ends its open SSE streams, so the drain does
    // not wait for them. With `axum::serve`, hand the same future to
    // `with_graceful_shutdown`.
    let shutdown = mcp.shutdown_on(tokio::signal::ctrl_c());
    serve_service(listener, app, ServeOptions::default(), shutdown).await
}
