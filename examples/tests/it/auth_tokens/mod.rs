//! The resource-server side of `mcp-auth` against tokens minted here: each
//! way a bearer token (or the request carrying it) can be wrong gets its
//! status, a `WWW-Authenticate` challenge naming the Protected Resource
//! Metadata, and a JSON body saying what was wrong; and the endpoint keeps
//! serving good tokens afterwards.
//!
//! The signing keys are test-only fixtures (`tests/fixtures`). Their public
//! halves are served as a JWKS by a tiny authorization server on
//! 127.0.0.1, whose key set the tests change and whose fetches they count.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use http::HeaderValue;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcp_auth::{
    ApiKeys, AuthLayer, FirstOf, Identity, JwtConfig, JwtVerifier, ProtectedResourceMetadata,
    RequiredScopes, TokenVerifier,
};
use mcp_client::{Client, HttpOptions};
use mcp_core::Era;
use mcp_server::http::{AllowedHosts, StreamableHttp};
use mcp_server::{NoArgs, RequestContext, Server, ServerOptions, tool};
use serde_json::{Value, json};
use tower_layer::Layer as _;

use crate::support::{Host, options, test_router};

const MODERN: &str = "2026-07-28";
const RSA: &[u8] = include_bytes!("../../fixtures/rsa-2048.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../../fixtures/rsa-2048.pub.pem");
const RSA_NEXT: &[u8] = include_bytes!("../../fixtures/rsa-2048-next.pem");
const EC: &[u8] = include_bytes!("../../fixtures/ec-p256.pem");

/// A signing key of the test authorization server.
struct SigningKey {
    kid: &'static str,
    alg: Algorithm,
    key: EncodingKey,
}

impl SigningKey {
    /// The RS256 key the JWKS starts with.
    fn rsa() -> Self {
        Self {
            kid: "rsa-1",
            alg: Algorithm::RS256,
            key: EncodingKey::from_rsa_pem(RSA).unwrap(),
        }
    }

    /// The RS256 key rotated in later (not in the JWKS at first).
    fn rsa_next() -> Self {
        Self {
            kid: "rsa-2",
            alg: Algorithm::RS256,
            key: EncodingKey::from_rsa_pem(RSA_NEXT).unwrap(),
        }
    }

    /// The ES256 key the JWKS starts with.
    fn ec() -> Self {
        Self {
            kid: "ec-1",
            alg: Algorithm::ES256,
            key: EncodingKey::from_ec_pem(EC).unwrap(),
        }
    }

    /// The public key as the JWKS lists it.
    fn jwk(&self) -> Jwk {
        let mut jwk = Jwk::from_encoding_key(&self.key, self.alg).unwrap();
        jwk.common.key_id = Some(self.kid.to_owned());
        jwk
    }

    /// A header naming this key's algorithm and `kid`.
    fn header(&self) -> Header {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.to_owned());
        header
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_with(&self.header(), claims)
    }

    fn sign_with(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.key).unwrap()
    }
}

/// The test authorization server: RFC 8414 metadata and a JWKS the test
/// can change, counting how often each is fetched.
struct AuthServer {
    issuer: String,
    /// The issuer the metadata document claims (normally `issuer`).
    claimed_issuer: Mutex<String>,
    keys: Mutex<Vec<Jwk>>,
    metadata_fetches: AtomicUsize,
    jwks_fetches: AtomicUsize,
    /// The JWKS answers 500 while set.
    jwks_down: AtomicBool,
}

impl AuthServer {
    async fn start(keys: Vec<Jwk>) -> Arc<Self> {
        let listener = bind().await;
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let server = Arc::new(Self {
            claimed_issuer: Mutex::new(issuer.clone()),
            issuer,
            keys: Mutex::new(keys),
            metadata_fetches: AtomicUsize::new(0),
            jwks_fetches: AtomicUsize::new(0),
            jwks_down: AtomicBool::new(false),
        });
        let app = axum::Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                axum::routing::get(as_metadata),
            )
            .route("/jwks", axum::routing::get(jwks))
            .with_state(Arc::clone(&server));
        tokio::spawn(async move { axum::serve(listener, app).await });
        server
    }

    fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    fn add_key(&self, jwk: Jwk) {
        self.keys.lock().unwrap().push(jwk);
    }

    fn jwks_fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    fn metadata_fetches(&self) -> usize {
        self.metadata_fetches.load(Ordering::SeqCst)
    }
}

