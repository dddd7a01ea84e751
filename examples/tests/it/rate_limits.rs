//! Rate limits end to end: callers over their quota are refused with 429
//! and the IETF fields over HTTP (both eras), with a JSON-RPC error inside
//! a batch and on stdio; other callers are not affected; quotas recover on
//! the schedule of a controlled clock; our client waits out a short
//! `Retry-After`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use mcp_auth::{ApiKeys, AuthLayer, Identity, ProtectedResourceMetadata};
use mcp_core::{Era, ErrorCode};
use mcp_server::clock::ManualClock;
use mcp_server::http::{ServeOptions, StreamableHttp, serve_service};
use mcp_server::limit::{Policy, Quota, RateLimits};
use mcp_server::{Server, ServerOptions};
use serde_json::{Value, json};

use crate::support::{Host, Wire, args, connect_with, serve_http, test_router};

const MODERN: &str = "2026-07-28";

fn clock() -> ManualClock {
    ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000))
}

fn with_limits(limits: RateLimits) -> ServerOptions {
    let mut options = ServerOptions::default();
    options.rate_limits = Some(limits);
    options
}

/// A 2026-07-28 `tools/call echo`, as raw JSON.
fn modern_echo(id: u64) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {
            "name": "echo", "arguments": {"message": "hi"},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {}
            }
        }
    })
}

/// POSTs `body` to `url` as a 2026-07-28 `tools/call echo` (or, with a
/// `session`, as a legacy session's message); status, headers and body.
async fn post(
    url: &str,
    key: Option<&str>,
    session: Option<&str>,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    request = match session {
        None => request
            .header("mcp-protocol-version", MODERN)
            .header("mcp-method", "tools/call")
            .header("mcp-name", "echo"),
        Some(id) => request
            .header("mcp-session-id", id)
            .header("mcp-protocol-version", "2025-03-26"),
    };
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let response = request.body(body.to_string()).send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Anonymous callers are bucketed by address; over the quota a modern
/// request gets 429 with `Retry-After`, `RateLimit-Policy`, `RateLimit` and
/// a JSON-RPC error naming the policy; the quota comes back on schedule.
#[tokio::test]
async fn anonymous_callers_get_429_with_the_ietf_fields_and_recover_on_schedule() {
    let clock = clock();
    let limits = RateLimits::new()
        .policy(Policy::new("anonymous", Quota::per_minute(3)).for_anonymous())
        .with_clock(Arc::new(clock.clone()));
    let (url, _server) =
        serve_http(Server::with_options(test_router().0, with_limits(limits))).await;
    for id in 0..3 {
        let (status, _, body) = post(&url, None, None, &modern_echo(id)).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, headers, body) = post(&url, None, None, &modern_echo(9)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(header(&headers, "retry-after"), "20");
    assert_eq!(
        header(&headers, "ratelimit-policy"),
        r#""anonymous";q=3;w=60"#
    );
    assert_eq!(header(&headers, "ratelimit"), r#""anonymous";r=0;t=60"#);
    assert_eq!(body["id"], 9);
    assert_eq!(body["error"]["code"], ErrorCode::RATE_LIMITED.0);
    assert_eq!(
        body["error"]["data"],
        json!({"policy": "anonymous", "retryAfter": 20})
    );
    // Not yet, then exactly one more.
    clock.advance(Duration::from_secs(19));
    assert_eq!(post(&url, None, None, &modern_echo(10)).await.0, 429);
    clock.advance(Duration::from_secs(1));
    assert_eq!(post(&url, None, None, &modern_echo(11)).await.0, 200);
    assert_eq!(post(&url, None, None, &modern_echo(12)).await.0, 429);
}

/// Behind the auth layer, quotas are per principal and per class: an API
/// key's owner and a user have their own, and spending one leaves the
/// other whole. A legacy session's POST is refused with 429 as well, and
/// a 2025-03-26 batch gets the refusal inside it, for the one request
/// over the quota.
#[tokio::test]
async fn principals_and_classes_have_their_own_quotas_in_both_eras() {
    let clock = clock();
    let limits = RateLimits::new()
        .policy(Policy::new("api-keys", Quota::per_minute(4)).for_class("api-key"))
        .policy(Policy::new("users", Quota::per_hour(2)).for_class("user"))
        .with_clock(Arc::new(clock.clone()));
    let keys = Arc::new(ApiKeys::new());
    keys.insert("agent-key-0123456789abcdef", Identity::new("agent", []));
    keys.insert("other-key-0123456789abcdef", Identity::new("other", []));
    keys.insert(
        "user-key-0123456789abcdef",
        Identity::new("ada", []).with_class("user"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let metadata = ProtectedResourceMetadata::without_authorization_servers(url.clone());
    let server = Server::with_options(test_router().0, with_limits(limits));
    let endpoint = StreamableHttp::new(server, Default::default());
    let app =
        axum::Router::new().route_service("/mcp", endpoint.layer(AuthLayer::new(keys, &metadata)));
    tokio::spawn(serve_service(
        listener,
        app,
        ServeOptions::default(),
        std::future::pending(),
    ));

    const AGENT: &str = "agent-key-0123456789abcdef";
    let agent = Some(AGENT);
    let user = Some("user-key-0123456789abcdef");
    // The user's class allows two an hour.
    for id in 0..2 {
        assert_eq!(post(&url, user, None, &modern_echo(id)).await.0, 200);
    }
    let (status, headers, _) = post(&url, user, None, &modern_echo(2)).await;
    assert_eq!(status, 429);
    assert_eq!(header(&headers, "retry-after"), "1800");
    assert_eq!(
        header(&headers, "ratelimit-policy"),
        r#""users";q=2;w=3600"#
    );

    // The agent's key: a legacy session, whose initialize counts too.
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-03-26", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}});
    let response = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("Bearer {AGENT}"))
        .body(init.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let session = header(response.headers(), "mcp-session-id").to_owned();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(&url, agent, Some(&session), &initialized).await.0, 202);
    let legacy_echo = |id: u64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"message": "hi"}}})
    };
    assert_eq!(
        post(&url, agent, Some(&session), &legacy_echo(1)).await.0,
        200
    );
    assert_eq!(
        post(&url, agent, Some(&session), &legacy_echo(2)).await.0,
        200
    );
    // One unit left, two requests in a batch: one is answered, the other
    // refused inside the response stream.
    let batch = json!([legacy_echo(3), legacy_echo(4)]);
    let (status, _, body) = post(&url, agent, Some(&session), &batch).await;
    assert_eq!(status, 200, "{body}");
    let answers: Vec<Value> = body
        .as_str()
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect();
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|a| a.get("error").is_some())
        .collect();
    assert_eq!(answers.len(), 2, "{body}");
    assert_eq!(refused.len(), 1, "{body}");
    assert_eq!(refused[0]["error"]["code"], ErrorCode::RATE_LIMITED.0);
    assert_eq!(refused[0]["error"]["data"]["retryAfter"], 15);
    // Now a single POST of the session: 429.
    let (status, headers, body) = post(&url, agent, Some(&session), &legacy_echo(5)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(header(&headers, "ratelimit"), r#""api-keys";r=0;t=60"#);
    assert_eq!(body["id"], 5);

    // Another key of the same class has its own bucket.
    let other = Some("other-key-0123456789abcdef");
    assert_eq!(post(&url, other, None, &modern_echo(1)).await.0, 200);
    // The user's quota comes back one unit per half hour.
    clock.advance(Duration::from_secs(1800));
    assert_eq!(post(&url, user, None, &modern_echo(3)).await.0, 200);
    assert_eq!(
        post(&url, agent, Some(&session), &legacy_echo(6)).await.0,
        200
    );
}

/// On stdio (here an in-memory pipe), a tool's own policy and its cost:
/// the refusal is a JSON-RPC error the client surfaces with its policy and
/// wait, and the connection goes on serving.
#[tokio::test]
async fn stdio_refusals_are_json_rpc_errors_and_the_connection_goes_on() {
    for era in [Era::Modern, Era::Legacy] {
        let clock = clock();
        let limits = RateLimits::new()
            .policy(Policy::new("echo", Quota::per_minute(6)).for_tool("echo"))
            .tool_cost("echo", 3)
            .with_clock(Arc::new(clock.clone()));
        let pair = connect_with(Wire::Duplex, era, Host::default(), with_limits(limits)).await;
        let call = || {
            pair.client
                .call_tool("echo", args(json!({"message": "hi"})))
        };
        call().await.unwrap();
        call().await.unwrap();
        let Err(mcp_client::Error::Remote(e)) = call().await else {
            panic!("{era:?}: the third call should be refused");
        };
        assert_eq!(e.code(), ErrorCode::RATE_LIMITED, "{era:?}");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)), "{e}");
        assert!(e.message().contains("'echo'"), "{e}");
        // Other requests are not counted by the tool's policy.
        pair.client.list_all_tools().await.unwrap();
        clock.advance(Duration::from_secs(30));
        call().await.unwrap();
    }
}

