//! The client side of `mcp-auth` on loopback: the challenge of the
//! `auth_server` example's application, discovery and dynamic registration
//! against the real authorization server (`examples/oidc/as.mjs`), the
//! registered client used for the code flow and the token for MCP calls;
//! and, against small fake servers, every refusal discovery and
//! registration owe: other origins, private addresses, plain http, another
//! resource, another issuer, no PKCE, redirects, oversized, slow or
//! non-JSON answers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use examples::auth::{self, Config};
use http::{HeaderMap, StatusCode};
use mcp_auth::client::{
    BearerChallenge, ClientConfig, ClientCredentials, ClientMetadataDocument, Discovery,
    RegistrationMethod, discover, discover_with, register, register_with,
};
use mcp_auth::{Error, FetchPolicy, SafeFetcher};
use mcp_client::{Client, HttpOptions};
use mcp_core::Era;
use serde_json::{Value, json};

use crate::oidc::{Oidc, Registered};
use crate::support::{Host, options};

/// Where the test client says it is redirected; nothing listens there.
const REDIRECT: &str = "http://127.0.0.1:53682/callback";

const PRM_PATH: &str = "/.well-known/oauth-protected-resource";
const AS_PATH: &str = "/.well-known/oauth-authorization-server";

/// The `auth_server` example's application for `oidc`'s tokens, served on
/// a free loopback port; its `/mcp` URL.
async fn serve_example(oidc: &Oidc) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let (app, endpoint) = auth::app(&Config::new(oidc.issuer(), &url)).await.unwrap();
    tokio::spawn(auth::serve(listener, app, endpoint, std::future::pending()));
    url
}

/// An MCP request without a token: the status and the headers.
async fn unauthenticated(url: &str) -> (StatusCode, HeaderMap) {
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}},
    });
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(initialize.to_string())
        .send()
        .await
        .unwrap();
    (response.status(), response.headers().clone())
}

/// The 401 challenge of the server at `url`.
async fn challenge(url: &str) -> BearerChallenge {
    let (status, headers) = unauthenticated(url).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    BearerChallenge::from_headers(&headers).expect("a Bearer challenge")
}

fn expect_refused<T: std::fmt::Debug>(result: Result<T, Error>, needle: &str) -> String {
    match result {
        Err(Error::Refused(why)) => {
            assert!(why.contains(needle), "{needle:?} not in {why:?}");
            why.to_string()
        }
        other => panic!("expected a refusal mentioning {needle:?}, got {other:?}"),
    }
}

fn registered(credentials: &ClientCredentials) -> Registered {
    Registered {
        client_id: credentials.client_id().to_owned(),
        client_secret: credentials.client_secret().map(|s| s.expose().to_owned()),
        redirect_uri: Some(REDIRECT.to_owned()),
    }
}

// The real authorization server.

