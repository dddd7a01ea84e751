//! One client cannot take what all clients share: legacy sessions and
//! requests in flight are counted per client (here, per address), and a
//! client at its quota is told so with 429 and `Retry-After` while the
//! others are served.

use reqwest::StatusCode;
use serde_json::json;

use super::{PATIENCE, Running, http_from, legacy_session, modern, served, with_meta};

#[tokio::test]
async fn one_client_cannot_take_every_session() {
    let server = Running::start("http_server", &[], None).await;
    let url = &server.url;
    let mallory = http_from("127.0.0.2");
    let mut sessions = Vec::new();
    for _ in 0..100 {
        sessions.push(legacy_session(&mallory, url, "2025-11-25").await.unwrap());
    }
    let (status, headers, body) = legacy_session(&mallory, url, "2025-11-25")
        .await
        .unwrap_err();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(headers.contains_key("retry-after"));
    assert!(body.contains("too many sessions"), "{body}");
    // Everyone else still starts sessions.
    let alice = http_from("127.0.0.3");
    legacy_session(&alice, url, "2025-11-25").await.unwrap();
    served(&alice, url).await;
    // Ending a session gives its place back.
    let ended = mallory
        .delete(url)
        .header("mcp-session-id", &sessions[0])
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::OK);
    legacy_session(&mallory, url, "2025-11-25").await.unwrap();
}

/// A call of `count` that runs for 100 s, reporting progress each second
/// (so that its answer starts, as a stream, after the first second).
fn slow_count(id: u64) -> String {
    let mut call: serde_json::Value = serde_json::from_str(&with_meta(&json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "count", "arguments": {"to": 100, "delay_ms": 1000}},
    })))
    .unwrap();
    call["params"]["_meta"]["progressToken"] = json!(format!("p{id}"));
    call.to_string()
}

#[tokio::test]
async fn one_client_cannot_take_every_request_slot() {
    let server = Running::start("http_server", &[], None).await;
    let url = &server.url;
    let mallory = http_from("127.0.0.2");
    // Sixteen slow calls run; each answers with a stream at its first
    // progress notification, so each is in flight once its headers came.
    let mut running = Vec::new();
    for id in 0..16 {
        let response = tokio::time::timeout(
            PATIENCE,
            modern(&mallory, url, "tools/call", Some("count"), slow_count(id)).send(),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        running.push(response);
    }
    let refused = modern(&mallory, url, "tools/call", Some("count"), slow_count(99))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let body = refused.text().await.unwrap();
    assert!(body.contains("this client has 16 in flight"), "{body}");
    // Another client is served at once.
    served(&http_from("127.0.0.3"), url).await;
    // Dropping the streams cancels the calls, which gives the slots back.
    drop(running);
    let back = tokio::time::timeout(PATIENCE, async {
        loop {
            let (status, _, _) = super::echo(&mallory, url, "me again").await;
            if status == StatusCode::OK {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(back.is_ok(), "cancelled calls kept their slots");
}