fn json_response(value: &Value) -> impl IntoResponse + use<> {
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
}

async fn as_metadata(State(server): State<Arc<AuthServer>>) -> impl IntoResponse {
    server.metadata_fetches.fetch_add(1, Ordering::SeqCst);
    let issuer = server.claimed_issuer.lock().unwrap().clone();
    json_response(&json!({
        "issuer": issuer,
        "jwks_uri": server.jwks_uri(),
        "token_endpoint": format!("{}/token", server.issuer),
    }))
}

async fn jwks(State(server): State<Arc<AuthServer>>) -> axum::response::Response {
    server.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if server.jwks_down.load(Ordering::SeqCst) {
        return http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let set = JwkSet {
        keys: server.keys.lock().unwrap().clone(),
    };
    json_response(&serde_json::to_value(&set).unwrap()).into_response()
}

async fn bind() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// How the protected endpoint is set up.
struct Setup {
    scopes: RequiredScopes,
    require_typ: bool,
    refresh_cooldown: Option<Duration>,
    /// `jwks_uri` set in the config instead of discovered.
    direct_jwks: bool,
    /// API keys tried before JWTs.
    api_keys: Option<Arc<ApiKeys>>,
    cache_ttl: Option<Duration>,
    /// The endpoint answers CORS (for browser clients).
    cors: bool,
    /// Tokens in a provider's own shape, not RFC 9068's.
    provider: Option<Provider>,
}

/// Providers whose tokens have a shape of their own.
#[derive(Clone, Copy)]
enum Provider {
    /// Google-signed ID tokens (Cloud Run service-to-service), from one
    /// allowed service account.
    Google,
    /// Cognito access tokens of one app client.
    Cognito,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            scopes: RequiredScopes::new().always(["mcp:read"]),
            require_typ: false,
            refresh_cooldown: None,
            direct_jwks: false,
            api_keys: None,
            cache_ttl: None,
            cors: false,
            provider: None,
        }
    }
}

/// `mcp:read` always, `mcp:admin` for the `add` tool.
fn admin_for_add() -> Setup {
    Setup {
        scopes: RequiredScopes::new()
            .always(["mcp:read"])
            .tool("add", ["mcp:admin"]),
        ..Setup::default()
    }
}

/// The test router plus `whoami`, which answers the verified identity.
fn router() -> mcp_server::Router {
    let (router, _signals) = test_router();
    router.add_tool(tool(
        "whoami",
        "Says who the verified caller is",
        |ctx: RequestContext, _: NoArgs| async move {
            let identity = ctx.extensions().get::<Identity>();
            let answer = json!({
                "subject": identity.and_then(Identity::subject),
                "scopes": identity.map(|i| i.scopes().iter().cloned().collect::<Vec<_>>()),
            });
            Ok::<_, mcp_server::Error>(answer.to_string())
        },
    ));
    router
}

/// The protected MCP endpoint, its metadata, and its authorization server.
struct Protected {
    /// The MCP endpoint: the resource, and the audience of its tokens.
    url: String,
    origin: String,
    /// The metadata URL challenges name.
    prm: String,
    well_known: [String; 2],
    auth: Arc<AuthServer>,
    http: reqwest::Client,
}

