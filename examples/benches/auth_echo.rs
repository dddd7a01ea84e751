//! `tools/call echo` over Streamable HTTP (2026-07-28, keep-alive, 32
//! concurrent clients) with JWT validation on, against the same endpoint
//! without authorization, in the same run.
//!
//! Run with `cargo bench -p examples --bench auth_echo`. The servers are
//! this binary run again as child processes; the parent serves the JWKS and
//! mints an RS256 access token. Variants: the layer with its verified-token
//! cache (the default), the same with per-tool scopes (the layer reads the
//! body), and with the cache off (every request verifies the signature).

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "benchmark harness"
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::http::{ServerProcess, load};
use common::{Round, paired_ratio, report};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

const ROLE: &str = "MCP_BENCH_ROLE";
const ISSUER: &str = "MCP_BENCH_ISSUER";
const REQUESTS: usize = 4000;
const ROUNDS: usize = 5;
const CONCURRENCY: usize = 32;
const KEY: &str = include_str!("../tests/fixtures/rsa-2048.pem");

/// Serves the JWKS and the authorization server metadata; the issuer URL.
async fn authorization_server() -> String {
    let key = EncodingKey::from_rsa_pem(KEY.as_bytes()).unwrap();
    let mut jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("bench".to_owned());
    let json = |v: serde_json::Value| ([("content-type", "application/json")], v.to_string());
    let jwks = json(serde_json::json!({ "keys": [jwk] }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let metadata =
        json(serde_json::json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")}));
    let app = axum::Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            axum::routing::get(move || async move { metadata }),
        )
        .route("/jwks", axum::routing::get(move || async move { jwks }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    issuer
}

fn token(issuer: &str, audience: &str) -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": issuer, "aud": audience, "sub": "bench", "client_id": "bench",
        "scope": "mcp:read mcp:write", "iat": now, "exp": now + 3600,
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("bench".to_owned());
    header.typ = Some("at+jwt".to_owned());
    let key = EncodingKey::from_rsa_pem(KEY.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

/// A server: `plain`, or behind the layer (`jwt`, `jwt-scopes`,
/// `jwt-nocache`).
async fn server(role: &str) {
    use mcp_auth::{AuthLayer, JwtConfig, JwtVerifier, ProtectedResourceMetadata, RequiredScopes};
    use mcp_server::Server;
    use mcp_server::http::{HttpOptions, StreamableHttp};
    use tower_layer::Layer as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let endpoint = StreamableHttp::new(
        Server::new(examples::demo::router()),
        HttpOptions::default(),
    );
    let app = if role == "plain" {
        axum::Router::new().route_service("/mcp", endpoint)
    } else {
        let issuer = std::env::var(ISSUER).unwrap();
        let verifier = JwtVerifier::discover(JwtConfig::new(&issuer, &url))
            .await
            .unwrap();
        let metadata = ProtectedResourceMetadata::new(&url, &issuer);
        let mut scopes = RequiredScopes::new().always(["mcp:read"]);
        if role == "jwt-scopes" {
            scopes = scopes.tool("add", ["mcp:write"]);
        }
        let mut layer = AuthLayer::new(Arc::new(verifier), &metadata).with_scopes(scopes);
        if role == "jwt-nocache" {
            layer = layer.with_cache_ttl(Duration::ZERO);
        }
        axum::Router::new().route_service("/mcp", layer.layer(endpoint))
    };
    println!("{url}");
    axum::serve(listener, app).await.unwrap();
}

async fn round(server: &ServerProcess, bearer: Option<&str>) -> Round {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let url: Arc<str> = server.url.as_str().into();
    let authorization: Option<Arc<str>> = bearer.map(|t| format!("Bearer {t}").into());
    let call = |id: usize| {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"hello"}},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{{}}}}}}}}"#
        );
        let mut request = http
            .post(&*url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "echo")
            .body(body);
        if let Some(authorization) = &authorization {
            request = request.header("authorization", &**authorization);
        }
        async move {
            let started = Instant::now();
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            let text = response.bytes().await.unwrap();
            assert!(text.windows(5).any(|w| w == b"hello"));
            started.elapsed()
        }
    };
    load(server, CONCURRENCY, REQUESTS, call).await
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Ok(role) = std::env::var(ROLE) {
        runtime.block_on(server(&role));
        return;
    }
    // `cargo test` runs benchmarks without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let issuer = runtime.block_on(authorization_server());
    let plain = ServerProcess::start(&[(ROLE, "plain"), (ISSUER, &issuer)]);
    println!(
        "tools/call echo, 2026-07-28 over Streamable HTTP, c={CONCURRENCY}, {REQUESTS} requests x {ROUNDS} rounds (medians):"
    );
    for role in ["jwt", "jwt-scopes", "jwt-nocache"] {
        let protected = ServerProcess::start(&[(ROLE, role), (ISSUER, &issuer)]);
        let token = token(&issuer, &protected.url);
        let (mut ours, mut base) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            ours.push(runtime.block_on(round(&protected, Some(&token))));
            base.push(runtime.block_on(round(&plain, None)));
        }
        println!("{role}:");
        report(role, "request", &ours);
        report("no authorization", "request", &base);
        let paired = paired_ratio(&ours, &base);
        println!("  ratio                  {paired:.2}x unauthenticated (median of paired rounds)");
    }
}