#[tokio::test]
async fn challenge_discovery_registration_and_a_working_token() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let url = serve_example(&oidc).await;
    let challenge = challenge(&url).await;
    let prm_url = url.replace("/mcp", &format!("{PRM_PATH}/mcp"));
    assert_eq!(
        challenge.resource_metadata.as_deref(),
        Some(prm_url.as_str())
    );
    assert_eq!(challenge.scope.as_deref(), Some("mcp:read"));

    let found = discover(&url, Some(&challenge)).await.unwrap();
    assert_eq!(found.resource, url);
    assert_eq!(found.resource_metadata_url, Some(prm_url));
    assert_eq!(found.resource_metadata.resource, url);
    assert_eq!(
        found.resource_metadata.authorization_servers,
        [oidc.issuer()]
    );
    assert_eq!(found.issuer, oidc.issuer());
    assert_eq!(
        found.authorization_server_metadata_url,
        Some(format!("{}{AS_PATH}", oidc.issuer()))
    );
    let meta = &found.authorization_server;
    assert_eq!(meta.issuer, oidc.issuer());
    assert_eq!(
        meta.token_endpoint.as_deref(),
        Some(format!("{}/token", oidc.issuer()).as_str())
    );
    assert_eq!(
        meta.registration_endpoint.as_deref(),
        Some(format!("{}/reg", oidc.issuer()).as_str())
    );
    assert!(
        meta.code_challenge_methods_supported
            .contains(&"S256".to_owned())
    );
    // The challenge's scope wins over the metadata's.
    assert_eq!(found.scope.as_deref(), Some("mcp:read"));

    let config = ClientConfig::new("mcp-rs tests", [REDIRECT]);
    let registration = register(&config, meta).await.unwrap();
    assert_eq!(registration.method, RegistrationMethod::Dynamic);
    let credentials = &registration.credentials;
    assert_eq!(credentials.issuer(), oidc.issuer());
    assert_eq!(credentials.client_secret(), None);
    assert_eq!(credentials.token_endpoint_auth_method(), "none");
    assert!(registration.registration_access_token.is_some());
    credentials.check_issuer(&found.issuer).unwrap();

    // The registered client runs the code flow, and its token opens the
    // server.
    let scope = found.scope.as_deref().unwrap();
    let tokens = oidc
        .authorize(&registered(credentials), &found.resource, scope)
        .await;
    let http = HttpOptions::default()
        .with_header("authorization", &format!("Bearer {}", tokens.access_token))
        .unwrap();
    let client = Client::connect_http(&url, options(Era::Modern), http, Host::default())
        .await
        .unwrap();
    let me = client
        .call_tool("whoami", serde_json::Map::new())
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(me["client_id"], credentials.client_id());
    assert_eq!(me["scopes"], json!(["mcp:read"]));
    client.close().await.unwrap();

    // Kept credentials come back without registering again.
    let again = register(&config.clone().with_credentials(credentials.clone()), meta)
        .await
        .unwrap();
    assert_eq!(again.method, RegistrationMethod::PreRegistered);
    assert_eq!(&again.credentials, credentials);
}

#[tokio::test]
async fn without_a_challenge_the_well_known_locations_give_the_same() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let url = serve_example(&oidc).await;
    let with = discover(&url, Some(&challenge(&url).await)).await.unwrap();
    let without = discover(&url, None).await.unwrap();
    assert_eq!(without.resource_metadata_url, with.resource_metadata_url);
    assert_eq!(without.authorization_server, with.authorization_server);
    // No challenge scope: the metadata's scopes_supported.
    assert_eq!(without.scope.as_deref(), Some("mcp:read mcp:admin"));
    // A challenge without resource_metadata falls back the same way.
    let bare = BearerChallenge::parse(["Bearer scope=\"mcp:admin\""]).unwrap();
    let found = discover(&url, Some(&bare)).await.unwrap();
    assert_eq!(found.resource_metadata_url, with.resource_metadata_url);
    assert_eq!(found.scope.as_deref(), Some("mcp:admin"));
}

#[tokio::test]
async fn openid_configuration_only() {
    let Some(oidc) = Oidc::start_with(&[("AS_METADATA", "oidc")]).await else {
        return;
    };
    let url = serve_example(&oidc).await;
    let found = discover(&url, None).await.unwrap();
    assert_eq!(
        found.authorization_server_metadata_url,
        Some(format!(
            "{}/.well-known/openid-configuration",
            oidc.issuer()
        ))
    );
    assert_eq!(found.issuer, oidc.issuer());
}

#[tokio::test]
async fn an_authorization_server_without_pkce_metadata_is_refused() {
    let Some(oidc) = Oidc::start_with(&[("AS_DROP_PKCE_METADATA", "1")]).await else {
        return;
    };
    let url = serve_example(&oidc).await;
    let why = expect_refused(discover(&url, None).await, "S256");
    assert!(
        why.contains("does not list code_challenge_methods_supported"),
        "{why}"
    );
}

#[tokio::test]
async fn an_authorization_server_naming_another_issuer_is_refused() {
    let Some(oidc) = Oidc::start_with(&[("AS_ISSUER_OVERRIDE", "https://honest.example")]).await
    else {
        return;
    };
    // The example's own verifier checks the issuer too, so a fake
    // resource server points at the real authorization server.
    let fake = Fake::start().await;
    fake.json(
        &format!("{PRM_PATH}/mcp"),
        json!({"resource": fake.url("/mcp"), "authorization_servers": [oidc.issuer()]}),
    );
    let why = expect_refused(discover(&fake.url("/mcp"), None).await, "names issuer");
    assert!(why.contains("https://honest.example"), "{why}");
}