/// An authorization server with the RSA and EC keys, and an endpoint.
async fn start(setup: Setup) -> Protected {
    let auth = AuthServer::start(vec![SigningKey::rsa().jwk(), SigningKey::ec().jwk()]).await;
    let listener = bind().await;
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let url = format!("{origin}/mcp");
    let mut config = match setup.provider {
        None => JwtConfig::new(auth.issuer.clone(), url.clone()),
        Some(Provider::Google) => {
            let mut config = JwtConfig::google_id_tokens(url.clone());
            config
                .required_claims
                .push(("email".to_owned(), vec![providers::CALLER.to_owned()]));
            config
        }
        Some(Provider::Cognito) => {
            JwtConfig::cognito(providers::REGION, providers::POOL, [providers::APP_CLIENT])
        }
    };
    if setup.provider.is_some() {
        // Their keys, served here.
        config.jwks_uri = Some(auth.jwks_uri());
    }
    config.require_typ = setup.require_typ;
    if let Some(cooldown) = setup.refresh_cooldown {
        config.refresh_cooldown = cooldown;
    }
    if setup.direct_jwks {
        config.jwks_uri = Some(auth.jwks_uri());
    }
    let jwt: Arc<dyn TokenVerifier> = Arc::new(JwtVerifier::discover(config).await.unwrap());
    let verifier: Arc<dyn TokenVerifier> = match setup.api_keys {
        Some(keys) => Arc::new(FirstOf::new(vec![keys, jwt])),
        None => jwt,
    };
    let metadata = ProtectedResourceMetadata::new(url.clone(), auth.issuer.clone())
        .with_scopes(["mcp:read", "mcp:admin"]);
    let mut layer = AuthLayer::new(verifier, &metadata).with_scopes(setup.scopes);
    if let Some(ttl) = setup.cache_ttl {
        layer = layer.with_cache_ttl(ttl);
    }
    let mut http_options = mcp_server::http::HttpOptions::default();
    http_options.cors = setup.cors;
    http_options.allowed = AllowedHosts::loopback().with_origin("https://app.example");
    let endpoint = StreamableHttp::new(
        Server::with_options(router(), ServerOptions::default()),
        http_options,
    );
    let well_known = metadata.well_known_paths();
    let app = axum::Router::new()
        .route_service("/mcp", layer.layer(endpoint))
        .route_service(&well_known[0], metadata.service())
        .route_service(&well_known[1], metadata.service());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Protected {
        url,
        origin,
        prm: metadata.url(),
        well_known,
        auth,
        http: reqwest::Client::new(),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// What the endpoint answered.
#[derive(Debug)]
struct Answer {
    status: u16,
    challenge: Option<String>,
    body: Value,
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        challenge,
        body,
    }
}

/// The fields of a `Bearer` challenge, quoted-strings unescaped.
fn challenge_fields(header: &str) -> BTreeMap<String, String> {
    let rest = header
        .strip_prefix("Bearer ")
        .unwrap_or_else(|| panic!("not a Bearer challenge: {header}"));
    let mut fields = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ',' || *c == ' ').is_some() {}
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            return fields;
        }
        assert_eq!(chars.next(), Some('"'), "unquoted {name} in {header}");
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => value.extend(chars.next()),
                Some('"') => break,
                Some(c) => value.push(c),
                None => panic!("unterminated {name} in {header}"),
            }
        }
        assert!(
            fields.insert(name.clone(), value).is_none(),
            "{name} twice in {header}"
        );
    }
}

/// The refusal a bad token gets.
const INVALID_TOKEN: &[(&str, &str)] = &[("scope", "mcp:read"), ("error", "invalid_token")];

impl Protected {
    /// Good claims: this endpoint's audience, this issuer, `mcp:read`,
    /// valid for five minutes.
    fn claims(&self) -> Value {
        let now = now();
        json!({
            "iss": self.auth.issuer, "aud": self.url, "sub": "ada",
            "client_id": "test-client", "scope": "mcp:read",
            "iat": now, "exp": now + 300,
        })
    }

