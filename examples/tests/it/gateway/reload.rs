//! Hot reload: a new upstream is added while clients are connected; they
//! hear that the tools changed and can call the new ones, on the same
//! session, while the upstream that stayed keeps its connection.

use mcp_client::ServerNotification;
use mcp_core::Era;
use mcp_core::subscriptions::SubscriptionFilter;
use mcp_gateway::Config;
use serde_json::json;
use tokio_stream::StreamExt;

use super::{PATIENCE, offers, serve, stdio_upstream};
use crate::support::{args, http_client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_added_upstream_is_announced_and_callable() {
    let (gateway, url) = serve(&stdio_upstream("local")).await;
    // One upstream: no prefixes.
    offers(&gateway, &["echo"]).await;
    let legacy = http_client(&url, Era::Legacy).await;
    let modern = http_client(&url, Era::Modern).await;
    let mut legacy_notes = legacy.notifications();
    let mut modern_notes = modern.notifications();
    let _listening = modern
        .listen(SubscriptionFilter::default().with_tools_list_changed(true))
        .await
        .unwrap();
    // The legacy client's GET stream is open once a request went through.
    legacy.list_all_tools().await.unwrap();

    let config = Config::parse(&format!(
        "{}{}",
        stdio_upstream("local"),
        stdio_upstream("extra")
    ))
    .unwrap();
    gateway.apply(config);
    for notes in [&mut legacy_notes, &mut modern_notes] {
        tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(ServerNotification::ToolListChanged) = notes.next().await {
                    break;
                }
            }
        })
        .await
        .unwrap();
    }
    offers(&gateway, &["local__echo", "extra__echo"]).await;
    for client in [&legacy, &modern] {
        let tools = client.list_all_tools().await.unwrap();
        assert!(tools.iter().any(|t| t.name == "extra__echo"), "{tools:?}");
        let r = client
            .call_tool("extra__echo", args(json!({"message": "new"})))
            .await
            .unwrap();
        assert_eq!(r.text().unwrap(), "new");
    }
    // The upstream that stayed was not restarted.
    let status = gateway.status();
    assert_eq!(status[0].name, "local");
    assert_eq!(status[0].connects, 1, "{status:?}");
}
