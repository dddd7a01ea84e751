//! The security event stream (`tracing` target `mcp::security`): each
//! refusal a security or fairness rule makes is one event with the same
//! fields — what happened, the client's address, the principal when known,
//! and why — and no event ever holds the token.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mcp_auth::{ApiKeys, AuthLayer, Identity, ProtectedResourceMetadata, RequiredScopes};
use mcp_server::clock::ManualClock;
use mcp_server::http::{HttpOptions, ServeOptions, StreamableHttp, serve_service};
use mcp_server::limit::{Policy, Quota, RateLimits};
use mcp_server::{Server, ServerOptions};
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

use crate::support::test_router;

type Event = BTreeMap<String, String>;

/// Keeps the fields of every `mcp::security` event.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Event>>>);

struct Fields<'a>(&'a mut Event);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "mcp::security" {
            return;
        }
        let mut fields = Event::new();
        fields.insert("level".into(), event.metadata().level().to_string());
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(fields);
    }
}

impl Capture {
    /// The events of kind `event` so far.
    fn of(&self, event: &str) -> Vec<Event> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.get("event").map(String::as_str) == Some(event))
            .cloned()
            .collect()
    }
}

const KEY: &str = "sk-security-events-0123456789abcdef";
const OTHER_KEY: &str = "sk-security-events-fedcba9876543210";

async fn post(url: &str, key: Option<&str>, extra: &[(&str, &str)], body: String) -> u16 {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.body(body).send().await.unwrap().status().as_u16()
}

fn initialize() -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}})
    .to_string()
}

/// A current-thread runtime: the server's tasks run on this thread, so
/// the capturing subscriber set for it sees their events.
#[tokio::test(flavor = "current_thread")]
async fn every_refusal_is_one_event_with_address_principal_and_reason() {
    let capture = Capture::default();
    let _watching = crate::capture::watch(capture.clone());
    let keys = Arc::new(ApiKeys::new());
    keys.insert(KEY, Identity::new("agent", ["mcp:read".to_owned()]));
    keys.insert(OTHER_KEY, Identity::new("other", ["mcp:read".to_owned()]));
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 31));
    let mut options = ServerOptions::default();
    options.rate_limits = Some(
        RateLimits::new()
            .policy(Policy::new("keys", Quota::per_minute(5)).for_class("api-key"))
            .with_clock(Arc::new(clock)),
    );
    let mut http = HttpOptions::default();
    http.max_sessions_per_client = 1;
    http.max_body = 4096;
    let endpoint = StreamableHttp::new(Server::with_options(test_router().0, options), http);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let metadata = ProtectedResourceMetadata::without_authorization_servers(url.clone());
    let scopes = RequiredScopes::new().tool("echo", ["mcp:admin"]);
    let layer = AuthLayer::new(keys, &metadata).with_scopes(scopes);
    let app = axum::Router::new().route_service("/mcp", endpoint.layer(layer));
    tokio::spawn(serve_service(
        listener,
        app,
        ServeOptions::default(),
        std::future::pending(),
    ));

    // Authentication: no token, a wrong one, a right one.
    assert_eq!(post(&url, None, &[], initialize()).await, 401);
    let forged = "sk-forged-token-that-must-not-be-logged";
    assert_eq!(post(&url, Some(forged), &[], initialize()).await, 401);
    let first = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("Bearer {KEY}"))
        .body(initialize())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let session = first.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    // The client's quota is one session.
    assert_eq!(post(&url, Some(KEY), &[], initialize()).await, 429);
    // Another principal presenting the session id.
    let ping = json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}).to_string();
    let in_session = [("mcp-session-id", session.as_str())];
    assert_eq!(
        post(&url, Some(OTHER_KEY), &in_session, ping.clone()).await,
        404
    );
    // A tool the key's scopes do not cover.
    let echo = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "hi"}}});
    assert_eq!(
        post(&url, Some(KEY), &in_session, echo.to_string()).await,
        403
    );
    // DNS rebinding: a foreign Host and Origin.
    let evil_host = [("host", "evil.example")];
    assert_eq!(post(&url, Some(KEY), &evil_host, ping.clone()).await, 403);
    let evil_origin = [("origin", "https://evil.example")];
    assert_eq!(post(&url, Some(KEY), &evil_origin, ping.clone()).await, 403);
    // A body over the limit.
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(8192));
    assert_eq!(post(&url, Some(KEY), &in_session, big).await, 413);
    // The rate limit: five a minute for keys, some spent above.
    let mut limited = false;
    for _ in 0..6 {
        limited |= post(&url, Some(KEY), &in_session, ping.clone()).await == 429;
    }
    assert!(limited);

    let one = |event: &str| {
        let events = capture.of(event);
        assert!(!events.is_empty(), "no {event} event");
        events[0].clone()
    };
    let failure = capture.of("auth_failure");
    assert_eq!(failure.len(), 2, "{failure:?}");
    assert_eq!(failure[0]["level"], "INFO");
    assert!(failure[0]["reason"].contains("bearer token is required"));
    assert_eq!(failure[1]["level"], "WARN");
    assert_eq!(failure[1]["client.address"], "127.0.0.1");
    let success = one("auth_success");
    assert_eq!(success["principal"], " agent");
    assert_eq!(success["class"], "api-key");
    let quota = one("quota_exceeded");
    assert_eq!(quota["principal"], " agent");
    assert!(quota["reason"].contains("1 sessions"), "{quota:?}");
    let stolen = one("session_principal_mismatch");
    assert_eq!(stolen["principal"], " other");
    let scope = one("scope_refused");
    assert_eq!(scope["principal"], " agent");
    assert!(scope["reason"].contains("mcp:admin"), "{scope:?}");
    assert!(one("host_refused")["reason"].contains("Host"));
    assert!(one("origin_refused")["reason"].contains("Origin"));
    assert!(one("limit_reached")["reason"].contains("413"));
    let rate = one("rate_limited");
    assert_eq!(rate["principal"], " agent");
    assert_eq!(rate["client.address"], "127.0.0.1");
    assert!(rate["reason"].contains("'keys'"), "{rate:?}");
    // Every event says what and why, and none holds a key or a session id.
    for event in capture.0.lock().unwrap().iter() {
        assert!(event.contains_key("reason") || event["event"] == "auth_success");
        let text = format!("{event:?}");
        for secret in [KEY, OTHER_KEY, forged, session.as_str()] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}
