//! Legacy sessions and the endpoint's lifecycle over Streamable HTTP:
//! resumable streams, sessions shared between instances, many sessions at
//! once, graceful shutdown, CORS, and the 2024-11-05 HTTP+SSE transport.

use std::sync::Arc;
use std::time::Duration;

use mcp_client::{CallOptions, Client, HttpOptions as ClientHttp};
use mcp_core::tools::CallToolParams;
use mcp_core::{Era, sse};
use mcp_server::http::{HttpOptions, StreamableHttp};
use mcp_server::store::{MemoryEventStore, MemorySessionStore};
use mcp_server::{Error, NoArgs, RequestContext, Router, Server, ServerOptions, StateKey, tool};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::support::{Host, options, serve_endpoint, test_router};

/// The test router plus `gate`: reports progress 1, tells `started`,
/// waits for a permit of the returned semaphore, reports 2 to 4, and
/// answers "done".
fn gated() -> (Router, Arc<Semaphore>, mpsc::UnboundedReceiver<()>) {
    let (router, _) = test_router();
    let permits = Arc::new(Semaphore::new(0));
    let (started, started_rx) = mpsc::unbounded_channel();
    let gate = Arc::clone(&permits);
    router.add_tool(tool(
        "gate",
        "Waits for the test",
        move |ctx: RequestContext, _: NoArgs| {
            let gate = Arc::clone(&gate);
            let started = started.clone();
            async move {
                ctx.progress(1.0, None, None).await?;
                let _ = started.send(());
                gate.acquire().await.map_err(Error::tool)?.forget();
                for i in 2..=4 {
                    ctx.progress(f64::from(i), None, None).await?;
                }
                Ok::<_, Error>("done")
            }
        },
    ));
    (router, permits, started_rx)
}

fn endpoint(router: Router, options: HttpOptions) -> StreamableHttp<Router> {
    StreamableHttp::new(Server::new(router), options)
}

/// Our client at `url`, speaking `era`.
async fn connect(url: &str, era: Era) -> Client {
    Client::connect_http(url, options(era), ClientHttp::default(), Host::default())
        .await
        .unwrap()
}

/// A legacy session driven by hand.
#[derive(Clone)]
pub(crate) struct Raw {
    pub(crate) http: reqwest::Client,
    pub(crate) url: String,
    pub(crate) session: String,
    pub(crate) version: String,
}

impl Raw {
    /// `initialize` and `notifications/initialized` at `url`.
    pub(crate) async fn open(url: &str, version: &str) -> Self {
        Self::open_with(reqwest::Client::new(), url, version).await
    }

    /// [`Raw::open`] with `http` as the HTTP client.
    async fn open_with(http: reqwest::Client, url: &str, version: &str) -> Self {
        Self::open_declaring(http, url, version, json!({})).await
    }

    /// [`Raw::open_with`], the client declaring `capabilities`.
    pub(crate) async fn open_declaring(
        http: reqwest::Client,
        url: &str,
        version: &str,
        capabilities: Value,
    ) -> Self {
        let init = json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": version, "capabilities": capabilities,
                "clientInfo": {"name": "raw", "version": "1"}
            }
        });
        let response = http
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(init.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let session = response.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let raw = Self {
            http,
            url: url.to_owned(),
            session,
            version: version.to_owned(),
        };
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let status = raw.post(&initialized, "application/json").send().await;
        assert_eq!(status.unwrap().status(), 202);
        raw
    }

    pub(crate) fn post(&self, body: &Value, accept: &str) -> reqwest::RequestBuilder {
        self.http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", accept)
            .header("mcp-session-id", &self.session)
            .header("mcp-protocol-version", &self.version)
            .body(body.to_string())
    }

    pub(crate) fn get(&self) -> reqwest::RequestBuilder {
        self.http
            .get(&self.url)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &self.session)
            .header("mcp-protocol-version", &self.version)
    }

    /// `echo` answers `message` on this session.
    pub(crate) async fn echoes(&self, message: &str) {
        let body = self
            .post(&echo(1, message), "application/json")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["result"]["content"][0]["text"], message, "{body}");
    }
}

pub(crate) fn echo(id: u64, message: &str) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": message}}
    })
}