    /// The good claims with `changes` (`null` removes a claim).
    fn claims_with(&self, changes: &Value) -> Value {
        let mut claims = self.claims();
        let object = claims.as_object_mut().unwrap();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                object.remove(name);
            } else {
                object.insert(name.clone(), value.clone());
            }
        }
        claims
    }

    fn good_token(&self) -> String {
        SigningKey::rsa().sign(&self.claims())
    }

    /// An RS256 token with the good claims changed by `changes`.
    fn token_with(&self, changes: &Value) -> String {
        SigningKey::rsa().sign(&self.claims_with(changes))
    }

    /// A 2026-07-28 request of `method` (with `name` mirrored when it has
    /// one), bearing `token`.
    fn modern(
        &self,
        token: Option<&str>,
        method: &str,
        name: Option<&str>,
        mut params: Value,
    ) -> reqwest::RequestBuilder {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {}
        });
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        self.modern_raw(token, method, name, &body.to_string())
    }

    /// A 2026-07-28 POST with `body` as given.
    fn modern_raw(
        &self,
        token: Option<&str>,
        method: &str,
        name: Option<&str>,
        body: &str,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", MODERN)
            .header("mcp-method", method)
            .body(body.to_owned());
        if let Some(name) = name {
            request = request.header("mcp-name", name);
        }
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request
    }

    /// `tools/call echo "hi"`, bearing `token`.
    fn echo(&self, token: Option<&str>) -> reqwest::RequestBuilder {
        self.modern(
            token,
            "tools/call",
            Some("echo"),
            json!({"name": "echo", "arguments": {"message": "hi"}}),
        )
    }

    /// `tools/call add 1 2`, bearing `token`.
    fn add(&self, token: &str) -> reqwest::RequestBuilder {
        self.modern(
            Some(token),
            "tools/call",
            Some("add"),
            json!({"name": "add", "arguments": {"a": 1, "b": 2}}),
        )
    }

    /// Sends `request` and checks the refusal: `status`; a challenge with
    /// the metadata URL and exactly `fields` besides (plus an
    /// `error_description` equal to the body's, when there is one); a
    /// body whose `error` is `error` and whose description contains
    /// `says`.
    async fn refused(
        &self,
        request: reqwest::RequestBuilder,
        status: u16,
        fields: &[(&str, &str)],
        error: &str,
        says: &str,
    ) -> Answer {
        let answer = send(request).await;
        assert_eq!(answer.status, status, "{answer:?}");
        assert_eq!(answer.body["error"], error, "{answer:?}");
        let description = answer.body["error_description"]
            .as_str()
            .unwrap_or_default();
        assert!(description.contains(says), "{says:?} not in {answer:?}");
        let header = answer.challenge.as_deref().unwrap_or_else(|| {
            panic!("no WWW-Authenticate in {answer:?}");
        });
        let mut got = challenge_fields(header);
        if let Some(described) = got.remove("error_description") {
            assert_eq!(described, description, "{header}");
        }
        let mut want: BTreeMap<String, String> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        want.insert("resource_metadata".to_owned(), self.prm.clone());
        assert_eq!(got, want, "{header}");
        answer
    }

    /// `token` is refused as `invalid_token`, the description saying
    /// `says`.
    async fn invalid_token(&self, token: &str, says: &str) {
        self.refused(
            self.echo(Some(token)),
            401,
            INVALID_TOKEN,
            "invalid_token",
            says,
        )
        .await;
    }

    /// `token` is accepted: `echo` answers.
    async fn accepts(&self, token: &str) {
        let answer = send(self.echo(Some(token))).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(
            answer.body["result"]["content"][0]["text"], "hi",
            "{answer:?}"
        );
    }

    /// The endpoint still serves a good token.
    async fn still_serves(&self) {
        self.accepts(&self.good_token()).await;
    }

    /// Opens a legacy session of `version` with `token`.
    async fn open_session(&self, token: &str, version: &str) -> String {
        let init = json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {},
                       "clientInfo": {"name": "raw", "version": "1"}}
        });
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("authorization", format!("Bearer {token}"))
            .body(init.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let session = response.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let _ = response.text().await;
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let answer = send(self.in_session(&session, version, token, &initialized)).await;
        assert_eq!(answer.status, 202, "{answer:?}");
        session
    }

    /// A POST of `body` on a legacy session.
    fn in_session(
        &self,
        session: &str,
        version: &str,
        token: &str,
        body: &Value,
    ) -> reqwest::RequestBuilder {
        self.http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", version)
            .header("authorization", format!("Bearer {token}"))
            .body(body.to_string())
    }
}

/// Whether `body` (a response, a batch of them, or an SSE stream of
/// them) holds `add`'s result.
fn add_ran(body: &Value) -> bool {
    match body {
        Value::Array(items) => items.iter().any(add_ran),
        Value::String(sse) => sse
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str(data.trim()).ok())
            .any(|message: Value| add_ran(&message)),
        _ => body["result"]["structuredContent"]["sum"].is_number(),
    }
}

