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

/// A client paging through the tools while an upstream is added: the
/// pages after the change hold every tool that was there all along, once,
/// whatever the new upstream's names sort before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_taken_across_a_reload_neither_repeat_nor_skip() {
    let settings = "[gateway]\nprefix = \"always\"\npage_size = 2\n";
    let (gateway, url) = serve(&format!("{settings}{}", stdio_upstream("local"))).await;
    offers(&gateway, &["local__echo"]).await;
    let client = http_client(&url, Era::Modern).await;
    let before: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(before.len() > 4, "{before:?}");

    let first = client.list_tools(None).await.unwrap();
    let mut seen: Vec<String> = first.tools.into_iter().map(|t| t.name).collect();
    // Every name of the new upstream sorts before every name seen so far:
    // with positions for cursors, the next page would repeat them.
    let config = Config::parse(&format!(
        "{settings}{}{}",
        stdio_upstream("local"),
        stdio_upstream("aaa")
    ))
    .unwrap();
    gateway.apply(config);
    offers(&gateway, &["aaa__echo"]).await;
    let mut cursor = first.next_cursor;
    while let Some(c) = cursor {
        let page = client.list_tools(Some(c)).await.unwrap();
        seen.extend(page.tools.into_iter().map(|t| t.name));
        cursor = page.next_cursor;
    }
    assert_eq!(seen, before, "each tool of the old list once, in order");
}