/// An SSE event as read.
#[derive(Debug)]
pub(crate) struct Read {
    pub(crate) id: Option<String>,
    pub(crate) kind: Option<String>,
    pub(crate) data: String,
    /// `data` as JSON; `Null` when empty or not JSON.
    pub(crate) json: Value,
}

/// Reads events from `response` until one whose data satisfies `stop`.
pub(crate) async fn read_until(
    response: &mut reqwest::Response,
    stop: impl Fn(&Value) -> bool,
) -> Vec<Read> {
    let mut decoder = sse::Decoder::new();
    let mut events = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        for event in decoder.feed(&chunk) {
            let event = event.unwrap();
            let json = serde_json::from_str(&event.data).unwrap_or(Value::Null);
            let done = stop(&json);
            events.push(Read {
                id: event.id,
                kind: event.event,
                data: event.data,
                json,
            });
            if done {
                return events;
            }
        }
    }
    panic!("the stream ended first; read {events:?}");
}

/// Reads `response` to its end: what came.
pub(crate) async fn read_to_end(response: &mut reqwest::Response) -> String {
    let mut rest = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    String::from_utf8(rest).unwrap()
}

/// A 2026-07-28 `subscriptions/listen` to `url` for updates of `uri`.
pub(crate) fn listen_request(
    http: &reqwest::Client,
    url: &str,
    uri: &str,
) -> reqwest::RequestBuilder {
    let listen = json!({
        "jsonrpc": "2.0", "id": 2, "method": "subscriptions/listen",
        "params": {
            "notifications": {"resourceSubscriptions": [uri]},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {}
            }
        }
    });
    http.post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "subscriptions/listen")
        .body(listen.to_string())
}

pub(crate) fn progress_of(events: &[Read]) -> Vec<f64> {
    events
        .iter()
        .filter(|e| e.json["method"] == "notifications/progress")
        .map(|e| e.json["params"]["progress"].as_f64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_dropped_stream_resumes_with_last_event_id_and_loses_nothing() {
    let (router, gate, mut started) = gated();
    let (url, _task) = serve_endpoint(
        endpoint(router, HttpOptions::default()),
        std::future::pending(),
    )
    .await;
    let raw = Raw::open(&url, "2025-11-25").await;
    let call = json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "gate", "arguments": {}, "_meta": {"progressToken": "p"}}
    });
    let mut response = raw.post(&call, "text/event-stream").send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let first = read_until(&mut response, |d| d["method"] == "notifications/progress").await;
    // A priming event (an id, no data) comes first, so the client can
    // resume even before the first message.
    assert!(
        first[0].id.is_some() && first[0].data.is_empty(),
        "{first:?}"
    );
    assert_eq!(progress_of(&first), [1.0]);
    let last = first.last().unwrap().id.clone().expect("events carry ids");
    // The connection breaks; the tool goes on meanwhile.
    drop(response);
    started.recv().await.unwrap();
    gate.add_permits(1);

    let mut resumed = raw
        .get()
        .header("last-event-id", &last)
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    let rest = read_until(&mut resumed, |d| d["id"] == 7).await;
    assert_eq!(progress_of(&rest), [2.0, 3.0, 4.0], "{rest:?}");
    assert_eq!(
        rest.last().unwrap().json["result"]["content"][0]["text"],
        "done"
    );
    assert!(rest.iter().all(|e| e.id.is_some()), "{rest:?}");

    // An id the server does not know is refused, and the session goes on.
    let unknown = raw.get().header("last-event-id", "nope:1").send().await;
    let unknown = unknown.unwrap();
    assert_eq!(unknown.status(), 400);
    assert!(unknown.text().await.unwrap().contains("Last-Event-ID"));
    raw.echoes("still here").await;
}

#[tokio::test]
async fn polling_streams_close_early_and_the_client_resumes() {
    let mut http = HttpOptions::default();
    http.sse_close_after = Some(Duration::ZERO);
    http.sse_retry = Duration::from_millis(1);
    let (url, _task) =
        serve_endpoint(endpoint(test_router().0, http), std::future::pending()).await;
    let client = connect(&url, Era::Legacy).await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let call = CallOptions::default().on_progress(move |p| sink.lock().unwrap().push(p.progress));
    let params =
        CallToolParams::new("count").with_arguments(json!({"to": 5}).as_object().unwrap().clone());
    let result = client.call_tool_with(params, call).await.unwrap();
    assert_eq!(result.content[0].as_text(), Some("counted to 5"));
    assert_eq!(*seen.lock().unwrap(), [1.0, 2.0, 3.0, 4.0, 5.0]);
}