#[tokio::test]
async fn no_token_gets_a_challenge_naming_the_metadata_and_scope() {
    let p = start(Setup::default()).await;
    let answer = p
        .refused(
            p.echo(None),
            401,
            &[("scope", "mcp:read")],
            "invalid_request",
            "bearer token is required",
        )
        .await;
    assert_eq!(answer.body.as_object().unwrap().len(), 2, "{answer:?}");
    // The challenge leads to the path-suffixed metadata document.
    assert_eq!(p.prm, format!("{}{}", p.origin, p.well_known[0]));
    let response = p.http.get(&p.prm).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(document["resource"], p.url.as_str());
    p.still_serves().await;
}

async fn real_client(era: Era) {
    let p = start(Setup::default()).await;
    let http = HttpOptions::default()
        .with_header("authorization", &format!("Bearer {}", p.good_token()))
        .unwrap();
    let client = Client::connect_http(&p.url, options(era), http, Host::default())
        .await
        .unwrap();
    assert_eq!(client.server().era, era);
    let text = |result: &mcp_core::tools::CallToolResult| {
        serde_json::to_value(result).unwrap()["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mut arguments = mcp_core::JsonObject::new();
    arguments.insert("message".to_owned(), json!("hi"));
    let echoed = client.call_tool("echo", arguments).await.unwrap();
    assert_eq!(text(&echoed), "hi");
    // The handler sees who called.
    let whoami = client
        .call_tool("whoami", mcp_core::JsonObject::new())
        .await
        .unwrap();
    let identity: Value = serde_json::from_str(&text(&whoami)).unwrap();
    assert_eq!(
        identity,
        json!({"subject": "ada", "scopes": ["mcp:read"]}),
        "{era:?}"
    );
    // Discovery read the metadata once, and the keys once, at startup.
    assert_eq!((p.auth.metadata_fetches(), p.auth.jwks_fetches()), (1, 1));
    p.still_serves().await;
}

#[tokio::test]
async fn good_rs256_token_serves_a_real_client_modern() {
    real_client(Era::Modern).await;
}

#[tokio::test]
async fn good_rs256_token_serves_a_real_client_legacy() {
    real_client(Era::Legacy).await;
}

#[tokio::test]
async fn alg_none_is_refused() {
    let p = start(Setup::default()).await;
    let payload = B64.encode(p.claims().to_string());
    for header in [
        json!({"alg": "none"}),
        json!({"alg": "none", "typ": "JWT", "kid": "rsa-1"}),
        json!({"alg": "None"}),
    ] {
        let token = format!("{}.{payload}.", B64.encode(header.to_string()));
        p.invalid_token(&token, "not accepted").await;
    }
    p.still_serves().await;
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let p = start(Setup::default()).await;
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".to_owned());
    let token =
        jsonwebtoken::encode(&header, &p.claims(), &EncodingKey::from_secret(RSA_PUBLIC)).unwrap();
    p.invalid_token(&token, "algorithm HS256 not accepted")
        .await;
    // Without a kid too: the algorithm is refused before any key is chosen.
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &p.claims(),
        &EncodingKey::from_secret(RSA_PUBLIC),
    )
    .unwrap();
    p.invalid_token(&token, "algorithm HS256 not accepted")
        .await;
    assert_eq!(p.auth.jwks_fetches(), 1);
    p.still_serves().await;
}

#[tokio::test]
async fn audience_must_be_this_endpoint() {
    let p = start(Setup::default()).await;
    let other_audience = "issued for another audience (aud)";
    // Another MCP server of the same authorization server.
    let token = p.token_with(&json!({"aud": "http://127.0.0.1:9999/other"}));
    p.invalid_token(&token, other_audience).await;
    // A look-alike sharing the prefix.
    let token = p.token_with(&json!({"aud": format!("{}-other", p.url)}));
    p.invalid_token(&token, other_audience).await;
    // An ID token: audience is the client.
    let token = p.token_with(&json!({"aud": "test-client"}));
    p.invalid_token(&token, other_audience).await;
    let token = p.token_with(&json!({"aud": null}));
    p.invalid_token(&token, "missing claim aud").await;
    // Several audiences: accepted when one of them is this endpoint.
    let token = p.token_with(&json!({"aud": ["http://127.0.0.1:9999/other", p.url]}));
    p.accepts(&token).await;
    let token = p.token_with(&json!({"aud": ["http://127.0.0.1:9999/other", "test-client"]}));
    p.invalid_token(&token, other_audience).await;
    p.still_serves().await;
}

#[tokio::test]
async fn issuer_must_be_the_authorization_server() {
    let p = start(Setup::default()).await;
    let token = p.token_with(&json!({"iss": "http://127.0.0.1:9999"}));
    p.invalid_token(&token, "issued by another authorization server (iss)")
        .await;
    // A trailing slash is another issuer (RFC 8414 §3.3: exact match).
    let token = p.token_with(&json!({"iss": format!("{}/", p.auth.issuer)}));
    p.invalid_token(&token, "issued by another authorization server (iss)")
        .await;
    let token = p.token_with(&json!({"iss": null}));
    p.invalid_token(&token, "missing claim iss").await;
    p.still_serves().await;
}

#[tokio::test]
async fn time_claims_are_checked_with_the_leeway() {
    let p = start(Setup::default()).await;
    let now = now();
    // The default leeway is 30 s: two minutes late is expired, five
    // seconds is not yet.
    let token = p.token_with(&json!({"exp": now - 3600, "iat": now - 7200}));
    p.invalid_token(&token, "expired").await;
    let token = p.token_with(&json!({"exp": now - 120, "iat": now - 600}));
    p.invalid_token(&token, "expired").await;
    let token = p.token_with(&json!({"exp": now - 5, "iat": now - 600}));
    p.accepts(&token).await;
    let token = p.token_with(&json!({"exp": null}));
    p.invalid_token(&token, "missing claim exp").await;
    let token = p.token_with(&json!({"nbf": now + 3600}));
    p.invalid_token(&token, "not valid yet (nbf)").await;
    let token = p.token_with(&json!({"iat": now + 3600}));
    p.invalid_token(&token, "issued in the future (iat)").await;
    let token = p.token_with(&json!({"nbf": now + 5, "iat": now + 5}));
    p.accepts(&token).await;
    p.still_serves().await;
}

#[tokio::test]
async fn unknown_kid_refetches_the_jwks_and_a_rotated_key_is_accepted() {
    // A cooldown of zero: an unknown kid refetches at once.
    let p = start(Setup {
        refresh_cooldown: Some(Duration::ZERO),
        ..Setup::default()
    })
    .await;
    assert_eq!(p.auth.jwks_fetches(), 1);
    let next = SigningKey::rsa_next();
    let token = next.sign(&p.claims());
    p.invalid_token(&token, "unknown signing key \"rsa-2\"")
        .await;
    assert_eq!(p.auth.jwks_fetches(), 2);

    // The authorization server rotates the key in.
    p.auth.add_key(next.jwk());
    p.accepts(&token).await;
    assert_eq!(p.auth.jwks_fetches(), 3);
    // Known keys (old and new) and verified tokens fetch nothing.
    p.accepts(&token).await;
    p.accepts(&next.sign(&p.claims_with(&json!({"sub": "bob"}))))
        .await;
    p.still_serves().await;
    assert_eq!(p.auth.jwks_fetches(), 3);
}

#[tokio::test]
async fn unknown_kids_within_the_cooldown_fetch_nothing() {
    let p = start(Setup {
        refresh_cooldown: Some(Duration::from_secs(3600)),
        direct_jwks: true,
        ..Setup::default()
    })
    .await;
    // jwks_uri given: no metadata read; the keys read once at startup.
    assert_eq!((p.auth.metadata_fetches(), p.auth.jwks_fetches()), (0, 1));
    let next = SigningKey::rsa_next();
    p.auth.add_key(next.jwk());
    let token = next.sign(&p.claims());
    p.invalid_token(&token, "unknown signing key \"rsa-2\"")
        .await;
    // Random kids cannot make the verifier hammer the JWKS.
    for i in 0..20 {
        let mut header = next.header();
        header.kid = Some(format!("random-{i}"));
        let token = next.sign_with(&header, &p.claims());
        p.invalid_token(&token, &format!("unknown signing key \"random-{i}\""))
            .await;
    }
    // Nor can tokens without a kid (every key of this JWKS has one).
    let mut header = SigningKey::rsa().header();
    header.kid = None;
    let token = SigningKey::rsa().sign_with(&header, &p.claims());
    p.invalid_token(&token, "no signing key for a token without kid")
        .await;
    assert_eq!(p.auth.jwks_fetches(), 1);
    p.still_serves().await;
}

#[tokio::test]
async fn jwks_outage_is_503_and_known_keys_keep_working() {
    let p = start(Setup {
        refresh_cooldown: Some(Duration::ZERO),
        ..Setup::default()
    })
    .await;
    p.auth.jwks_down.store(true, Ordering::SeqCst);
    let token = SigningKey::rsa_next().sign(&p.claims());
    let answer = send(p.echo(Some(&token))).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(
        answer.body["error"], "temporarily_unavailable",
        "{answer:?}"
    );
    assert!(answer.challenge.is_none(), "{answer:?}");
    // The details (the JWKS URL) stay in the server's log.
    let description = answer.body["error_description"].as_str().unwrap();
    assert!(description.contains("retry later"), "{answer:?}");
    assert!(!description.contains("jwks"), "{answer:?}");
    assert_eq!(p.auth.jwks_fetches(), 2);
    // Keys already fetched still verify, without a fetch.
    p.still_serves().await;
    assert_eq!(p.auth.jwks_fetches(), 2);
    // Back up: the unknown key is looked for again.
    p.auth.jwks_down.store(false, Ordering::SeqCst);
    p.invalid_token(&token, "unknown signing key \"rsa-2\"")
        .await;
    assert_eq!(p.auth.jwks_fetches(), 3);
}

#[tokio::test]
async fn tampered_or_foreign_signatures_are_refused() {
    let p = start(Setup::default()).await;
    // A claim changed, the signature kept.
    let good = p.good_token();
    let parts: Vec<&str> = good.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    claims["scope"] = json!("mcp:read mcp:admin");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(claims.to_string()),
        parts[2]
    );
    p.invalid_token(&forged, "bad signature").await;
    // The signature cut short, or gone. Cut to a length no base64 text
    // has: other lengths sometimes decode, depending on the last
    // character, and then fail as a bad signature instead.
    let signature = parts[2].len();
    let cut = match (signature - 1) % 4 {
        0 => 4,
        k => k,
    };
    p.invalid_token(&good[..good.len() - cut], "malformed token")
        .await;
    let (signed, _) = good.rsplit_once('.').unwrap();
    p.invalid_token(&format!("{signed}."), "bad signature")
        .await;

    // Signed by a key the JWKS does not have, naming one it has, and
    // pointing at an attacker's keys in the header: only the JWKS counts.
    let attacker = AuthServer::start(vec![SigningKey::rsa_next().jwk()]).await;
    let foreign = SigningKey::rsa_next();
    let mut header = SigningKey::rsa().header();
    header.jku = Some(attacker.jwks_uri());
    header.jwk = Some(foreign.jwk());
    header.x5u = Some(attacker.jwks_uri());
    let token = foreign.sign_with(&header, &p.claims());
    p.invalid_token(&token, "bad signature").await;
    assert_eq!(attacker.jwks_fetches(), 0);

    // An RS256 token naming the EC key: that key is for ES256 only, so
    // for this token there is no such key.
    let mut header = SigningKey::rsa().header();
    header.kid = Some("ec-1".to_owned());
    let token = SigningKey::rsa().sign_with(&header, &p.claims());
    p.invalid_token(&token, "unknown signing key \"ec-1\"")
        .await;
    p.still_serves().await;
}