#[tokio::test]
async fn confidential_registration_and_credentials_stay_with_their_issuer() {
    let (Some(a), Some(b)) = (Oidc::start().await, Oidc::start().await) else {
        return;
    };
    let metadata = |oidc: &Oidc| {
        serde_json::from_value::<mcp_auth::AuthorizationServerMetadata>(json!({
            "issuer": oidc.issuer(),
            "token_endpoint": format!("{}/token", oidc.issuer()),
            "registration_endpoint": format!("{}/reg", oidc.issuer()),
            "code_challenge_methods_supported": ["S256"],
        }))
        .unwrap()
    };
    let none: [&str; 0] = [];
    let mut config = ClientConfig::new("machine", none);
    config.grant_types = vec!["client_credentials".into()];
    config.token_endpoint_auth_method = "client_secret_basic".into();
    let at_a = register(&config, &metadata(&a)).await.unwrap();
    let creds_a = at_a.credentials.clone();
    let secret = creds_a.client_secret().unwrap().expose().to_owned();
    assert!(
        !format!("{at_a:?}").contains(&secret),
        "Debug shows the secret"
    );
    assert_eq!(creds_a.token_endpoint_auth_method(), "client_secret_basic");
    let tokens = a
        .client_credentials(&registered(&creds_a), "http://127.0.0.1:1/mcp", "mcp:read")
        .await
        .unwrap();
    assert_eq!(tokens.scope.as_deref(), Some("mcp:read"));

    // Knowing a's credentials, the client registers anew at b.
    let config = config.with_credentials(creds_a.clone());
    let at_b = register(&config, &metadata(&b)).await.unwrap();
    assert_eq!(at_b.method, RegistrationMethod::Dynamic);
    assert_eq!(at_b.credentials.issuer(), b.issuer());
    assert_ne!(at_b.credentials.client_id(), creds_a.client_id());
    expect_refused(creds_a.check_issuer(b.issuer()), "belongs to");
    // Which is as well: b does not know a's client.
    let e = b
        .client_credentials(&registered(&creds_a), "http://127.0.0.1:1/mcp", "mcp:read")
        .await
        .unwrap_err();
    assert_eq!(e.error, "invalid_client", "{e:?}");
    // And at a, a's credentials are used without registering.
    let again = register(&config, &metadata(&a)).await.unwrap();
    assert_eq!(again.method, RegistrationMethod::PreRegistered);
    assert_eq!(again.credentials, creds_a);
}

// Fake servers.

/// A canned answer.
#[derive(Clone)]
struct Reply {
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// Never answers.
    hang: bool,
}

impl Reply {
    fn json(value: &Value) -> Self {
        Self::with_type(StatusCode::OK, "application/json", value.to_string())
    }

    fn with_type(status: StatusCode, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("content-type", content_type.to_owned())],
            body: body.into(),
            hang: false,
        }
    }
}

/// A request a fake saw.
#[derive(Debug, Clone)]
struct Hit {
    method: String,
    path: String,
    body: Value,
}

#[derive(Default)]
struct FakeState {
    routes: Mutex<HashMap<String, Reply>>,
    hits: Mutex<Vec<Hit>>,
}

/// A loopback server answering whatever it is told to, per path, and 404
/// otherwise; it records every request.
struct Fake {
    base: String,
    state: Arc<FakeState>,
}

async fn fake_handler(State(state): State<Arc<FakeState>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let path = parts.uri.path().to_owned();
    state.hits.lock().unwrap().push(Hit {
        method: parts.method.to_string(),
        path: path.clone(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    });
    let reply = state.routes.lock().unwrap().get(&path).cloned();
    let Some(reply) = reply else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    if reply.hang {
        std::future::pending::<()>().await;
    }
    let mut response = (reply.status, reply.body).into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

impl Fake {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(FakeState::default());
        let app = axum::Router::new()
            .fallback(fake_handler)
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, state }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn reply(&self, path: &str, reply: Reply) {
        self.state
            .routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), reply);
    }

    fn json(&self, path: &str, value: impl Into<Value>) {
        self.reply(path, Reply::json(&value.into()));
    }

    fn hits(&self) -> Vec<Hit> {
        self.state.hits.lock().unwrap().clone()
    }

    fn paths(&self) -> Vec<String> {
        self.hits().into_iter().map(|h| h.path).collect()
    }
}

