//! The HTTP client transport against the real Streamable HTTP endpoint
//! behind a small axum middleware that records (and sometimes refuses)
//! requests: a new session after the server forgets one, credentials from
//! an `AuthProvider`, and the fallback to the 2024-11-05 HTTP+SSE
//! transport against a minimal server of that kind.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderValue, StatusCode};
use mcp_client::{AuthChallenge, AuthProvider, Client, Error, HttpOptions, ServerNotification};
use mcp_core::{Era, JsonObject};
use mcp_server::Server;
use mcp_server::http::StreamableHttp;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::support::{Host, args, options, test_router};

/// One request as the middleware saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: http::Method,
    /// The `Mcp-Method` header.
    mcp_method: Option<String>,
    session: Option<String>,
    authorization: Option<String>,
    status: StatusCode,
    /// The `Mcp-Session-Id` the response assigned.
    new_session: Option<String>,
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    /// The POSTs of `mcp_method`.
    fn posts(&self, mcp_method: &str) -> Vec<Seen> {
        self.all()
            .into_iter()
            .filter(|s| {
                s.method == http::Method::POST && s.mcp_method.as_deref() == Some(mcp_method)
            })
            .collect()
    }

    /// The session ids the server assigned, in order.
    fn sessions(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter_map(|s| s.new_session)
            .collect()
    }
}

/// Decides, before the endpoint sees a request, whether to answer it
/// instead.
type Gate = Arc<dyn Fn(&http::request::Parts) -> Option<Response> + Send + Sync>;

fn open_gate() -> Gate {
    Arc::new(|_| None)
}