#[tokio::test]
async fn typ_at_jwt_when_required() {
    let p = start(Setup {
        require_typ: true,
        ..Setup::default()
    })
    .await;
    let rsa = SigningKey::rsa();
    // `Header::new` says typ "JWT".
    p.invalid_token(&p.good_token(), "typ must be at+jwt").await;
    let mut header = rsa.header();
    header.typ = None;
    p.invalid_token(&rsa.sign_with(&header, &p.claims()), "typ must be at+jwt")
        .await;
    for typ in ["at+jwt", "application/at+jwt", "AT+JWT"] {
        header.typ = Some(typ.to_owned());
        p.accepts(&rsa.sign_with(&header, &p.claims())).await;
    }
}

#[tokio::test]
async fn token_in_the_query_string_is_refused() {
    let p = start(Setup::default()).await;
    let token = p.good_token();
    let in_query = p
        .http
        .post(format!("{}?access_token={token}", p.url))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", "tools/call")
        .header("mcp-name", "echo");
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "hi"}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {}
        }}
    });
    let fields = [("error", "invalid_request")];
    let answer = p
        .refused(
            in_query.try_clone().unwrap().body(body.to_string()),
            400,
            &fields,
            "invalid_request",
            "tokens in the query string are refused",
        )
        .await;
    // The token is not echoed back.
    assert!(!format!("{answer:?}").contains(&token), "{answer:?}");
    // Refused even next to a good header.
    p.refused(
        in_query
            .header("authorization", format!("Bearer {token}"))
            .body(body.to_string()),
        400,
        &fields,
        "invalid_request",
        "query string",
    )
    .await;
    p.still_serves().await;
}