/// A resource server and an authorization server that pass every check:
/// each test breaks one thing.
struct Setup {
    rs: Fake,
    auth: Fake,
}

impl Setup {
    async fn start() -> Self {
        let setup = Self {
            rs: Fake::start().await,
            auth: Fake::start().await,
        };
        setup.prm(json!({
            "resource": setup.server(),
            "authorization_servers": [setup.auth.base],
            "scopes_supported": ["a", "b"],
        }));
        setup.as_metadata(setup.good_as_metadata());
        setup
    }

    fn server(&self) -> String {
        self.rs.url("/mcp")
    }

    fn prm(&self, doc: Value) {
        self.rs.json(&format!("{PRM_PATH}/mcp"), doc);
    }

    fn good_as_metadata(&self) -> Value {
        let issuer = &self.auth.base;
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "registration_endpoint": format!("{issuer}/register"),
            "code_challenge_methods_supported": ["S256"],
        })
    }

    fn as_metadata(&self, doc: Value) {
        self.auth.json(AS_PATH, doc);
    }

    /// The good metadata with `key` set to `value`.
    fn as_metadata_with(&self, key: &str, value: Value) {
        let mut doc = self.good_as_metadata();
        doc[key] = value;
        self.as_metadata(doc);
    }

    async fn discover(&self) -> Result<Discovery, Error> {
        discover(&self.server(), None).await
    }

    async fn discover_with_challenge(&self, resource_metadata: &str) -> Result<Discovery, Error> {
        let challenge =
            BearerChallenge::parse([
                format!("Bearer resource_metadata=\"{resource_metadata}\"").as_str()
            ])
            .unwrap();
        discover(&self.server(), Some(&challenge)).await
    }
}

#[tokio::test]
async fn the_fakes_pass_as_they_are() {
    let s = Setup::start().await;
    let found = s.discover().await.unwrap();
    assert_eq!(found.resource, s.server());
    assert_eq!(found.issuer, s.auth.base);
    assert_eq!(found.scope.as_deref(), Some("a b"));
    assert_eq!(s.rs.paths(), [format!("{PRM_PATH}/mcp")]);
    assert_eq!(s.auth.paths(), [AS_PATH]);
    let challenged = s
        .discover_with_challenge(&s.rs.url(&format!("{PRM_PATH}/mcp")))
        .await
        .unwrap();
    assert_eq!(challenged, found);
}

