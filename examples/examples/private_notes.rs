//! A server whose notes belong to their callers, behind API keys read from
//! a file that may be rotated while it runs.
//!
//! Run with:
//!
//! ```text
//! printf '%s:ada:\n%s:bob:\n' "$(printf %s ada-key-0123456789abcdef | sha256sum | cut -d' ' -f1)" \
//!     "$(printf %s bob-key-0123456789abcdef | sha256sum | cut -d' ' -f1)" > /tmp/api-keys
//! cargo run --example private_notes -- --api-keys /tmp/api-keys   # http://127.0.0.1:8002/mcp
//! ```
//!
//! Each caller (an API key's owner) sees and changes only their own notes,
//! through every tool, the `notes://{id}` resources and their completion
//! (`examples/src/private_notes.rs`). The key file (`HASH:SUBJECT:SCOPES`
//! per line) is read again every 10 s: edit it and the keys change without
//! a restart.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mcp_auth::{ApiKeys, AuthLayer, ProtectedResourceMetadata};
use mcp_server::Server;
use mcp_server::http::{HttpOptions, ServeOptions, StreamableHttp, serve_service};
use mcp_server::secrets::{FileSecrets, Secrets};

const USAGE: &str = "usage: private_notes --api-keys FILE [--bind ADDR]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _telemetry = examples::init_logging();
    let mut args = std::env::args().skip(1);
    let (mut bind, mut keys_file) = ("127.0.0.1:8002".to_owned(), None);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--bind", Some(value)) => bind = value,
            ("--api-keys", Some(value)) => keys_file = Some(value),
            _ => return Err(USAGE.into()),
        }
    }
    let keys_file = keys_file.ok_or(USAGE)?;
    let path = Path::new(&keys_file);
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Err(format!("{keys_file}: not a file path").into());
    };
    let secrets = Secrets::new().with(FileSecrets::new(dir));
    let keys = Arc::new(ApiKeys::new());
    let loaded = keys.load(secrets.require(name).await?.expose())?;
    tracing::info!(keys = loaded, "API keys loaded");
    let _watch = secrets
        .watch(name, Duration::from_secs(10), {
            let keys = Arc::clone(&keys);
            move |secret| match keys.load(secret.expose()) {
                Ok(n) => tracing::info!(keys = n, "API keys reloaded"),
                Err(e) => tracing::error!(error = %e, "API keys not reloaded; the old ones stay"),
            }
        })
        .await?;

    let listener = tokio::net::TcpListener::bind(&bind).await?;
    let url = format!("http://{}/mcp", listener.local_addr()?);
    let metadata = ProtectedResourceMetadata::without_authorization_servers(url.clone());
    let endpoint = StreamableHttp::new(
        Server::new(examples::private_notes::router()),
        HttpOptions::default(),
    );
    let [suffixed, root] = metadata.well_known_paths();
    let app = axum::Router::new()
        .route_service(
            "/mcp",
            endpoint.clone().layer(AuthLayer::new(keys, &metadata)),
        )
        .route_service(&suffixed, metadata.service())
        .route_service(&root, metadata.service());
    let app = examples::ops::with_ops_routes(app, &endpoint.health());
    // The URL goes to stdout, so a script that bound port 0 learns it.
    println!("{url}");
    let shutdown = endpoint.shutdown_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    serve_service(listener, app, ServeOptions::default(), shutdown).await?;
    Ok(())
}
