//! `mcp-gateway` in front of real servers: the demo server as a child
//! process over stdio, and an in-process Streamable HTTP server reached in
//! either era; clients of both eras through the gateway's own HTTP
//! application.

mod exchange;
mod federation;
mod limits;
mod peers;
mod policy;
mod pool;
mod reload;
mod resilience;
mod subscriptions;
mod trace;

use std::time::Duration;

use mcp_gateway::{Config, Gateway};
use mcp_server::Handler;
use mcp_server::http::{ServeOptions, serve_service};

/// A bound on each wait, so a wedged gateway fails the test. Nothing waits
/// for it to pass.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// The demo server over stdio, as an upstream's `command`.
pub(crate) fn stdio_upstream(name: &str) -> String {
    format!(
        "[[upstream]]\nname = \"{name}\"\ncommand = \"{}\"\n",
        crate::stdio::example("stdio_server").display()
    )
}

/// The Streamable HTTP server at `url`, as an upstream offered only
/// `versions` (all when empty).
pub(crate) fn http_upstream(name: &str, url: &str, versions: &[&str]) -> String {
    let versions: Vec<String> = versions.iter().map(|v| format!("{v:?}")).collect();
    format!(
        "[[upstream]]\nname = \"{name}\"\nurl = \"{url}\"\nversions = [{}]\n",
        versions.join(", ")
    )
}

/// A gateway for `config`, served by its HTTP application on a free
/// loopback port; its endpoint URL.
pub(crate) async fn serve(config: &str) -> (Gateway, String) {
    let config = Config::parse(config).unwrap();
    let gateway = Gateway::new(config.clone(), mcp_gateway::secrets(&config));
    let (app, _endpoint) = mcp_gateway::app(&gateway, &config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}{}",
        listener.local_addr().unwrap(),
        config.listen.path
    );
    tokio::spawn(serve_service(
        listener,
        app,
        ServeOptions::default(),
        std::future::pending(),
    ));
    (gateway, url)
}

/// Waits until the gateway offers every tool in `names` (its upstreams
/// connected and listed), woken by its list-change events.
pub(crate) async fn offers(gateway: &Gateway, names: &[&str]) {
    let mut events = gateway.events().unwrap();
    tokio::time::timeout(PATIENCE, async {
        while !names.iter().all(|n| gateway.tool(n).is_some()) {
            let _ = events.recv().await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "the gateway never offered {names:?}: {:?}",
            gateway.status()
        )
    });
}
