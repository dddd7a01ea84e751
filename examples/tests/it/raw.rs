//! The server against hand-written bytes: malformed input gets the right
//! error and the server keeps serving; and the client against a fake
//! server that misbehaves.

use std::time::Duration;

use bytes::Bytes;
use mcp_client::{Client, Error};
use mcp_core::transport::{FrameRead, FrameWrite};
use mcp_core::{Era, ErrorCode, Message};
use mcp_server::Server;
use serde_json::{Value, json};

use crate::support::{options, pipe, test_router};

const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;

async fn send(w: &mut impl FrameWrite, line: &str) {
    w.write_frame(Bytes::from(line.to_owned())).await.unwrap();
}

async fn recv(r: &mut impl FrameRead) -> Value {
    let frame = tokio::time::timeout(Duration::from_secs(5), r.read_frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    serde_json::from_slice(&frame).unwrap()
}

#[tokio::test]
async fn the_server_answers_bad_input_and_keeps_serving() {
    let (router, _) = test_router();
    let ((sr, sw), (mut r, mut w)) = pipe();
    tokio::spawn(async move { Server::new(router).serve(sr, sw).await });
    let cases: &[(&str, Value)] = &[
        ("{not json", json!({"code": -32700, "id": null})),
        (
            r#"{"jsonrpc":"1.0","id":1,"method":"tools/list"}"#,
            json!({"code": -32600, "id": 1}),
        ),
        (
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":["echo"]}"#,
            json!({"code": -32600, "id": 2}),
        ),
        (
            &format!(
                r#"{{"jsonrpc":"2.0","id":3,"method":"tools/frobnicate","params":{{{META}}}}}"#
            ),
            json!({"code": -32601, "id": 3}),
        ),
        (
            &format!(
                r#"{{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{{{META},"name":5}}}}"#
            ),
            json!({"code": -32602, "id": 4}),
        ),
        (
            r#"{"jsonrpc":"2.0","id":5,"method":"tools/list","params":{}}"#,
            json!({"code": -32602, "id": 5}),
        ),
        (
            r#"{"jsonrpc":"2.0","id":6,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"1900-01-01","io.modelcontextprotocol/clientCapabilities":{}}}}"#,
            json!({"code": -32022, "id": 6}),
        ),
        (
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
            json!({"code": -32602, "id": 7}),
        ),
        (
            &format!(r#"{{"jsonrpc":"2.0","id":8,"method":"initialize","params":{{{META}}}}}"#),
            json!({"code": -32602, "id": 8}),
        ),
        (
            &format!(r#"{{"jsonrpc":"2.0","id":9,"method":"ping","params":{{{META}}}}}"#),
            json!({"id": 9}),
        ),
    ];
    for (line, want) in cases {
        send(&mut w, line).await;
        let got = recv(&mut r).await;
        assert_eq!(got["id"], want["id"], "{line} -> {got}");
        if let Some(code) = want.get("code") {
            assert_eq!(&got["error"]["code"], code, "{line} -> {got}");
            assert!(
                got["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
        } else {
            assert_eq!(got["result"]["resultType"], "complete", "{got}");
        }
    }
    // The -32022 answer lists the supported versions.
    send(&mut w, r#"{"jsonrpc":"2.0","id":10,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01","io.modelcontextprotocol/clientCapabilities":{}}}}"#).await;
    let got = recv(&mut r).await;
    assert_eq!(got["error"]["data"]["supported"][0], "2026-07-28");
    assert_eq!(got["error"]["data"]["requested"], "2099-01-01");
    // Notifications and stray responses get no answer; the next request works.
    send(
        &mut w,
        r#"{"jsonrpc":"2.0","method":"notifications/whatever"}"#,
    )
    .await;
    send(&mut w, r#"{"jsonrpc":"2.0","id":99,"result":{}}"#).await;
    send(&mut w, &format!(r#"{{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{{{META},"name":"echo","arguments":{{"message":"alive"}}}}}}"#)).await;
    let got = recv(&mut r).await;
    assert_eq!(got["id"], 11);
    assert_eq!(got["result"]["content"][0]["text"], "alive");
    assert_eq!(got["result"]["resultType"], "complete");
    assert_eq!(
        got["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "mcp-rs-demo"
    );
}

#[tokio::test]
async fn legacy_sessions_follow_the_handshake() {
    let (router, _) = test_router();
    let ((sr, sw), (mut r, mut w)) = pipe();
    tokio::spawn(async move { Server::new(router).serve(sr, sw).await });
    // Before initialize: only ping.
    send(&mut w, r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).await;
    assert_eq!(recv(&mut r).await["error"]["code"], -32602);
    send(&mut w, r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#).await;
    assert_eq!(recv(&mut r).await["result"], json!({}));
    // An unknown version is answered with the newest legacy one.
    send(&mut w, r#"{"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"2024-01-01","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#).await;
    let init = recv(&mut r).await;
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
    assert!(
        init["result"].get("resultType").is_none(),
        "legacy results carry no resultType"
    );
    send(&mut w, r#"{"jsonrpc":"2.0","id":4,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#).await;
    assert_eq!(recv(&mut r).await["error"]["code"], -32600);
    send(
        &mut w,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    )
    .await;
    send(&mut w, r#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#).await;
    let list = recv(&mut r).await;
    assert!(
        list["result"]["tools"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(list["result"].get("ttlMs").is_none());
    // Modern-only methods are not there for a legacy request.
    send(
        &mut w,
        r#"{"jsonrpc":"2.0","id":6,"method":"subscriptions/listen","params":{"notifications":{}}}"#,
    )
    .await;
    assert_eq!(recv(&mut r).await["error"]["code"], -32601);
}

#[tokio::test]
async fn batches_are_served_on_2025_03_26_only() {
    let (router, _) = test_router();
    let ((sr, sw), (mut r, mut w)) = pipe();
    tokio::spawn(async move { Server::new(router).serve(sr, sw).await });
    let batch =
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]"#;
    send(&mut w, batch).await;
    assert_eq!(recv(&mut r).await["error"]["code"], -32600);
    send(&mut w, r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#).await;
    assert_eq!(
        recv(&mut r).await["result"]["protocolVersion"],
        "2025-03-26"
    );
    send(
        &mut w,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    )
    .await;
    send(&mut w, r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"b"}}},{"bad":true}]"#).await;
    let replies = recv(&mut r).await;
    let replies = replies.as_array().unwrap();
    assert_eq!(replies.len(), 3, "{replies:?}");
    assert!(
        replies
            .iter()
            .any(|m| m["id"] == 1 && m["result"] == json!({}))
    );
    assert!(
        replies
            .iter()
            .any(|m| m["id"] == 2 && m["result"]["content"][0]["text"] == "b")
    );
    assert!(replies.iter().any(|m| m["error"]["code"] == -32600));
}

/// A fake server: answers the probe as a modern server, then misbehaves.
#[tokio::test]
async fn the_client_reports_a_misbehaving_server_and_keeps_working() {
    let ((mut sr, mut sw), (cr, cw)) = pipe();
    let server = tokio::spawn(async move {
        while let Some(Ok(frame)) = sr.read_frame().await {
            let Ok(Message::Request(req)) = Message::from_slice(&frame) else {
                continue;
            };
            let id = serde_json::to_string(&req.id).unwrap();
            let reply = match req.method.as_str() {
                "server/discover" => format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"result":{{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{{"tools":{{}}}},"ttlMs":0,"cacheScope":"private"}}}}"#
                ),
                // A result that does not fit.
                "tools/list" => {
                    format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tools":"nope"}}}}"#)
                }
                // Garbage first, then a proper answer.
                _ => {
                    sw.write_frame(Bytes::from_static(b"{garbage"))
                        .await
                        .unwrap();
                    format!(
                        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"resultType":"complete","content":[{{"type":"text","text":"ok"}}]}}}}"#
                    )
                }
            };
            sw.write_frame(Bytes::from(reply)).await.unwrap();
        }
    });
    let client = Client::connect(cr, cw, options(Era::Modern), mcp_client::NoHandler)
        .await
        .unwrap();
    let Err(Error::InvalidResult { method, .. }) = client.list_tools(None).await else {
        panic!()
    };
    assert_eq!(method, "tools/list");
    let r = client.call_tool("anything", ()).await.unwrap();
    assert_eq!(r.content[0].as_text(), Some("ok"));
    drop(client);
    server.await.unwrap();
}

/// Against a server that never answers the probe, the client falls back
/// to `initialize` once the probe times out.
#[tokio::test]
async fn a_silent_probe_means_legacy() {
    let ((mut sr, mut sw), (cr, cw)) = pipe();
    tokio::spawn(async move {
        while let Some(Ok(frame)) = sr.read_frame().await {
            let Ok(Message::Request(req)) = Message::from_slice(&frame) else {
                continue;
            };
            if req.method == "initialize" {
                let id = serde_json::to_string(&req.id).unwrap();
                let reply = format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"result":{{"protocolVersion":"2025-06-18","capabilities":{{}},"serverInfo":{{"name":"old","version":"1"}}}}}}"#
                );
                sw.write_frame(Bytes::from(reply)).await.unwrap();
            }
        }
    });
    let mut opts = options(Era::Modern);
    opts.probe_timeout = Duration::from_millis(200);
    let client = Client::connect(cr, cw, opts, mcp_client::NoHandler)
        .await
        .unwrap();
    assert_eq!(client.server().era, Era::Legacy);
    assert_eq!(client.protocol_version(), "2025-06-18");
    let _ = ErrorCode::PARSE_ERROR;
}

#[tokio::test]
async fn a_duplicate_request_id_in_flight_is_refused() {
    let (router, mut signals) = test_router();
    let ((sr, sw), (mut r, mut w)) = pipe();
    tokio::spawn(async move { Server::new(router).serve(sr, sw).await });
    let block = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{{META},"name":"block"}}}}"#
    );
    send(&mut w, &block).await;
    assert_eq!(signals.recv().await, Some("started"));
    send(&mut w, &block).await;
    let got = recv(&mut r).await;
    assert_eq!(
        (got["id"].clone(), got["error"]["code"].clone()),
        (json!(1), json!(-32600))
    );
    // Cancelling the first drops its handler; no response comes for it.
    send(
        &mut w,
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}"#,
    )
    .await;
    assert_eq!(signals.recv().await, Some("dropped"));
    send(&mut w, &format!(r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{{META},"name":"echo","arguments":{{"message":"next"}}}}}}"#)).await;
    assert_eq!(recv(&mut r).await["id"], 2);
}