#[tokio::test]
async fn instances_sharing_a_store_serve_each_others_sessions() {
    let store = Arc::new(MemorySessionStore::new(100, Duration::from_secs(60)));
    let events = Arc::new(MemoryEventStore::default());
    let key = StateKey::random();
    let instance = || {
        let mut server = ServerOptions::default();
        server.state_key = key.clone();
        StreamableHttp::with_stores(
            Server::with_options(test_router().0, server),
            HttpOptions::default(),
            store.clone(),
            events.clone(),
        )
    };
    let (a, _a) = serve_endpoint(instance(), std::future::pending()).await;
    let (b, _b) = serve_endpoint(instance(), std::future::pending()).await;
    let on_a = Raw::open(&a, "2025-06-18").await;
    // Instance B never saw this session's `initialize`.
    let on_b = Raw {
        url: b,
        ..on_a.clone()
    };
    on_b.echoes("from b").await;
    on_a.echoes("from a").await;
    // Ended on B, gone on A.
    let deleted = on_b
        .http
        .delete(&on_b.url)
        .header("mcp-session-id", &on_b.session)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let gone = on_a.post(&echo(2, "x"), "application/json").send().await;
    assert_eq!(gone.unwrap().status(), 404);
}

#[tokio::test]
async fn many_sessions_at_once() {
    let (url, _task) = serve_endpoint(
        endpoint(test_router().0, HttpOptions::default()),
        std::future::pending(),
    )
    .await;
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..48 {
        let url = url.clone();
        calls.spawn(async move {
            let era = if i % 2 == 0 { Era::Legacy } else { Era::Modern };
            let client = connect(&url, era).await;
            let message = format!("client {i}");
            let args = json!({"message": message}).as_object().unwrap().clone();
            let result = client.call_tool("echo", args).await.unwrap();
            assert_eq!(result.content[0].as_text(), Some(message.as_str()));
            client.close().await.unwrap();
        });
    }
    let mut done = 0;
    while let Some(call) = calls.join_next().await {
        call.unwrap();
        done += 1;
    }
    assert_eq!(done, 48);
}

#[tokio::test]
async fn shutdown_drains_requests_in_flight() {
    let (router, gate, mut started) = gated();
    let (stop, stopped) = oneshot::channel::<()>();
    let (url, server) = serve_endpoint(endpoint(router, HttpOptions::default()), async {
        let _ = stopped.await;
    })
    .await;
    let mut calls = tokio::task::JoinSet::new();
    for era in [Era::Legacy, Era::Modern] {
        // The legacy client also holds its session's GET stream open.
        let client = connect(&url, era).await;
        calls.spawn(async move { client.call_tool("gate", ()).await });
    }
    started.recv().await.unwrap();
    started.recv().await.unwrap();
    stop.send(()).unwrap();
    gate.add_permits(2);
    while let Some(call) = calls.join_next().await {
        let result = call.unwrap().unwrap();
        assert_eq!(result.content[0].as_text(), Some("done"));
    }
    // Open streams ended and answered requests closed their connections:
    // the server stops.
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_stateless_request_outliving_the_shutdown_grace_is_answered_with_an_error() {
    let (router, _gate, mut started) = gated();
    let mut server = ServerOptions::default();
    server.shutdown_grace = Duration::from_millis(50);
    let endpoint =
        StreamableHttp::new(Server::with_options(router, server), HttpOptions::default());
    let (url, _task) = serve_endpoint(endpoint.clone(), std::future::pending()).await;
    let client = connect(&url, Era::Modern).await;
    let call = tokio::spawn(async move { client.call_tool("gate", ()).await });
    started.recv().await.unwrap();
    // The gate never opens: the request runs until the grace is over.
    endpoint.shutdown();
    let refused = call.await.unwrap().unwrap_err();
    assert!(refused.to_string().contains("shutting down"), "{refused}");
}

#[tokio::test]
async fn a_mounted_endpoint_shutting_down_refuses_new_requests() {
    let endpoint = endpoint(test_router().0, HttpOptions::default());
    let (url, _task) = serve_endpoint(endpoint.clone(), std::future::pending()).await;
    let raw = Raw::open(&url, "2025-11-25").await;
    endpoint.shutdown();
    let refused = raw.post(&echo(1, "late"), "application/json").send().await;
    let refused = refused.unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.text().await.unwrap().contains("shutting down"));
}