#[tokio::test]
async fn well_known_fallbacks_in_the_spec_order() {
    let s = Setup::start().await;
    // The root document only, for a resource that is the server's origin.
    s.rs.state.routes.lock().unwrap().clear();
    s.rs.json(
        PRM_PATH,
        json!({"resource": s.rs.base, "authorization_servers": [s.auth.url("/tenant/1")]}),
    );
    // An issuer with a path, found at the last of its three locations.
    let mut doc = s.good_as_metadata();
    doc["issuer"] = s.auth.url("/tenant/1").into();
    s.auth.state.routes.lock().unwrap().clear();
    s.auth
        .json("/tenant/1/.well-known/openid-configuration", doc);
    let found = s.discover().await.unwrap();
    assert_eq!(
        found.resource, s.rs.base,
        "the parent resource is kept as published"
    );
    assert_eq!(found.issuer, s.auth.url("/tenant/1"));
    assert_eq!(
        s.rs.paths(),
        [format!("{PRM_PATH}/mcp"), PRM_PATH.to_owned()]
    );
    assert_eq!(
        s.auth.paths(),
        [
            "/.well-known/oauth-authorization-server/tenant/1",
            "/.well-known/openid-configuration/tenant/1",
            "/tenant/1/.well-known/openid-configuration",
        ]
    );
    // Nothing anywhere.
    s.auth.state.routes.lock().unwrap().clear();
    match s.discover().await {
        Err(Error::InvalidResponse(why)) => {
            assert!(why.contains("no authorization server metadata"), "{why}");
            assert!(why.contains("HTTP 404"), "{why}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn metadata_for_another_resource_is_refused() {
    let s = Setup::start().await;
    let other = Fake::start().await;
    for resource in [
        s.rs.url("/other"),
        s.rs.url("/mcp/sub"),
        s.rs.url("/mc"),
        other.url("/mcp"),
        s.server().replace("127.0.0.1", "localhost"),
        s.server().replace("http:", "https:"),
    ] {
        s.prm(json!({"resource": resource, "authorization_servers": [s.auth.base]}));
        let why = expect_refused(s.discover().await, "is for");
        assert!(why.contains(&resource), "{why}");
    }
    // Case and the default port do not matter; a trailing slash neither.
    for resource in [
        s.server().replace("http:", "HTTP:"),
        format!("{}/", s.server()),
    ] {
        s.prm(json!({"resource": resource, "authorization_servers": [s.auth.base]}));
        s.discover().await.unwrap();
    }
    s.prm(json!({"resource": s.server(), "authorization_servers": []}));
    assert!(matches!(s.discover().await, Err(Error::InvalidResponse(_))));
}

#[tokio::test]
async fn resource_metadata_on_another_origin_or_a_private_address_is_refused() {
    let s = Setup::start().await;
    let other = Fake::start().await;
    other.json(
        &format!("{PRM_PATH}/mcp"),
        json!({"resource": s.server(), "authorization_servers": [s.auth.base]}),
    );
    expect_refused(
        s.discover_with_challenge(&other.url(&format!("{PRM_PATH}/mcp")))
            .await,
        "not on the server's origin",
    );
    assert!(other.hits().is_empty(), "{:?}", other.hits());
    // The same server under another name is another origin.
    let localhost = s.rs.base.replace("127.0.0.1", "localhost");
    expect_refused(
        s.discover_with_challenge(&format!("{localhost}{PRM_PATH}/mcp"))
            .await,
        "not on the server's origin",
    );
    for (url, why) in [
        (
            "https://10.0.0.1/.well-known/oauth-protected-resource",
            "private",
        ),
        ("https://192.168.1.20/prm", "private"),
        ("https://[fd00::1]/prm", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://0.0.0.0/prm", "unspecified"),
        ("http://evil.example/prm", "plain http"),
        ("file:///etc/passwd", "scheme"),
    ] {
        expect_refused(s.discover_with_challenge(url).await, why);
    }
    // Nothing was fetched for any of them, and nothing fell back to the
    // well-known locations.
    assert!(s.rs.hits().is_empty(), "{:?}", s.rs.hits());
    assert!(s.auth.hits().is_empty());
}

#[tokio::test]
async fn plain_http_and_private_endpoints_are_refused() {
    let s = Setup::start().await;
    for (key, value, why) in [
        (
            "token_endpoint",
            "http://as.example.com/token",
            "plain http",
        ),
        (
            "authorization_endpoint",
            "http://as.example.com/authorize",
            "plain http",
        ),
        (
            "registration_endpoint",
            "https://10.1.2.3/register",
            "private",
        ),
        ("jwks_uri", "https://169.254.169.254/jwks", "link-local"),
    ] {
        s.as_metadata_with(key, value.into());
        let refusal = expect_refused(s.discover().await, why);
        assert!(refusal.contains(key), "{refusal}");
    }
    // An authorization server that is not https.
    for issuer in ["http://as.example.com", "https://172.20.0.1"] {
        s.prm(json!({"resource": s.server(), "authorization_servers": [issuer]}));
        expect_refused(s.discover().await, issuer);
    }
}

#[tokio::test]
async fn metadata_naming_another_issuer_is_refused() {
    let s = Setup::start().await;
    for issuer in [
        "https://honest.example".to_owned(),
        format!("{}/", s.auth.base),
        s.auth.base.replace("127.0.0.1", "localhost"),
    ] {
        s.as_metadata_with("issuer", issuer.clone().into());
        let why = expect_refused(s.discover().await, "names issuer");
        assert!(why.contains(&issuer), "{why}");
    }
}

#[tokio::test]
async fn an_authorization_server_without_s256_is_refused() {
    let s = Setup::start().await;
    s.as_metadata_with("code_challenge_methods_supported", json!(["plain"]));
    expect_refused(s.discover().await, "lists only [\"plain\"]");
    let mut doc = s.good_as_metadata();
    doc.as_object_mut()
        .unwrap()
        .remove("code_challenge_methods_supported");
    s.as_metadata(doc);
    expect_refused(s.discover().await, "must support PKCE with S256");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let s = Setup::start().await;
    let elsewhere = Fake::start().await;
    elsewhere.json(
        "/prm",
        json!({"resource": s.server(), "authorization_servers": [s.auth.base]}),
    );
    let mut redirect = Reply::with_type(StatusCode::FOUND, "text/plain", "");
    redirect.headers.push(("location", elsewhere.url("/prm")));
    s.rs.reply(&format!("{PRM_PATH}/mcp"), redirect.clone());
    // The well-known search moves on (the root has nothing either) …
    match s.discover().await {
        Err(Error::InvalidResponse(why)) => {
            assert!(why.contains("redirects are not followed"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    // … and the challenge's URL, the only one tried then, fails.
    match s
        .discover_with_challenge(&s.rs.url(&format!("{PRM_PATH}/mcp")))
        .await
    {
        Err(Error::InvalidResponse(why)) => {
            assert!(why.contains("redirects are not followed"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    // The same for authorization server metadata.
    s.prm(json!({"resource": s.server(), "authorization_servers": [s.auth.base]}));
    s.auth.reply(AS_PATH, redirect);
    assert!(matches!(s.discover().await, Err(Error::InvalidResponse(_))));
    assert!(elsewhere.hits().is_empty(), "{:?}", elsewhere.hits());
}

#[tokio::test]
async fn server_errors_stop_the_search() {
    let s = Setup::start().await;
    s.rs.reply(
        &format!("{PRM_PATH}/mcp"),
        Reply::with_type(StatusCode::BAD_GATEWAY, "text/plain", "down"),
    );
    s.rs.json(
        PRM_PATH,
        json!({"resource": s.server(), "authorization_servers": [s.auth.base]}),
    );
    match s.discover().await {
        Err(Error::Unavailable(why)) => assert!(why.contains("502"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.rs.paths(), [format!("{PRM_PATH}/mcp")]);
}

#[tokio::test]
async fn answers_must_be_small_quick_json() {
    let s = Setup::start().await;
    let prm = format!("{PRM_PATH}/mcp");
    let good = json!({"resource": s.server(), "authorization_servers": [s.auth.base]});
    s.rs.reply(
        &prm,
        Reply::with_type(StatusCode::OK, "text/html", good.to_string()),
    );
    match s.discover().await {
        Err(Error::InvalidResponse(why)) => assert!(why.contains("not JSON"), "{why}"),
        other => panic!("{other:?}"),
    }
    s.rs.reply(
        &prm,
        Reply::with_type(StatusCode::OK, "application/json", "{\"resource\": 1"),
    );
    assert!(matches!(s.discover().await, Err(Error::InvalidResponse(_))));

    let small = SafeFetcher::new(FetchPolicy::default().with_max_bytes(1024)).unwrap();
    let mut big = good.clone();
    big["padding"] = "x".repeat(2000).into();
    s.rs.json(&prm, big);
    match discover_with(&small, &s.server(), None).await {
        Err(Error::Unavailable(why)) => assert!(why.contains("over 1024 bytes"), "{why}"),
        other => panic!("{other:?}"),
    }

    let quick =
        SafeFetcher::new(FetchPolicy::default().with_timeout(Duration::from_millis(300))).unwrap();
    let mut hang = Reply::json(&good);
    hang.hang = true;
    s.rs.reply(&prm, hang);
    match discover_with(&quick, &s.server(), None).await {
        Err(Error::Unavailable(why)) => assert!(why.contains("no answer within"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn loopback_can_be_turned_off() {
    let s = Setup::start().await;
    let strict = SafeFetcher::new(FetchPolicy::default().with_loopback(false)).unwrap();
    expect_refused(
        discover_with(&strict, &s.server(), None).await,
        "loopback hosts are not allowed",
    );
    assert!(s.rs.hits().is_empty());
    // By name too.
    let by_name =
        s.rs.url(&format!("{PRM_PATH}/mcp"))
            .replace("127.0.0.1", "localhost");
    expect_refused(strict.get_json::<Value>(&by_name).await, "loopback");
    // Allowed, the name goes through the checking resolver to the fake.
    let fetch = SafeFetcher::new(FetchPolicy::default()).unwrap();
    let doc: Value = fetch.get_json(&by_name).await.unwrap();
    assert_eq!(doc["resource"], s.server());
}

#[tokio::test]
async fn dynamic_registration_requests_and_refusals() {
    let s = Setup::start().await;
    let found = s.discover().await.unwrap();
    let meta = &found.authorization_server;
    s.auth.json(
        "/register",
        json!({"client_id": "c-1", "client_id_issued_at": 5, "redirect_uris": [REDIRECT]}),
    );
    let mut config = ClientConfig::new("tests", [REDIRECT]);
    config.software_version = Some("1.2.3".into());
    let r = register(&config, meta).await.unwrap();
    assert_eq!(r.credentials.client_id(), "c-1");
    assert_eq!(r.credentials.issuer(), s.auth.base);
    assert_eq!(r.client_id_issued_at, Some(5));
    let sent = s.auth.hits().pop().unwrap();
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/register")
    );
    assert_eq!(
        sent.body,
        json!({
            "client_name": "tests",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
            "software_version": "1.2.3",
        })
    );

    // The server's OAuth error comes through.
    s.auth.reply(
        "/register",
        Reply::with_type(
            StatusCode::BAD_REQUEST,
            "application/json",
            json!({"error": "invalid_redirect_uri", "error_description": "no loopback"})
                .to_string(),
        ),
    );
    assert_eq!(
        register(&config, meta).await.unwrap_err(),
        Error::OAuth {
            error: "invalid_redirect_uri".into(),
            description: Some("no loopback".into())
        }
    );
    // Registered with other redirect URIs than asked: refused.
    s.auth.json(
        "/register",
        json!({"client_id": "c-2", "redirect_uris": ["https://evil.example/cb"]}),
    );
    expect_refused(
        register(&config, meta).await,
        "registered the redirect URIs",
    );
    // A 201 that is not JSON.
    s.auth.reply(
        "/register",
        Reply::with_type(StatusCode::CREATED, "text/plain", "ok"),
    );
    assert!(matches!(
        register(&config, meta).await,
        Err(Error::InvalidResponse(_))
    ));
    // An endpoint the policy refuses is not contacted.
    let mut bad = meta.clone();
    bad.registration_endpoint = Some("http://as.example.com/register".into());
    let strict = SafeFetcher::new(FetchPolicy::default()).unwrap();
    expect_refused(register_with(&strict, &config, &bad).await, "plain http");
    // A bad redirect URI is the client's mistake, found before sending.
    let before = s.auth.hits().len();
    let wrong = ClientConfig::new("tests", ["http://app.example.com/cb"]);
    assert!(matches!(
        register(&wrong, meta).await,
        Err(Error::Config(_))
    ));
    assert_eq!(s.auth.hits().len(), before);
}

#[tokio::test]
async fn client_id_metadata_documents_are_preferred_and_served() {
    let s = Setup::start().await;
    s.as_metadata_with("client_id_metadata_document_supported", true.into());
    let found = s.discover().await.unwrap();
    let cimd = "https://app.example.com/oauth/client.json";
    let config = ClientConfig::new("Example MCP Client", [REDIRECT]).with_metadata_document(cimd);
    let r = register(&config, &found.authorization_server)
        .await
        .unwrap();
    assert_eq!(r.method, RegistrationMethod::MetadataDocument);
    assert_eq!(r.credentials.client_id(), cimd);
    assert_eq!(r.credentials.issuer(), s.auth.base);
    assert!(
        !s.auth.paths().contains(&"/register".to_owned()),
        "no dynamic registration"
    );

    // The document, served the way an authorization server fetches it.
    let document = config.metadata_document().unwrap();
    let app = axum::Router::new().route_service("/oauth/client.json", document.service());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let response = reqwest::get(format!("{base}/oauth/client.json"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "{:?}",
        response.headers()
    );
    let served: ClientMetadataDocument =
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(served, document);
    assert_eq!(served.client_id, cimd);
    assert_eq!(served.redirect_uris, [REDIRECT]);
    assert_eq!(served.token_endpoint_auth_method, "none");
}
