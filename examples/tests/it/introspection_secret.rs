//! The introspection client secret from a mounted secret file, rotated
//! while the server runs: an MCP endpoint behind the auth layer keeps
//! accepting opaque tokens after the authorization server and the file
//! both move to a new secret, without anything being rebuilt.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use mcp_auth::{
    AuthLayer, Error, Identity, Introspection, ProtectedResourceMetadata, TokenVerifier,
};
use mcp_server::http::{HttpOptions, StreamableHttp, serve_service};
use mcp_server::secrets::{EnvSecrets, FileSecrets, Secrets};
use mcp_server::{NoArgs, RequestContext, Router, Server, tool};
use serde_json::{Value, json};

use crate::secrets::Mount;

const RESOURCE: &str = "http://127.0.0.1/mcp";
const CLIENT_ID: &str = "mcp-resource-server";
const SECRET_NAME: &str = "introspection-client-secret";
const OLD: &str = "old-secret-0123456789abcdef";
const NEW: &str = "new-secret-fedcba9876543210";
const TOKEN: &str = "opaque-token-4f1c2a";

/// An RFC 7662 introspection endpoint that knows one opaque token and
/// accepts one client secret (`client_secret_basic`) at a time, as an
/// authorization server does once a secret is rotated there.
#[derive(Clone)]
struct AuthorizationServer {
    accepted: Arc<Mutex<String>>,
    /// Requests with the accepted credentials.
    answered: Arc<AtomicUsize>,
}

impl AuthorizationServer {
    async fn start(secret: &str) -> (Self, String) {
        let server = Self {
            accepted: Arc::new(Mutex::new(secret.to_owned())),
            answered: Arc::new(AtomicUsize::new(0)),
        };
        let (listener, url) = listener().await;
        let endpoint = server.clone();
        let app = axum::Router::new().route(
            "/introspect",
            axum::routing::post(move |headers: http::HeaderMap, form: Bytes| {
                let endpoint = endpoint.clone();
                async move {
                    let authorization = headers
                        .get(http::header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok());
                    let (status, body) = endpoint.answer(authorization, &form);
                    let status = http::StatusCode::from_u16(status).unwrap();
                    let json = [(http::header::CONTENT_TYPE, "application/json")];
                    (status, json, body.to_string())
                }
            }),
        );
        tokio::spawn(serve_service(
            listener,
            app,
            Default::default(),
            std::future::pending(),
        ));
        (server, url.replace("/mcp", "/introspect"))
    }

    fn accept_only(&self, secret: &str) {
        *self.accepted.lock().unwrap() = secret.to_owned();
    }

    fn answer(&self, authorization: Option<&str>, form: &[u8]) -> (u16, Value) {
        let accepted = self.accepted.lock().unwrap().clone();
        let expected =
            base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{accepted}"));
        if authorization != Some(&format!("Basic {expected}")) {
            return (401, json!({"error": "invalid_client"}));
        }
        self.answered.fetch_add(1, Ordering::SeqCst);
        // The form's `token` (the test's token needs no percent-decoding).
        let token = form
            .split(|b| *b == b'&')
            .find_map(|pair| pair.strip_prefix(b"token="));
        if token != Some(TOKEN.as_bytes()) {
            return (200, json!({"active": false}));
        }
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = json!({
            "active": true, "sub": "agent", "client_id": "agent-app",
            "aud": RESOURCE, "scope": "mcp:read", "exp": now + 3600,
        });
        (200, claims)
    }
}

/// A listener on a port of its own on loopback, and its `/mcp` URL.
async fn listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    (listener, url)
}

/// An MCP endpoint whose `whoami` tool answers the token's subject,
/// behind the auth layer with `verifier`; every request is verified again
/// (no cache), so each one reaches the introspection endpoint.
async fn protected_endpoint(verifier: Arc<dyn TokenVerifier>) -> String {
    let router = Router::new("introspection-secret-test", "0.0.0");
    router.add_tool(tool(
        "whoami",
        "Says whom the token stands for",
        |ctx: RequestContext, _: NoArgs| async move {
            let identity = ctx.extensions().get::<Identity>().cloned();
            Ok::<_, mcp_server::Error>(
                identity
                    .and_then(|i| i.subject().map(str::to_owned))
                    .unwrap_or_default(),
            )
        },
    ));
    let metadata = ProtectedResourceMetadata::without_authorization_servers(RESOURCE);
    let auth = AuthLayer::new(verifier, &metadata).with_cache_ttl(Duration::ZERO);
    let endpoint = StreamableHttp::new(Server::new(router), HttpOptions::default());
    let (listener, url) = listener().await;
    tokio::spawn(serve_service(
        listener,
        endpoint.layer(auth),
        Default::default(),
        std::future::pending(),
    ));
    url
}