fn header(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Serves `app` on a free loopback port.
async fn serve_app(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// The test router served over Streamable HTTP at `/mcp`, behind `gate`,
/// with every request recorded in `log`.
async fn serve_endpoint(gate: Gate, log: Log) -> (String, mcp_server::Router) {
    let router = test_router().0;
    let endpoint = StreamableHttp::new(
        Server::new(router.clone()),
        mcp_server::http::HttpOptions::default(),
    );
    let record = move |req: Request, next: Next| {
        let gate = Arc::clone(&gate);
        let log = log.clone();
        async move {
            let (parts, body) = req.into_parts();
            let mut seen = Seen {
                method: parts.method.clone(),
                mcp_method: header(&parts.headers, "mcp-method"),
                session: header(&parts.headers, "mcp-session-id"),
                authorization: header(&parts.headers, "authorization"),
                status: StatusCode::OK,
                new_session: None,
            };
            let response = match gate(&parts) {
                Some(response) => response,
                None => next.run(Request::from_parts(parts, body)).await,
            };
            seen.status = response.status();
            seen.new_session = header(response.headers(), "mcp-session-id");
            log.0.lock().unwrap().push(seen);
            response
        }
    };
    let app = axum::Router::new()
        .route_service("/mcp", endpoint)
        .layer(axum::middleware::from_fn(record));
    (serve_app(app).await, router)
}

async fn echo(client: &Client, message: &str) -> Result<String, Error> {
    let result = client
        .call_tool("echo", args(json!({"message": message})))
        .await?;
    Ok(serde_json::to_value(&result).unwrap()["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

async fn next_notification(
    stream: &mut (impl Stream<Item = ServerNotification> + Unpin),
) -> ServerNotification {
    let next = std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx));
    tokio::time::timeout(Duration::from_secs(5), next)
        .await
        .expect("a notification")
        .expect("the stream is open")
}

/// Ends a legacy session the way an administrator (or an expiry) would.
async fn end_session(url: &str, session: &str) {
    let response = reqwest::Client::new()
        .delete(url)
        .header("mcp-session-id", session)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// A legacy client whose session the server ended.
struct Forgotten {
    client: Client,
    router: mcp_server::Router,
    log: Log,
    first: String,
}

async fn connect_then_forget(gate: Gate) -> Forgotten {
    let log = Log::default();
    let (url, router) = serve_endpoint(gate, log.clone()).await;
    let client = Client::connect_http(
        &url,
        options(Era::Legacy),
        HttpOptions::default(),
        Host::default(),
    )
    .await
    .unwrap();
    // A first call: the handshake is complete, and the GET stream open,
    // before the session ends.
    assert_eq!(echo(&client, "one").await.unwrap(), "one");
    let first = log.sessions().pop().expect("a session id");
    end_session(&url, &first).await;
    Forgotten {
        client,
        router,
        log,
        first,
    }
}

#[tokio::test]
async fn a_forgotten_session_is_replaced_transparently() {
    let Forgotten {
        client,
        router,
        log,
        first,
    } = connect_then_forget(open_gate()).await;
    let mut events = client.notifications();

    assert_eq!(echo(&client, "two").await.unwrap(), "two");

    let initializes = log.posts("initialize");
    assert_eq!(initializes.len(), 2, "{initializes:#?}");
    assert!(initializes.iter().all(|s| s.session.is_none()));
    let sessions = log.sessions();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let second = sessions[1].clone();
    assert_ne!(first, second);
    // The call met the 404, then went again on the new session.
    let calls: Vec<_> = log
        .posts("tools/call")
        .into_iter()
        .map(|s| (s.session.unwrap(), s.status))
        .collect();
    assert_eq!(
        calls,
        [
            (first.clone(), StatusCode::OK),
            (first, StatusCode::NOT_FOUND),
            (second.clone(), StatusCode::OK)
        ]
    );
    let initialized = log.posts("notifications/initialized");
    assert_eq!(initialized.len(), 2);
    assert_eq!(initialized[1].session.as_deref(), Some(second.as_str()));
    assert_eq!(initialized[1].status, StatusCode::ACCEPTED);
    // The new session's stream of server messages is open, and works.
    assert!(log.all().iter().any(|s| s.method == http::Method::GET
        && s.session.as_deref() == Some(second.as_str())
        && s.status == StatusCode::OK));
    router.remove_tool("block");
    assert!(matches!(
        next_notification(&mut events).await,
        ServerNotification::ToolListChanged
    ));
    assert_eq!(echo(&client, "three").await.unwrap(), "three");
    assert_eq!(log.posts("initialize").len(), 2);
}

#[tokio::test]
async fn concurrent_requests_share_one_new_session() {
    let Forgotten { client, log, .. } = connect_then_forget(open_gate()).await;
    let calls = (0..4).map(|i| {
        let client = client.clone();
        tokio::spawn(async move { echo(&client, &format!("m{i}")).await })
    });
    for (i, call) in calls.collect::<Vec<_>>().into_iter().enumerate() {
        assert_eq!(call.await.unwrap().unwrap(), format!("m{i}"));
    }
    assert_eq!(log.posts("initialize").len(), 2);
}

#[tokio::test]
async fn a_failed_new_session_fails_the_request_and_is_tried_again_later() {
    let refuse = Arc::new(AtomicBool::new(false));
    let gate: Gate = {
        let refuse = Arc::clone(&refuse);
        Arc::new(move |parts| {
            let initialize = header(&parts.headers, "mcp-method").as_deref() == Some("initialize");
            (initialize && refuse.load(Ordering::SeqCst))
                .then(|| (StatusCode::SERVICE_UNAVAILABLE, "no new sessions today").into_response())
        })
    };
    let Forgotten { client, log, .. } = connect_then_forget(gate).await;
    refuse.store(true, Ordering::SeqCst);

    let Err(Error::Transport(mcp_core::Error::Io { message, .. })) = echo(&client, "two").await
    else {
        panic!("the call should fail")
    };
    assert!(
        message.contains("ended the session (HTTP 404)")
            && message.contains("503 Service Unavailable")
            && message.contains("no new sessions today"),
        "{message}"
    );

    // The server takes new sessions again: the next request starts one.
    refuse.store(false, Ordering::SeqCst);
    assert_eq!(echo(&client, "three").await.unwrap(), "three");
    assert_eq!(log.posts("initialize").len(), 3);
}

/// A gate that wants `Authorization: Bearer good`.
fn bearer_gate() -> Gate {
    Arc::new(|parts| {
        if header(&parts.headers, "authorization").as_deref() == Some("Bearer good") {
            return None;
        }
        let mut response = (StatusCode::UNAUTHORIZED, "who are you?").into_response();
        response.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer resource_metadata="http://127.0.0.1/x""#),
        );
        Some(response)
    })
}

const CHALLENGE: &str = r#"Bearer resource_metadata="http://127.0.0.1/x""#;

/// Offers `token`; when challenged, records the challenge and switches to
/// `fixed` if it has one.
#[derive(Debug)]
struct Tokens {
    token: Mutex<&'static str>,
    fixed: Option<&'static str>,
    retry: bool,
    challenges: Mutex<Vec<AuthChallenge>>,
}

impl Tokens {
    fn new(token: &'static str, fixed: Option<&'static str>, retry: bool) -> Arc<Self> {
        Arc::new(Self {
            token: Mutex::new(token),
            fixed,
            retry,
            challenges: Mutex::default(),
        })
    }

    fn challenges(&self) -> Vec<AuthChallenge> {
        self.challenges.lock().unwrap().clone()
    }
}

#[mcp_client::async_trait]
impl AuthProvider for Tokens {
    async fn authorization(
        &self,
    ) -> Result<Option<HeaderValue>, Box<dyn std::error::Error + Send + Sync>> {
        let token = *self.token.lock().unwrap();
        Ok(Some(HeaderValue::from_str(&format!("Bearer {token}"))?))
    }

    async fn on_challenge(
        &self,
        challenge: &AuthChallenge,
    ) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
        self.challenges.lock().unwrap().push(challenge.clone());
        if let Some(fixed) = self.fixed {
            *self.token.lock().unwrap() = fixed;
        }
        Ok(self.retry)
    }
}

async fn auth_retry_after_challenge(era: Era) {
    let log = Log::default();
    let (url, _router) = serve_endpoint(bearer_gate(), log.clone()).await;
    let tokens = Tokens::new("bad", Some("good"), true);
    let http = HttpOptions::default().with_auth(tokens.clone());
    let client = Client::connect_http(&url, options(era), http, Host::default())
        .await
        .unwrap();
    assert_eq!(client.server().era, era);
    assert_eq!(echo(&client, "hi").await.unwrap(), "hi");

    let challenges = tokens.challenges();
    assert_eq!(challenges.len(), 1, "{challenges:?}");
    assert_eq!(challenges[0].status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenges[0].www_authenticate, [CHALLENGE]);
    assert_eq!(challenges[0].url, url);
    // One refusal, then every request (GET included) with the new token.
    let seen = log.all();
    let refused: Vec<_> = seen
        .iter()
        .filter(|s| s.status == StatusCode::UNAUTHORIZED)
        .collect();
    assert_eq!(refused.len(), 1, "{seen:#?}");
    assert_eq!(refused[0].authorization.as_deref(), Some("Bearer bad"));
    let after: Vec<_> = seen
        .iter()
        .skip_while(|s| s.status == StatusCode::UNAUTHORIZED)
        .collect();
    assert!(
        after
            .iter()
            .all(|s| s.authorization.as_deref() == Some("Bearer good")),
        "{seen:#?}"
    );
    if era == Era::Legacy {
        assert!(
            seen.iter()
                .any(|s| s.method == http::Method::GET && s.status == StatusCode::OK),
            "{seen:#?}"
        );
    }
}

#[tokio::test]
async fn auth_retries_once_after_a_challenge_modern() {
    auth_retry_after_challenge(Era::Modern).await;
}

#[tokio::test]
async fn auth_retries_once_after_a_challenge_legacy() {
    auth_retry_after_challenge(Era::Legacy).await;
}

#[tokio::test]
async fn auth_that_never_succeeds_fails_with_the_challenge() {
    let log = Log::default();
    let (url, _router) = serve_endpoint(bearer_gate(), log.clone()).await;
    // Always asks for a retry, never has anything better: each request is
    // retried once, no more.
    let tokens = Tokens::new("bad", None, true);
    let http = HttpOptions::default().with_auth(tokens.clone());
    let Err(e) = Client::connect_http(&url, options(Era::Modern), http, Host::default()).await
    else {
        panic!("connecting should fail")
    };
    let Error::Http {
        status,
        www_authenticate,
        ..
    } = &e
    else {
        panic!("not an HTTP refusal: {e:?}")
    };
    assert!(
        *status == 401 && www_authenticate == &[CHALLENGE.to_owned()],
        "{e}"
    );
    // server/discover, then initialize: each refused twice.
    let methods: Vec<_> = log
        .all()
        .into_iter()
        .map(|s| (s.mcp_method.unwrap_or_default(), s.status))
        .collect();
    let refused = |m: &str| (m.to_owned(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        methods,
        [
            refused("server/discover"),
            refused("server/discover"),
            refused("initialize"),
            refused("initialize")
        ]
    );
    assert_eq!(tokens.challenges().len(), 2);
}

#[tokio::test]
async fn revoked_credentials_fail_each_request_promptly() {
    let (url, _router) = serve_endpoint(bearer_gate(), Log::default()).await;
    let tokens = Tokens::new("good", None, false);
    let http = HttpOptions::default().with_auth(tokens.clone());
    let client = Client::connect_http(&url, options(Era::Modern), http, Host::default())
        .await
        .unwrap();
    assert_eq!(echo(&client, "hi").await.unwrap(), "hi");
    *tokens.token.lock().unwrap() = "revoked";
    for _ in 0..2 {
        let Err(e) = echo(&client, "hi").await else {
            panic!("the call should fail")
        };
        assert!(
            matches!(&e, Error::Http { status: 401, www_authenticate, .. }
                if www_authenticate.iter().any(|c| c == CHALLENGE)),
            "{e:?}"
        );
    }
    assert_eq!(tokens.challenges().len(), 2);
}

/// A minimal server of the 2024-11-05 HTTP+SSE transport at `/mcp`: GET
/// opens the stream (first event: `endpoint`), POST `?sessionId=` takes
/// messages, answered on the stream.
#[derive(Clone)]
struct OldServer {
    /// What the endpoint event says.
    endpoint: String,
    stream: Arc<Mutex<Option<mpsc::UnboundedSender<Bytes>>>>,
    posts: Arc<Mutex<Vec<Value>>>,
    gets: Arc<AtomicUsize>,
}

/// The SSE body: events from a channel.
struct Events(mpsc::UnboundedReceiver<Bytes>);

impl Stream for Events {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|frame| frame.map(Ok))
    }
}

fn sse_event(name: &str, data: &str) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

async fn old_get(State(server): State<OldServer>) -> Response {
    server.gets.fetch_add(1, Ordering::SeqCst);
    let (tx, rx) = mpsc::unbounded_channel();
    let _ = tx.send(sse_event("endpoint", &server.endpoint));
    *server.stream.lock().unwrap() = Some(tx);
    (
        [(http::header::CONTENT_TYPE, "text/event-stream")],
        axum::body::Body::from_stream(Events(rx)),
    )
        .into_response()
}

async fn old_post(State(server): State<OldServer>, uri: http::Uri, body: Bytes) -> Response {
    if uri.query() != Some("sessionId=s1") {
        // Like the old servers: nothing to POST to here.
        return (StatusCode::METHOD_NOT_ALLOWED, "use the SSE endpoint").into_response();
    }
    let message: Value = serde_json::from_slice(&body).unwrap();
    server.posts.lock().unwrap().push(message.clone());
    let id = message["id"].clone();
    let result = match message["method"].as_str().unwrap_or_default() {
        "initialize" => json!({
            "protocolVersion": message["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "old-server", "version": "0.1"}
        }),
        "tools/call" if message["params"]["name"] == "hang_up" => {
            // Ends the stream with the call unanswered.
            server.stream.lock().unwrap().take();
            return StatusCode::ACCEPTED.into_response();
        }
        "tools/call" => json!({
            "content": [{
                "type": "text",
                "text": format!("old:{}", message["params"]["arguments"]["message"].as_str().unwrap_or_default())
            }]
        }),
        _ => return StatusCode::ACCEPTED.into_response(),
    };
    let answer = json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string();
    if let Some(stream) = server.stream.lock().unwrap().as_ref() {
        // A notification first: the stream carries more than answers.
        let note = json!({"jsonrpc": "2.0", "method": "notifications/message",
            "params": {"level": "info", "data": "on the stream"}});
        let _ = stream.send(sse_event("message", &note.to_string()));
        let _ = stream.send(sse_event("message", &answer));
    }
    StatusCode::ACCEPTED.into_response()
}

/// Serves an [`OldServer`] whose endpoint event says `endpoint` (with
/// `{port}` replaced by the server's port).
async fn serve_old(endpoint: &str) -> (String, OldServer) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let server = OldServer {
        endpoint: endpoint.replace("{port}", &port.to_string()),
        stream: Arc::default(),
        posts: Arc::default(),
        gets: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/mcp", axum::routing::get(old_get).post(old_post))
        .with_state(server.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, server)
}

#[tokio::test]
async fn falls_back_to_http_sse() {
    let (url, server) = serve_old("?sessionId=s1").await;
    let client = Client::connect_http(
        &url,
        options(Era::Modern),
        HttpOptions::default(),
        Host::default(),
    )
    .await
    .unwrap();
    assert_eq!(client.server().era, Era::Legacy);
    assert_eq!(
        client.server().implementation.as_ref().unwrap().name,
        "old-server"
    );
    assert_eq!(echo(&client, "hi").await.unwrap(), "old:hi");
    let methods: Vec<_> = server
        .posts
        .lock()
        .unwrap()
        .iter()
        .map(|m| m["method"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        methods,
        ["initialize", "notifications/initialized", "tools/call"]
    );
    assert_eq!(server.gets.load(Ordering::SeqCst), 1);

    // The stream ends with a call in flight: it fails, and so does
    // everything after.
    let hang_up = client.call_tool("hang_up", JsonObject::new()).await;
    assert!(matches!(hang_up, Err(Error::Closed)), "{hang_up:?}");
    assert!(matches!(echo(&client, "again").await, Err(Error::Closed)));
}

#[tokio::test]
async fn an_endpoint_on_another_origin_is_refused() {
    let (url, server) = serve_old("http://localhost:{port}/mcp?sessionId=s1").await;
    let Err(Error::Transport(mcp_core::Error::Io { message, .. })) = Client::connect_http(
        &url,
        options(Era::Legacy),
        HttpOptions::default(),
        Host::default(),
    )
    .await
    else {
        panic!("connecting should fail")
    };
    assert!(
        message.contains("initialize got HTTP 405 Method Not Allowed")
            && message.contains("HTTP+SSE stream is unusable")
            && message.contains("not on http://127.0.0.1:"),
        "{message}"
    );
    assert!(server.posts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_streamable_http_refusal_is_not_mistaken_for_an_old_server() {
    // A Streamable HTTP endpoint that refuses initialize with its own
    // JSON-RPC error: the GET it then gets (no session) is refused too, and
    // the client reports the server's own answer.
    let gate: Gate = Arc::new(|parts| {
        (header(&parts.headers, "mcp-method").as_deref() == Some("initialize")).then(|| {
            let body = json!({"jsonrpc": "2.0", "id": null,
                "error": {"code": -32600, "message": "initialize refused here"}});
            let json = [(http::header::CONTENT_TYPE, "application/json")];
            (StatusCode::BAD_REQUEST, json, body.to_string()).into_response()
        })
    });
    let log = Log::default();
    let (url, _router) = serve_endpoint(gate, log.clone()).await;
    let Err(Error::Remote(e)) = Client::connect_http(
        &url,
        options(Era::Legacy),
        HttpOptions::default(),
        Host::default(),
    )
    .await
    else {
        panic!("connecting should fail")
    };
    assert_eq!(e.message(), "initialize refused here");
    let gets: Vec<_> = log
        .all()
        .into_iter()
        .filter(|s| s.method == http::Method::GET)
        .map(|s| (s.session, s.status))
        .collect();
    assert_eq!(gets, [(None, StatusCode::BAD_REQUEST)]);
}

#[tokio::test]
async fn closing_ends_the_session_on_the_server() {
    let log = Log::default();
    let (url, _router) = serve_endpoint(open_gate(), log.clone()).await;
    let client = Client::connect_http(
        &url,
        options(Era::Legacy),
        HttpOptions::default(),
        Host::default(),
    )
    .await
    .unwrap();
    assert_eq!(echo(&client, "bye").await.unwrap(), "bye");
    client.close().await.unwrap();
    let session = log.sessions().pop().unwrap();
    let deletes: Vec<_> = log
        .all()
        .into_iter()
        .filter(|s| s.method == http::Method::DELETE)
        .map(|s| (s.session, s.status))
        .collect();
    assert_eq!(deletes, [(Some(session), StatusCode::OK)]);
}