/// Our client waits out a 429 whose `Retry-After` is within its bound and
/// sends the request again; a longer one fails the call at once with the
/// status.
#[tokio::test]
async fn the_client_waits_out_a_short_retry_after() {
    let refuse = Arc::new(AtomicUsize::new(0));
    let retry_after = Arc::new(AtomicUsize::new(0));
    let endpoint = StreamableHttp::new(Server::new(test_router().0), Default::default());
    let (refusing, seconds) = (Arc::clone(&refuse), Arc::clone(&retry_after));
    let service = tower::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let endpoint = endpoint.clone();
        let refusing = Arc::clone(&refusing);
        let seconds = Arc::clone(&seconds);
        async move {
            let refused = refusing
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if refused {
                let response = axum::response::IntoResponse::into_response((
                    http::StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", seconds.load(Ordering::SeqCst).to_string())],
                    "slow down",
                ));
                return Ok::<_, std::convert::Infallible>(response);
            }
            let response = tower::ServiceExt::oneshot(endpoint, req).await?;
            Ok(response.map(axum::body::Body::new))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(serve_service(
        listener,
        service,
        ServeOptions::default(),
        std::future::pending(),
    ));
    let client = crate::support::http_client(&url, Era::Modern).await;
    // Two refusals with `Retry-After: 0`: waited out, the call succeeds.
    refuse.store(2, Ordering::SeqCst);
    let r = client
        .call_tool("echo", args(json!({"message": "again"})))
        .await
        .unwrap();
    assert_eq!(r.text().as_deref(), Some("again"));
    assert_eq!(refuse.load(Ordering::SeqCst), 0);
    // A third in a row is not waited out.
    refuse.store(3, Ordering::SeqCst);
    let Err(mcp_client::Error::Http { status, .. }) = client
        .call_tool("echo", args(json!({"message": "x"})))
        .await
    else {
        panic!("three refusals should fail the call");
    };
    assert_eq!(status, 429);
    // Nor is a wait longer than the bound (10 s by default).
    retry_after.store(60, Ordering::SeqCst);
    refuse.store(1, Ordering::SeqCst);
    let Err(mcp_client::Error::Http { status, body, .. }) = client
        .call_tool("echo", args(json!({"message": "x"})))
        .await
    else {
        panic!("a long Retry-After should fail the call");
    };
    assert_eq!(status, 429);
    assert!(body.contains("slow down"), "{body}");
    assert_eq!(refuse.load(Ordering::SeqCst), 0);
}
