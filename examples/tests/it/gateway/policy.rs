//! Policy: two callers with different scopes see different tools and are
//! refused outside them; the caller's key never reaches an upstream.

use std::sync::{Arc, Mutex};

use mcp_client::{Client, HttpOptions};
use mcp_core::Era;
use mcp_gateway::Config;
use mcp_server::Server;
use mcp_server::http::StreamableHttp;
use serde_json::json;

use super::{offers, serve, stdio_upstream};
use crate::support::{Host, args, options, test_router};

const ALICE: &str = "alice-key-0123456789abcdef0123456789abcdef";
const BOB: &str = "bob-key-0123456789abcdef0123456789abcdef012";

async fn client(url: &str, key: &str, era: Era) -> Client {
    let http = HttpOptions::default()
        .with_header("authorization", &format!("Bearer {key}"))
        .unwrap();
    Client::connect_http(url, options(era), http, Host::default())
        .await
        .unwrap()
}

/// A 2026-07-28 `tools/call` of `name` with `arguments`, as request `id`.
fn call_body(id: u64, name: &str, arguments: &serde_json::Value) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
        },
        "name": name,
        "arguments": arguments,
    }})
}

/// `body` POSTed by hand as `key`, its `Mcp-Name` header saying `name`.
fn raw_call(url: &str, key: &str, name: &str, body: &serde_json::Value) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(url)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", name)
        .body(body.to_string())
}