#[tokio::test]
async fn malformed_authorization_headers() {
    let p = start(Setup::default()).await;
    let bad = [("error", "invalid_request")];
    let with = |value: HeaderValue| p.echo(None).header("authorization", value);
    let text = |s: &str| HeaderValue::from_str(s).unwrap();

    p.refused(
        with(text("Bearer")),
        400,
        &bad,
        "invalid_request",
        "no token after Bearer",
    )
    .await;
    p.refused(
        with(text("Bearer   ")),
        400,
        &bad,
        "invalid_request",
        "no token after Bearer",
    )
    .await;
    for token in ["a b", "abc,def", "===", "tok\"en"] {
        p.refused(
            with(text(&format!("Bearer {token}"))),
            400,
            &bad,
            "invalid_request",
            "characters a token cannot have",
        )
        .await;
    }
    let good = format!("Bearer {}", p.good_token());
    p.refused(
        with(text(&good)).header("authorization", text(&good)),
        400,
        &bad,
        "invalid_request",
        "more than one Authorization header",
    )
    .await;
    // Non-ASCII is malformed whatever the scheme: the header is refused
    // before its scheme is read.
    for value in [&b"Bearer caf\xc3\xa9"[..], b"Basic caf\xc3\xa9"] {
        p.refused(
            with(HeaderValue::from_bytes(value).unwrap()),
            400,
            &bad,
            "invalid_request",
            "not visible ASCII",
        )
        .await;
    }
    // Another scheme is no bearer token: a plain challenge.
    for value in ["Basic xyz", "Digest username=\"x\"", "Bearertoken"] {
        p.refused(
            with(text(value)),
            401,
            &[("scope", "mcp:read")],
            "invalid_request",
            "bearer token is required",
        )
        .await;
    }
    // The scheme is case-insensitive, and spaces before the token are
    // tolerated.
    let token = p.good_token();
    p.accepts_header(&format!("bearer {token}")).await;
    p.accepts_header(&format!("BEARER  {token}")).await;
    p.still_serves().await;
}

impl Protected {
    async fn accepts_header(&self, value: &str) {
        let answer = send(self.echo(None).header("authorization", value)).await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
}

#[tokio::test]
async fn es256_tokens_are_accepted() {
    let p = start(Setup::default()).await;
    let ec = SigningKey::ec();
    p.accepts(&ec.sign(&p.claims())).await;
    // The EC key with a claim changed after signing.
    let token = ec.sign(&p.claims());
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let (header, _) = signed.split_once('.').unwrap();
    let other = B64.encode(p.claims_with(&json!({"sub": "mallory"})).to_string());
    p.invalid_token(&format!("{header}.{other}.{signature}"), "bad signature")
        .await;
    p.still_serves().await;
}

mod keys_and_metadata;
mod providers;
mod scopes;