#[tokio::test]
async fn cors_answers_preflights_for_allowed_origins_only() {
    let mut http = HttpOptions::default();
    http.cors = true;
    let (url, _task) =
        serve_endpoint(endpoint(test_router().0, http), std::future::pending()).await;
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, mcp-protocol-version, mcp-param-region",
            )
            .send()
    };
    let ok = preflight("http://localhost:5173").await.unwrap();
    assert!(ok.status().is_success());
    let h = ok.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:5173");
    assert!(
        h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("mcp-param-region")
    );
    let evil = preflight("https://evil.example").await.unwrap();
    assert!(!evil.headers().contains_key("access-control-allow-origin"));

    // A page's initialize may read the session id.
    let init = json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "page", "version": "1"}}
    });
    let response = client
        .post(&url)
        .header("origin", "http://localhost:5173")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(init.to_string())
        .send()
        .await
        .unwrap();
    let h = response.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:5173");
    let exposed = h["access-control-expose-headers"].to_str().unwrap();
    assert!(exposed.contains("mcp-session-id"), "{exposed}");

    // Without CORS, a preflight is just a method the endpoint refuses.
    let (url, _task) = serve_endpoint(
        endpoint(test_router().0, HttpOptions::default()),
        std::future::pending(),
    )
    .await;
    let plain = client.request(reqwest::Method::OPTIONS, &url).send().await;
    assert_eq!(plain.unwrap().status(), 405);
}

#[tokio::test]
async fn the_2024_11_05_http_sse_transport_when_enabled() {
    let mut http = HttpOptions::default();
    http.legacy_sse = true;
    let (url, _task) =
        serve_endpoint(endpoint(test_router().0, http), std::future::pending()).await;
    let client = reqwest::Client::new();
    let mut stream = client
        .get(&url)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let first = read_until(&mut stream, |_| true).await;
    assert_eq!(first[0].kind.as_deref(), Some("endpoint"));
    let post = |body: Value, at: String| {
        client
            .post(at)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    // A reference relative to the URL the stream was opened at.
    let base = reqwest::Url::parse(&url).unwrap();
    let target = base.join(&first[0].data).unwrap().to_string();
    assert!(target.starts_with(&format!("{url}?sessionId=")), "{target}");
    let init = json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-03-26", "capabilities": {},
                   "clientInfo": {"name": "old", "version": "1"}}
    });
    assert_eq!(post(init, target.clone()).await.unwrap().status(), 202);
    let answer = read_until(&mut stream, |d| d["id"] == 0).await;
    assert_eq!(
        answer.last().unwrap().json["result"]["protocolVersion"],
        "2025-03-26"
    );
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(
        post(initialized, target.clone()).await.unwrap().status(),
        202
    );
    assert_eq!(
        post(echo(1, "old"), target.clone()).await.unwrap().status(),
        202
    );
    let answer = read_until(&mut stream, |d| d["id"] == 1).await;
    assert_eq!(
        answer.last().unwrap().json["result"]["content"][0]["text"],
        "old"
    );
    // Another session id is unknown.
    let unknown = post(echo(2, "x"), format!("{url}?sessionId=0000")).await;
    assert_eq!(unknown.unwrap().status(), 404);
}