fn names(tools: &[mcp_core::Tool]) -> Vec<String> {
    tools.iter().map(|t| t.name.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_see_and_use_only_what_they_may() {
    // The HTTP upstream records every header and body it receives.
    let seen = Arc::new(Mutex::new(String::new()));
    let record = Arc::clone(&seen);
    let (router, _signals) = test_router();
    // A tool whose argument is mirrored into a header.
    router.add_tool(
        mcp_server::tool(
            "regional",
            "Runs in a region",
            |_: mcp_server::RequestContext, args: mcp_core::JsonObject| async move {
                Ok::<_, mcp_server::Error>(format!("{:?}", args.get("region")))
            },
        )
        .map_tool(|mut t| {
            t.input_schema = serde_json::from_value(json!({"type": "object", "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"}
            }}))
            .unwrap();
            t
        }),
    );
    let endpoint = StreamableHttp::new(Server::new(router), Default::default());
    let captured =
        axum::Router::new()
            .route_service("/mcp", endpoint)
            .layer(axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| {
                    let record = Arc::clone(&record);
                    async move {
                        let (parts, body) = request.into_parts();
                        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
                        let mut text = String::new();
                        for (name, value) in &parts.headers {
                            text.push_str(&format!("{name}: {value:?}\n"));
                        }
                        text.push_str(&String::from_utf8_lossy(&bytes));
                        record.lock().unwrap().push_str(&text);
                        next.run(axum::extract::Request::from_parts(parts, bytes.into()))
                            .await
                    }
                },
            ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(mcp_server::http::serve_service(
        listener,
        captured,
        Default::default(),
        std::future::pending(),
    ));

    let hash = |key: &str| mcp_auth::ApiKeys::hash(key);
    let config = format!(
        r#"
[auth]
resource = "http://127.0.0.1/mcp"
api_keys = [
    {{ sha256 = "{}", subject = "alice", scopes = ["tools:admin"] }},
    {{ sha256 = "{}", subject = "bob", scopes = [] }},
]

{}
[[upstream]]
name = "http"
url = "{upstream_url}"

[[rule]]
effect = "allow"
tool = "add"
scopes = ["tools:admin"]

[[rule]]
effect = "deny"
tool = "add"

[[rule]]
effect = "deny"
upstream = "http"
subjects = ["bob"]
"#,
        hash(ALICE),
        hash(BOB),
        stdio_upstream("local"),
    );
    let (gateway, url) = serve(&config).await;
    offers(&gateway, &["local__echo", "http__echo"]).await;

    for era in [Era::Modern, Era::Legacy] {
        let alice = client(&url, ALICE, era).await;
        let bob = client(&url, BOB, era).await;
        let alices = names(&alice.list_all_tools().await.unwrap());
        let bobs = names(&bob.list_all_tools().await.unwrap());
        assert!(alices.contains(&"local__add".to_owned()), "{alices:?}");
        assert!(alices.contains(&"http__add".to_owned()), "{alices:?}");
        assert!(!bobs.contains(&"local__add".to_owned()), "{bobs:?}");
        assert!(bobs.iter().all(|n| !n.starts_with("http__")), "{bobs:?}");
        assert!(bobs.contains(&"local__echo".to_owned()), "{bobs:?}");

        let sum = alice
            .call_tool("local__add", args(json!({"a": 1, "b": 2})))
            .await
            .unwrap();
        assert_eq!(sum.structured_content.unwrap()["sum"], 3.0);
        // Refused as if it did not exist: the same error as a made-up name.
        for name in ["local__add", "http__echo", "nope__echo"] {
            let e = bob
                .call_tool(name, args(json!({"a": 1, "b": 2, "message": "x"})))
                .await
                .unwrap_err();
            assert!(
                e.to_string().contains(&format!("Unknown tool: {name}")),
                "{name}: {e}"
            );
        }
        let _ = alice
            .call_tool("http__echo", args(json!({"message": "through"})))
            .await
            .unwrap();
        // Dot segments, plain or encoded, never reach a rule or an upstream.
        for uri in [
            "local+memo://readme/../x",
            "local+memo://a/%2E%2E/readme",
            "memo://./readme",
        ] {
            let e = alice.read_resource(uri).await.unwrap_err();
            assert!(e.to_string().contains("dot segments"), "{uri}: {e}");
        }
        let _ = alice.close().await;
        let _ = bob.close().await;
    }

    // A tool hidden from a caller is unknown to it, headers or not: no
    // header check says it exists (a caller who may use it gets one).
    let call = |key: &str, name: &str| {
        raw_call(
            &url,
            key,
            name,
            &call_body(3, name, &json!({"region": "eu"})),
        )
        .send()
    };
    let mut answers = Vec::new();
    for name in ["http__regional", "http__made_up"] {
        let response = call(BOB, name).await.unwrap();
        let status = response.status();
        let body: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        answers.push((status, body["error"]["code"].clone()));
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(&format!("Unknown tool: {name}"))),
            "{body}"
        );
    }
    assert_eq!(answers[0], answers[1]);
    let response = call(ALICE, "http__regional").await.unwrap();
    assert_eq!(response.status(), 400, "the header check applies to alice");

    // Refusals can say so instead.
    let mut changed = Config::parse(&config).unwrap();
    changed.policy.refuse = mcp_gateway::config::Refusal::Forbidden;
    gateway.apply(changed);
    for era in [Era::Modern, Era::Legacy] {
        let bob = client(&url, BOB, era).await;
        let alice = client(&url, ALICE, era).await;
        for name in ["local__add", "http__echo"] {
            let e = bob
                .call_tool(name, args(json!({"a": 1, "b": 2, "message": "x"})))
                .await
                .unwrap_err();
            match e {
                mcp_client::Error::Remote(error) => {
                    assert_eq!(error.code(), mcp_gateway::FORBIDDEN.into());
                    assert!(
                        error.message().contains("not allowed"),
                        "{}",
                        error.message()
                    );
                }
                other => panic!("{era:?} {name}: {other}"),
            }
        }
        // The refusal costs neither caller anything: the same connection
        // (a session, in the legacy era) goes on serving both.
        let echoed = bob
            .call_tool("local__echo", args(json!({"message": "still here"})))
            .await
            .unwrap();
        assert!(format!("{echoed:?}").contains("still here"));
        let sum = alice
            .call_tool("local__add", args(json!({"a": 2, "b": 2})))
            .await
            .unwrap();
        assert_eq!(sum.structured_content.unwrap()["sum"], 4.0);
        let _ = bob.close().await;
        let _ = alice.close().await;
    }
    // Over the wire it is HTTP 403 with the JSON-RPC error, decided on the
    // body: headers that name an allowed tool change nothing.
    let post = |name: &str, body: serde_json::Value| raw_call(&url, BOB, name, &body).send();
    let denied = call_body(7, "local__add", &json!({"a": 1, "b": 2}));
    for header in ["local__add", "local__echo"] {
        let response = post(header, denied.clone()).await.unwrap();
        assert_eq!(response.status(), 403, "Mcp-Name {header}");
        let body: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(body["id"], 7, "{body}");
        assert_eq!(body["error"]["code"], mcp_gateway::FORBIDDEN, "{body}");
    }
    // A request the endpoint refuses for its Host is left to it, unread.
    let response = raw_call(&url, BOB, "local__add", &denied)
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body = String::from_utf8_lossy(&response.bytes().await.unwrap()).into_owned();
    assert!(body.contains("Host header not allowed"), "{body}");
    let allowed = call_body(8, "local__echo", &json!({"message": "ok"}));
    let response = post("local__echo", allowed).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["id"], 8, "{body}");
    assert!(body["result"]["content"].is_array(), "{body}");
    // A body over the endpoint's limit is refused before it is decoded.
    let huge = "x".repeat(5 << 20);
    let too_large = call_body(9, "local__echo", &json!({"message": huge}));
    let response = post("local__echo", too_large).await.unwrap();
    assert_eq!(response.status(), 413);

    // The upstream saw requests, and never a caller's key.
    let seen = seen.lock().unwrap();
    assert!(seen.contains("tools/call"), "{seen}");
    for key in [ALICE, BOB] {
        assert!(!seen.contains(key), "a caller's key reached the upstream");
    }
}
