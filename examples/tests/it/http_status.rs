//! The Streamable HTTP endpoint's answers to bad requests, read off the
//! wire: each gets its status and a JSON-RPC error saying what was wrong,
//! and the endpoint keeps serving.

use mcp_server::{Server, ServerOptions};
use serde_json::{Value, json};

use crate::support::{serve_http, test_router};

const MODERN: &str = "2026-07-28";

/// A 2026-07-28 `tools/call echo` body.
fn echo_body(version: &str) -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": "echo", "arguments": {"message": "hi"},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": version,
                "io.modelcontextprotocol/clientCapabilities": {}
            }
        }
    })
}

struct Endpoint {
    url: String,
    http: reqwest::Client,
}

impl Endpoint {
    async fn start() -> Self {
        let server = Server::with_options(test_router().0, ServerOptions::default());
        let (url, _task) = serve_http(server).await;
        Self {
            url,
            http: reqwest::Client::new(),
        }
    }

    /// A POST with exactly `headers`.
    fn post_with(&self, headers: &[(&str, &str)]) -> reqwest::RequestBuilder {
        headers
            .iter()
            .fold(self.http.post(&self.url), |request, (name, value)| {
                request.header(*name, *value)
            })
    }

    /// A POST with the headers a correct 2026-07-28 client sends for
    /// `tools/call echo`, to be spoiled by the test.
    fn modern_post(&self) -> reqwest::RequestBuilder {
        self.post_with(&[
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
            ("mcp-name", "echo"),
        ])
    }

    /// Status and JSON body of `request`.
    async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    /// The endpoint still answers a correct request.
    async fn still_serves(&self) {
        let (status, body) =
            Self::send(self.modern_post().body(echo_body(MODERN).to_string())).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result"]["content"][0]["text"], "hi", "{body}");
    }
}

fn code(body: &Value) -> i64 {
    body["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

/// A header that mirrors an argument is checked against the arguments the
/// tool then runs on, even when the body names that argument twice: the
/// check and the tool read one decoding of them.
#[tokio::test]
async fn a_mirrored_argument_is_read_once_for_the_check_and_the_tool() {
    use mcp_server::{Router, tool};
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    struct Where {
        region: String,
    }
    let in_region = tool("in_region", "Runs in a region", |args: Where| async move {
        format!("region {}", args.region)
    })
    .map_tool(|mut t| {
        t.input_schema = json!({"type": "object", "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"}
        }})
        .as_object()
        .unwrap()
        .clone();
        t
    });
    let router = Router::new("mirrored", "1").with_tool(in_region);
    let (url, _task) = serve_http(Server::with_options(router, ServerOptions::default())).await;
    let e = Endpoint {
        url,
        http: reqwest::Client::new(),
    };
    // Written by hand: a JSON value cannot hold a member twice.
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"in_region","arguments":{"region":"eu","region":"us"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    let post = |region: &str| {
        e.post_with(&[
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
            ("mcp-name", "in_region"),
            ("mcp-param-region", region),
        ])
        .body(body)
    };
    // The last member is the argument, for the check and the tool alike.
    let (status, reply) = Endpoint::send(post("eu")).await;
    assert_eq!((status, code(&reply)), (400, -32020), "{reply}");
    let (status, reply) = Endpoint::send(post("us")).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["result"]["content"][0]["text"], "region us",
        "{reply}"
    );
}