/// A 2026-07-28 `tools/call whoami` with `token`; status and whole body.
async fn whoami(url: &str, token: &str) -> (u16, String) {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": "whoami", "arguments": {},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {}
            }
        }
    });
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "whoami")
        .header("authorization", format!("Bearer {token}"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn subject(body: &str) -> Value {
    let answer: Value = serde_json::from_str(body).unwrap();
    answer["result"]["content"][0]["text"].clone()
}

#[tokio::test]
async fn a_rotated_introspection_secret_file_takes_effect_without_a_restart() {
    let mount = Mount::new("introspection-secret");
    mount.write(SECRET_NAME, &format!("{OLD}\n"));
    let (authorization_server, introspect_url) = AuthorizationServer::start(OLD).await;

    // What a server does at startup: the secret by name, then a watch
    // that rotates it into the verifier the auth layer holds.
    let secrets = Secrets::new()
        .with(FileSecrets::new(&mount.0))
        .with(EnvSecrets::new("MCP_AUTH_IT_UNSET_"));
    let secret = secrets.require(SECRET_NAME).await.unwrap();
    let introspection =
        Introspection::new(&introspect_url, CLIENT_ID, secret.expose(), RESOURCE).unwrap();
    let watch = secrets
        .watch(SECRET_NAME, Duration::from_secs(3600), {
            let introspection = introspection.clone();
            move |secret| introspection.rotate_client_secret(secret)
        })
        .await
        .unwrap();
    let url = protected_endpoint(Arc::new(introspection.clone())).await;

    let (status, body) = whoami(&url, TOKEN).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(subject(&body), "agent", "{body}");
    assert_eq!(whoami(&url, "unknown-token").await.0, 401);

    // Rotated at the authorization server first: until the file follows,
    // our credentials are refused, which is an outage (503), not a bad
    // token, and the log says which secret to look at.
    authorization_server.accept_only(NEW);
    let (status, body) = whoami(&url, TOKEN).await;
    assert_eq!(status, 503, "{body}");
    let e = introspection.verify(TOKEN).await.unwrap_err();
    assert!(
        matches!(&e, Error::Unavailable(why) if why.contains("client secret")),
        "{e:?}"
    );
    assert!(!e.to_string().contains(OLD) && !body.contains(OLD), "{e}");
    // The file has not changed: a poll finds nothing to do.
    assert!(!watch.refresh().await.unwrap());

    // Then in the file: the next poll (here, at once) rotates it, and the
    // same endpoint, verifier and auth layer accept the token again.
    mount.write(SECRET_NAME, &format!("{NEW}\n"));
    assert!(watch.refresh().await.unwrap());
    let answered = authorization_server.answered.load(Ordering::SeqCst);
    let (status, body) = whoami(&url, TOKEN).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(subject(&body), "agent", "{body}");
    assert_eq!(
        authorization_server.answered.load(Ordering::SeqCst),
        answered + 1,
        "introspected with the new secret"
    );
    let debug = format!("{introspection:?}");
    assert!(!debug.contains(OLD) && !debug.contains(NEW), "{debug}");
}

#[tokio::test]
async fn a_missing_introspection_secret_fails_at_startup_naming_it() {
    let mount = Mount::new("introspection-secret-missing");
    // Another secret is there; its value must not leak into the error.
    mount.write("api-keys", OLD);
    let secrets = Secrets::new()
        .with(FileSecrets::new(&mount.0))
        .with(EnvSecrets::new("MCP_AUTH_IT_UNSET_"));
    let e = secrets.require(SECRET_NAME).await.unwrap_err().to_string();
    assert!(
        e.contains(&format!("missing secret \"{SECRET_NAME}\"")),
        "{e}"
    );
    assert!(
        e.contains(&mount.0.join(SECRET_NAME).display().to_string())
            && e.contains("MCP_AUTH_IT_UNSET_INTROSPECTION_CLIENT_SECRET"),
        "names where it was looked for: {e}"
    );
    assert!(!e.contains(OLD), "{e}");
}
