//! Memory a client can make the server hold: SSE events kept for
//! resumption stay under the event store's global cap, and
//! `subscriptions/listen` streams are capped in number and in what each
//! asks for.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{
    PATIENCE, Running, http_from, legacy_post_accepting, legacy_session, modern, served, with_meta,
};

/// The event store's cap over all sessions, set for the test.
const EVENT_STORE_MIB: u64 = 8;
const EVENT_STORE_CAP: u64 = EVENT_STORE_MIB * 1024 * 1024;
/// The size of the note read in every session.
const NOTE: usize = 256 * 1024;

#[tokio::test]
async fn resumable_events_stay_under_the_global_cap() {
    let server = Running::start(
        "http_server",
        &["--max-event-memory", &EVENT_STORE_MIB.to_string()],
        None,
    )
    .await;
    let url = &server.url;
    let http = reqwest::Client::new();
    // One note of a quarter megabyte, read in many sessions: each read's answer
    // is an SSE event the store keeps for resumption.
    let save = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "save_note", "arguments": {"name": "big", "text": "n".repeat(NOTE)}},
    });
    let response = modern(
        &http,
        url,
        "tools/call",
        Some("save_note"),
        with_meta(&save),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("saved"));
    let before = server.rss();
    let read = json!({
        "jsonrpc": "2.0", "id": 2, "method": "resources/read",
        "params": {"uri": "memo://notes/big"},
    })
    .to_string();
    let mut sessions = Vec::new();
    // 3 clients × 40 sessions × 256 KiB: 30 MiB if every event were kept.
    for from in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        let client = http_from(from);
        for _ in 0..40 {
            let session = legacy_session(&client, url, "2025-11-25").await.unwrap();
            let response = legacy_post_accepting(
                &client,
                url,
                &session,
                "2025-11-25",
                "text/event-stream",
                read.clone(),
            )
            .send()
            .await
            .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let stream = response.text().await.unwrap();
            assert!(stream.contains("nnnn"), "the answer came");
            // The priming event's id: resuming after it replays the answer,
            // if the store still has it.
            let prime = stream
                .lines()
                .find_map(|l| l.strip_prefix("id:"))
                .unwrap()
                .trim()
                .to_owned();
            sessions.push((client.clone(), session, prime));
        }
    }
    let grown = server.rss().saturating_sub(before);
    // The store holds at most its cap (counted exactly below); what the
    // allocator keeps besides is bounded too.
    assert!(
        grown < EVENT_STORE_CAP + 64 * 1024 * 1024,
        "the server grew by {} MiB",
        grown / (1024 * 1024)
    );
    // Which answers can still be had: at most as many as fit in the cap,
    // the newest; resuming after the others gets the 400 it always got
    // for events no longer kept.
    let mut kept = Vec::new();
    for (client, session, prime) in &sessions {
        let resumed = client
            .get(url)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", "2025-11-25")
            .header("last-event-id", prime)
            .send()
            .await
            .unwrap();
        match resumed.status() {
            StatusCode::OK => {
                assert!(resumed.text().await.unwrap().contains("nnnn"));
                kept.push(true);
            }
            StatusCode::BAD_REQUEST => kept.push(false),
            other => panic!("resuming got {other}"),
        }
    }
    let fit = usize::try_from(EVENT_STORE_CAP).unwrap() / NOTE;
    let count = kept.iter().filter(|k| **k).count();
    assert!((1..=fit).contains(&count), "{count} answers kept");
    assert!(kept.last().copied().unwrap(), "the newest answer is kept");
    assert!(!kept[0], "the oldest answer went first");
    served(&http, url).await;
}

fn listen(id: u64, uris: usize) -> String {
    let uris: Vec<String> = (0..uris).map(|i| format!("memo://notes/n{i}")).collect();
    with_meta(&json!({
        "jsonrpc": "2.0", "id": id, "method": "subscriptions/listen",
        "params": {"notifications": {"toolsListChanged": true, "resourceSubscriptions": uris}},
    }))
}

/// The JSON-RPC error of a refused `subscriptions/listen`.
async fn refusal(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    body["error"].clone()
}

#[tokio::test]
async fn listen_streams_are_capped_per_client_and_in_what_they_ask() {
    let server = Running::start("http_server", &[], None).await;
    let url = &server.url;
    let mallory = http_from("127.0.0.2");

    // 40,000 URIs in one stream: refused, and nothing was subscribed.
    let response = modern(
        &mallory,
        url,
        "subscriptions/listen",
        None,
        listen(1, 40_000),
    )
    .send()
    .await
    .unwrap();
    let error = refusal(response).await;
    assert_eq!(error["code"], -32602, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("1024"),
        "{error}"
    );

    // Sixteen streams per client; the seventeenth is refused, saying why.
    let mut open = Vec::new();
    for id in 0..16 {
        let response = modern(
            &mallory,
            url,
            "subscriptions/listen",
            None,
            listen(id, 1024),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut stream = response;
        // The acknowledgement: the stream runs.
        let first = tokio::time::timeout(PATIENCE, stream.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&first).contains("acknowledged"));
        open.push(stream);
    }
    let response = modern(&mallory, url, "subscriptions/listen", None, listen(99, 1))
        .send()
        .await
        .unwrap();
    let error = refusal(response).await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("too many subscription streams"),
        "{error}"
    );
    // Another client listens, and is served, all along.
    let alice = http_from("127.0.0.3");
    let response = modern(&alice, url, "subscriptions/listen", None, listen(1, 1))
        .send()
        .await
        .unwrap();
    let mut alice_stream = response;
    let first = tokio::time::timeout(PATIENCE, alice_stream.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("acknowledged"));
    served(&alice, url).await;

    // Closed streams give their place back.
    drop(open);
    let again = tokio::time::timeout(PATIENCE, async {
        loop {
            let response = modern(&mallory, url, "subscriptions/listen", None, listen(100, 1))
                .send()
                .await
                .unwrap();
            let mut stream = response;
            let first = stream.chunk().await.unwrap().unwrap();
            if String::from_utf8_lossy(&first).contains("acknowledged") {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(again.is_ok(), "closed streams kept their places");
}