#[tokio::test]
async fn modern_header_and_version_rules() {
    let e = Endpoint::start().await;
    e.still_serves().await;

    // The version header must match the body.
    let (status, body) = Endpoint::send(
        e.modern_post()
            .header("mcp-protocol-version", "2025-11-25")
            .body(echo_body(MODERN).to_string()),
    )
    .await;
    // The header is now there twice (reqwest appends): refused, whatever
    // the first value says.
    assert_eq!((status, code(&body)), (400, -32020), "{body}");
    assert!(message(&body).contains("more than once"), "{body}");

    let (status, body) = Endpoint::send(
        e.post_with(&[
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "echo"),
        ])
        .body(echo_body(MODERN).to_string()),
    )
    .await;
    assert_eq!((status, code(&body)), (400, -32020), "{body}");
    assert!(message(&body).contains("MCP-Protocol-Version"), "{body}");

    // Mcp-Name must mirror the tool name.
    let (status, body) = Endpoint::send(
        e.post_with(&[
            ("content-type", "application/json"),
            ("accept", "application/json"),
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "tools/call"),
            ("mcp-name", "not-echo"),
        ])
        .body(echo_body(MODERN).to_string()),
    )
    .await;
    assert_eq!((status, code(&body)), (400, -32020), "{body}");

    // A version the server does not speak: 400 with the supported list.
    let (status, body) = Endpoint::send(
        e.post_with(&[
            ("content-type", "application/json"),
            ("accept", "application/json"),
            ("mcp-protocol-version", "2099-01-01"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "echo"),
        ])
        .body(echo_body("2099-01-01").to_string()),
    )
    .await;
    assert_eq!((status, code(&body)), (400, -32022), "{body}");
    let supported = body["error"]["data"]["supported"].as_array().unwrap();
    assert!(supported.iter().any(|v| v == MODERN), "{body}");

    // Methods 2026-07-28 removed are not found.
    let mut ping = echo_body(MODERN);
    ping["method"] = json!("ping");
    let (status, body) = Endpoint::send(
        e.post_with(&[
            ("content-type", "application/json"),
            ("accept", "application/json"),
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "ping"),
        ])
        .body(ping.to_string()),
    )
    .await;
    assert_eq!((status, code(&body)), (404, -32601), "{body}");
    e.still_serves().await;
}

#[tokio::test]
async fn malformed_bodies_and_content_types() {
    let e = Endpoint::start().await;

    let (status, body) = Endpoint::send(e.modern_post().body(r#"{"jsonrpc":"2.0","id":1,"#)).await;
    assert_eq!((status, code(&body)), (400, -32700), "{body}");

    let (status, body) = Endpoint::send(
        e.post_with(&[
            ("content-type", "text/plain"),
            ("accept", "application/json"),
        ])
        .body(echo_body(MODERN).to_string()),
    )
    .await;
    assert_eq!(status, 415, "{body}");
    assert!(body["error"].is_object(), "{body}");

    let (status, body) = Endpoint::send(
        e.post_with(&[
            ("content-type", "application/json"),
            ("accept", "text/html"),
        ])
        .body(echo_body(MODERN).to_string()),
    )
    .await;
    assert_eq!(status, 406, "{body}");

    // Over the 4 MiB default limit.
    let mut huge = echo_body(MODERN);
    huge["params"]["arguments"]["message"] = json!("x".repeat(5 * 1024 * 1024));
    let (status, body) = Endpoint::send(e.modern_post().body(huge.to_string())).await;
    assert_eq!(status, 413, "{body}");
    assert!(message(&body).contains("bytes"), "{body}");

    e.still_serves().await;
}

#[tokio::test]
async fn dns_rebinding_and_methods() {
    let e = Endpoint::start().await;

    let (status, body) = Endpoint::send(
        e.modern_post()
            .header("origin", "https://evil.example")
            .body(echo_body(MODERN).to_string()),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].is_object(), "{body}");

    let (status, _) = Endpoint::send(
        e.modern_post()
            .header("host", "evil.example")
            .body(echo_body(MODERN).to_string()),
    )
    .await;
    assert_eq!(status, 403);

    let response = e.http.put(&e.url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert!(response.headers().contains_key("allow"));

    e.still_serves().await;
}

#[tokio::test]
async fn legacy_session_rules() {
    let e = Endpoint::start().await;
    let legacy = |session: Option<&str>| {
        let mut request = e.post_with(&[
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", "2025-11-25"),
        ]);
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request
    };
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});

    // No session, no modern _meta: 400.
    let (status, body) = Endpoint::send(legacy(None).body(list.to_string())).await;
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("Mcp-Session-Id"), "{body}");

    // An unknown session: 404, so the client starts over.
    let (status, _) = Endpoint::send(legacy(Some("no-such-session")).body(list.to_string())).await;
    assert_eq!(status, 404);

    // initialize opens a session with an unguessable id.
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "raw", "version": "1"}}
    });
    let response = legacy(None).body(init.to_string()).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(session.len() >= 32, "{session}");
    let _ = response.text().await;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let response = legacy(Some(&session))
        .body(initialized.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);

    let (status, body) = Endpoint::send(legacy(Some(&session)).body(list.to_string())).await;
    assert_eq!(status, 200, "{body}");

    // DELETE ends it; the id is then unknown.
    let response = e
        .http
        .delete(&e.url)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let (status, _) = Endpoint::send(legacy(Some(&session)).body(list.to_string())).await;
    assert_eq!(status, 404);

    e.still_serves().await;
}