#[tokio::test]
async fn the_client_falls_back_from_modern_to_legacy_to_http_sse() {
    let legacy_only = || {
        let mut server = ServerOptions::default();
        server
            .supported_versions
            .retain(|v| v.era() == Some(Era::Legacy));
        server
    };
    let mut old_only = HttpOptions::default();
    old_only.legacy = false;
    old_only.legacy_sse = true;
    let servers = [
        (
            ServerOptions::default(),
            HttpOptions::default(),
            Era::Modern,
        ),
        (legacy_only(), HttpOptions::default(), Era::Legacy),
        // Neither era of Streamable HTTP: only the 2024-11-05 transport.
        (legacy_only(), old_only, Era::Legacy),
    ];
    for (server, http, era) in servers {
        let endpoint = StreamableHttp::new(Server::with_options(test_router().0, server), http);
        let (url, _task) = serve_endpoint(endpoint, std::future::pending()).await;
        let client = Client::connect_http(
            &url,
            options(Era::Modern),
            ClientHttp::default(),
            Host::full(),
        )
        .await
        .unwrap();
        assert_eq!(client.server().era, era);
        let args = json!({"message": "any era"}).as_object().unwrap().clone();
        let result = client.call_tool("echo", args).await.unwrap();
        assert_eq!(result.content[0].as_text(), Some("any era"));
        // Server-to-client requests reach the host on every transport.
        let roots = client.call_tool("show_roots", ()).await;
        let roots = roots.unwrap();
        let text = roots.content[0].as_text().unwrap_or_default();
        assert!(text.contains("file:///projects/demo"), "{era:?}: {roots:?}");
    }
}

#[tokio::test]
async fn deleting_a_session_ends_its_stream() {
    let (url, _task) = serve_endpoint(
        endpoint(test_router().0, HttpOptions::default()),
        std::future::pending(),
    )
    .await;
    let raw = Raw::open(&url, "2025-11-25").await;
    let mut stream = raw.get().send().await.unwrap();
    assert_eq!(stream.status(), 200);
    // A second stream for the same session is refused.
    assert_eq!(raw.get().send().await.unwrap().status(), 409);
    let deleted = raw
        .http
        .delete(&raw.url)
        .header("mcp-session-id", &raw.session)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    // The body ends: whatever was sent (a priming event), then nothing.
    while stream.chunk().await.unwrap().is_some() {}
    let gone = raw.post(&echo(1, "x"), "application/json").send().await;
    assert_eq!(gone.unwrap().status(), 404);
}

#[tokio::test]
async fn a_session_belongs_to_the_principal_that_started_it() {
    use mcp_core::transport::Principal;
    // What an authentication layer does: vouch for the caller.
    let endpoint = endpoint(test_router().0, HttpOptions::default());
    let app = axum::Router::new()
        .route_service("/mcp", endpoint)
        .layer(axum::middleware::from_fn(
            |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
                if let Some(user) = req.headers().get("x-user").and_then(|v| v.to_str().ok()) {
                    let principal = Principal(user.into());
                    req.extensions_mut().insert(principal);
                }
                next.run(req).await
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let as_user = |user: &str| {
        let headers = [("x-user".parse().unwrap(), user.parse().unwrap())];
        reqwest::Client::builder()
            .default_headers(headers.into_iter().collect())
            .build()
            .unwrap()
    };
    let raw = Raw::open_with(as_user("ada"), &url, "2025-11-25").await;
    raw.echoes("mine").await;
    let mallory = Raw {
        http: as_user("mallory"),
        ..raw.clone()
    };
    let stolen = mallory
        .post(&echo(2, "theirs"), "application/json")
        .send()
        .await;
    assert_eq!(stolen.unwrap().status(), 404);
    let stream = mallory.get().send().await.unwrap();
    assert_eq!(stream.status(), 404);
    // The owner is unaffected.
    raw.echoes("still mine").await;
}

#[tokio::test]
async fn axum_graceful_shutdown_ends_open_streams_with_shutdown_on() {
    let mcp = endpoint(test_router().0, HttpOptions::default());
    let app = axum::Router::new().route_service("/mcp", mcp.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(mcp.shutdown_on(stopped))
            .await
    });
    let raw = Raw::open(&url, "2025-11-25").await;
    // A GET stream waits for server messages: without the endpoint's
    // shutdown, axum's drain would wait for it forever.
    let mut stream = raw.get().send().await.unwrap();
    assert_eq!(stream.status(), 200);
    stop.send(()).unwrap();
    let finished = async {
        while stream.chunk().await.unwrap().is_some() {}
        server.await
    };
    // Bounded only so that a regression fails instead of hanging.
    tokio::time::timeout(std::time::Duration::from_secs(30), finished)
        .await
        .expect("the stream did not end, or axum did not finish its graceful shutdown")
        .unwrap()
        .unwrap();
}
