//! A real OAuth 2.1 authorization server for the authorization tests:
//! `examples/oidc/as.mjs` (oidc-provider) as a child process, and a driver
//! that plays client and browser against it.
//!
//! `test.sh` installs Node and oidc-provider under `.tools/npm` and points
//! `MCP_TEST_NODE` (the node binary) and `MCP_TEST_NODE_MODULES` (the
//! `node_modules` holding oidc-provider) at them. Without those variables the
//! same default locations are tried, and when nothing is installed the tests
//! here say so and pass without running.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

/// A bound on start-up and on every request, so a wedged server fails the
/// test instead of hanging it. Nothing waits for it to pass.
const PATIENCE: Duration = Duration::from_secs(60);

/// The resource server's own client, configured statically in `as.mjs`.
const RS_CLIENT_ID: &str = "mcp-resource-server";
const RS_CLIENT_SECRET: &str = "test-only-rs-secret";

/// A running `as.mjs`; killed when dropped.
pub(crate) struct Oidc {
    issuer: String,
    http: reqwest::Client,
    stderr: Arc<Mutex<String>>,
    _child: Child,
    // Held so the server's stdout stays open for its whole life.
    _stdout: BufReader<ChildStdout>,
}

/// A client registered through dynamic client registration.
#[derive(Debug, Clone)]
pub(crate) struct Registered {
    pub(crate) client_id: String,
    /// Present for confidential clients.
    pub(crate) client_secret: Option<String>,
    /// The first registered redirect URI, used by [`Oidc::authorize`].
    pub(crate) redirect_uri: Option<String>,
}

/// A successful token response.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    pub(crate) access_token: String,
    pub(crate) token_type: String,
    pub(crate) refresh_token: Option<String>,
    pub(crate) expires_in: u64,
    pub(crate) scope: Option<String>,
}

/// An OAuth error response from the token endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Refused {
    pub(crate) status: StatusCode,
    pub(crate) error: String,
    pub(crate) description: Option<String>,
}

/// A PKCE pair (RFC 7636), S256.
#[derive(Debug, Clone)]
pub(crate) struct Pkce {
    pub(crate) verifier: String,
    pub(crate) challenge: String,
}

impl Pkce {
    pub(crate) fn new() -> Self {
        let verifier = random();
        let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

/// 32 random bytes, base64url: a PKCE verifier or a `state`.
fn random() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    B64.encode(bytes)
}

/// The node binary and the `node_modules` holding oidc-provider: from the
/// variables when set (and then they must point at something real), else
/// from `.tools/npm`; `None` when the default install is missing.
fn install() -> Option<(PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let tools = root.join(".tools/npm/node_modules");
    let pick = |var: &str, default: PathBuf, probe: &dyn Fn(&Path) -> PathBuf| {
        if let Some(set) = std::env::var_os(var) {
            let set = PathBuf::from(set);
            assert!(probe(&set).exists(), "{var}={} is not there", set.display());
            Some(set)
        } else {
            probe(&default).exists().then_some(default)
        }
    };
    let node = pick("MCP_TEST_NODE", tools.join(".bin/node"), &|p| p.to_owned())?;
    let modules = pick("MCP_TEST_NODE_MODULES", tools, &|p| {
        p.join("oidc-provider/package.json")
    })?;
    Some((node, modules))
}

impl Oidc {
    /// Starts `as.mjs` and waits for its `READY <issuer>` line. `None` (with
    /// a note on stderr) when Node or oidc-provider is not installed.
    pub(crate) async fn start() -> Option<Self> {
        Self::start_with(&[]).await
    }

    /// [`Oidc::start`] with `as.mjs` knobs (`AS_METADATA`, …) in its
    /// environment.
    pub(crate) async fn start_with(knobs: &[(&str, &str)]) -> Option<Self> {
        let Some((node, modules)) = install() else {
            eprintln!(
                "skipped: no oidc-provider install (test.sh installs one under .tools/npm; \
                 or set MCP_TEST_NODE and MCP_TEST_NODE_MODULES)"
            );
            return None;
        };
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc/as.mjs");
        let mut child = Command::new(node)
            .arg(script)
            .env("MCP_TEST_NODE_MODULES", modules)
            .envs(knobs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn node");
        // Collected so a failure can show what the server said.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let drain = tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf).await {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let read = tokio::time::timeout(PATIENCE, stdout.read_line(&mut line)).await;
        let Some(issuer) = line.trim_end().strip_prefix("READY ") else {
            // The pipe closes with the process; then stderr is complete.
            let _ = child.kill().await;
            let _ = tokio::time::timeout(PATIENCE, drain).await;
            panic!(
                "as.mjs did not start ({read:?}, first line {line:?}); stderr:\n{}",
                stderr.lock().unwrap()
            );
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PATIENCE)
            .build()
            .unwrap();
        Some(Self {
            issuer: issuer.to_owned(),
            http,
            stderr,
            _child: child,
            _stdout: stdout,
        })
    }

    /// What the server wrote on stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The static confidential client a resource server uses for
    /// introspection.
    pub(crate) fn resource_server() -> Registered {
        Registered {
            client_id: RS_CLIENT_ID.to_owned(),
            client_secret: Some(RS_CLIENT_SECRET.to_owned()),
            redirect_uri: None,
        }
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// Panics with the status, `body` and the server's stderr.
    fn fail(&self, what: &str, status: StatusCode, body: &[u8]) -> ! {
        panic!(
            "{what}: {status} {}\nas.mjs stderr:\n{}",
            String::from_utf8_lossy(body),
            self.stderr.lock().unwrap()
        )
    }

    /// GET a JSON document (e.g. `/.well-known/oauth-authorization-server`);
    /// `None` on 404.
    pub(crate) async fn get_json(&self, path: &str) -> Option<Value> {
        let response = self.http.get(self.endpoint(path)).send().await.unwrap();
        let status = response.status();
        let body = response.bytes().await.unwrap();
        match status {
            StatusCode::OK => Some(serde_json::from_slice(&body).unwrap()),
            StatusCode::NOT_FOUND => None,
            _ => self.fail(path, status, &body),
        }
    }

    /// Dynamic client registration (RFC 7591) of a native client.
    /// `auth_method` is the `token_endpoint_auth_method`: `none` for a
    /// public client, `client_secret_basic` or `client_secret_post` for a
    /// confidential one.
    pub(crate) async fn register(
        &self,
        redirect_uris: &[&str],
        grant_types: &[&str],
        auth_method: &str,
    ) -> Registered {
        let response_types: &[&str] = if grant_types.contains(&"authorization_code") {
            &["code"]
        } else {
            &[]
        };
        let request = json!({
            "client_name": "mcp tests",
            "application_type": "native",
            "redirect_uris": redirect_uris,
            "grant_types": grant_types,
            "response_types": response_types,
            "token_endpoint_auth_method": auth_method,
        });
        let response = self
            .http
            .post(self.endpoint("/reg"))
            .header("content-type", "application/json")
            .body(request.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.bytes().await.unwrap();
        if status != StatusCode::CREATED {
            self.fail("registration", status, &body);
        }
        let v: Value = serde_json::from_slice(&body).unwrap();
        Registered {
            client_id: v["client_id"].as_str().unwrap().to_owned(),
            client_secret: v["client_secret"].as_str().map(str::to_owned),
            redirect_uri: redirect_uris.first().map(|u| (*u).to_owned()),
        }
    }

    /// The authorization endpoint URL for `client` with the standard
    /// parameters (`response_type=code`, `client_id`, `redirect_uri`) and
    /// `params`.
    pub(crate) fn authorization_url(&self, client: &Registered, params: &[(&str, &str)]) -> String {
        let mut url = Url::parse(&self.endpoint("/auth")).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.client_id)
            .append_pair("redirect_uri", client.redirect_uri.as_deref().unwrap())
            .extend_pairs(params);
        url.into()
    }

    /// Plays the browser: follows the redirects from `url` by hand, keeping
    /// cookies, through the server's self-answering login and consent, and
    /// returns the query of the first redirect to `redirect_uri` (which need
    /// not listen). Panics on anything but a redirect.
    pub(crate) async fn browse(&self, url: &str, redirect_uri: &str) -> HashMap<String, String> {
        let target = Url::parse(redirect_uri).unwrap();
        let mut url = Url::parse(url).unwrap();
        let mut jar: Vec<(String, String)> = Vec::new();
        // Five in practice: /auth, login, /auth, consent, /auth.
        for _ in 0..10 {
            let cookies = jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let response = self
                .http
                .get(url.clone())
                .header(COOKIE, cookies)
                .send()
                .await
                .unwrap();
            for set in response.headers().get_all(SET_COOKIE) {
                let pair = set.to_str().unwrap().split(';').next().unwrap();
                let (name, value) = pair.split_once('=').unwrap();
                jar.retain(|(k, _)| k != name);
                // An emptied cookie is a deleted one.
                if !value.is_empty() {
                    jar.push((name.to_owned(), value.to_owned()));
                }
            }
            let status = response.status();
            let Some(location) = response.headers().get(LOCATION).cloned() else {
                let body = response.bytes().await.unwrap();
                self.fail(&format!("GET {url}"), status, &body);
            };
            url = url.join(location.to_str().unwrap()).unwrap();
            let mut bare = url.clone();
            bare.set_query(None);
            if bare == target {
                return url.query_pairs().into_owned().collect();
            }
        }
        panic!("no redirect to {redirect_uri} after 10 hops (last: {url})");
    }

    /// The authorization code flow, headless: PKCE S256, `state`, the
    /// `resource` indicator on both legs; checks `state` and the RFC 9207
    /// `iss` on the callback. The client needs a redirect URI.
    pub(crate) async fn authorize(
        &self,
        client: &Registered,
        resource: &str,
        scope: &str,
    ) -> Tokens {
        self.authorize_as(client, resource, scope, "test-user")
            .await
    }

    /// [`Oidc::authorize`] with `user` signing in.
    pub(crate) async fn authorize_as(
        &self,
        client: &Registered,
        resource: &str,
        scope: &str,
        user: &str,
    ) -> Tokens {
        let pkce = Pkce::new();
        let state = random();
        let url = self.authorization_url(
            client,
            &[
                ("scope", scope),
                ("state", &state),
                ("code_challenge", &pkce.challenge),
                ("code_challenge_method", "S256"),
                ("resource", resource),
                ("login_hint", user),
            ],
        );
        let redirect_uri = client.redirect_uri.as_deref().unwrap();
        let callback = self.browse(&url, redirect_uri).await;
        assert_eq!(callback.get("error"), None, "{callback:?}");
        assert_eq!(callback.get("state"), Some(&state), "{callback:?}");
        assert_eq!(callback.get("iss").map(String::as_str), Some(self.issuer()));
        let code = &callback["code"];
        self.token(
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", &pkce.verifier),
                ("resource", resource),
            ],
        )
        .await
        .unwrap_or_else(|e| panic!("code exchange: {e:?}"))
    }

    /// The refresh grant, with `resource` as MCP clients must send it.
    pub(crate) async fn refresh(
        &self,
        client: &Registered,
        refresh_token: &str,
        resource: &str,
    ) -> Result<Tokens, Refused> {
        self.token(
            client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("resource", resource),
            ],
        )
        .await
    }

    /// The client credentials grant, for a confidential client registered
    /// with it.
    pub(crate) async fn client_credentials(
        &self,
        client: &Registered,
        resource: &str,
        scope: &str,
    ) -> Result<Tokens, Refused> {
        self.token(
            client,
            &[
                ("grant_type", "client_credentials"),
                ("resource", resource),
                ("scope", scope),
            ],
        )
        .await
    }

    /// A token request; the client authenticates with client_secret_basic
    /// when it has a secret, else sends its `client_id`.
    pub(crate) async fn token(
        &self,
        client: &Registered,
        params: &[(&str, &str)],
    ) -> Result<Tokens, Refused> {
        let (status, v) = self.form_post("/token", client, params).await;
        if status != StatusCode::OK {
            return Err(Refused {
                status,
                error: v["error"].as_str().unwrap_or_default().to_owned(),
                description: v["error_description"].as_str().map(str::to_owned),
            });
        }
        let text = |k: &str| v[k].as_str().map(str::to_owned);
        Ok(Tokens {
            access_token: text("access_token").unwrap(),
            token_type: text("token_type").unwrap(),
            refresh_token: text("refresh_token"),
            expires_in: v["expires_in"].as_u64().unwrap(),
            scope: text("scope"),
        })
    }

    /// RFC 7662 introspection as `client` (client_secret_basic).
    pub(crate) async fn introspect(&self, client: &Registered, token: &str) -> Value {
        let (status, v) = self
            .form_post("/token/introspection", client, &[("token", token)])
            .await;
        assert_eq!(status, StatusCode::OK, "introspection: {v}");
        v
    }

    /// RFC 7009 revocation as `client`.
    pub(crate) async fn revoke(&self, client: &Registered, token: &str) {
        let (status, v) = self
            .form_post("/token/revocation", client, &[("token", token)])
            .await;
        assert_eq!(status, StatusCode::OK, "revocation: {v}");
    }

    async fn form_post(
        &self,
        path: &str,
        client: &Registered,
        params: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        // x-www-form-urlencoded, the way a URL query is.
        let mut form = Url::parse("http://form.invalid/").unwrap();
        form.query_pairs_mut().extend_pairs(params);
        let mut request = self
            .http
            .post(self.endpoint(path))
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(secret) = &client.client_secret {
            request = request.basic_auth(&client.client_id, Some(secret));
        } else {
            form.query_pairs_mut()
                .append_pair("client_id", &client.client_id);
        }
        let response = request
            .body(form.query().unwrap_or_default().to_owned())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.bytes().await.unwrap();
        // Revocation answers with an empty body.
        if body.is_empty() {
            return (status, Value::Null);
        }
        match serde_json::from_slice(&body) {
            Ok(v) => (status, v),
            Err(_) => self.fail(path, status, &body),
        }
    }
}

/// A JWT's header and claims, decoded without checking the signature.
pub(crate) fn jwt_parts(token: &str) -> Option<(Value, Value)> {
    let mut parts = token.split('.');
    let decode = |part: Option<&str>| -> Option<Value> {
        serde_json::from_slice(&B64.decode(part?).ok()?).ok()
    };
    let header = decode(parts.next())?;
    let claims = decode(parts.next())?;
    (parts.count() == 1).then_some((header, claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MCP: &str = "http://127.0.0.1:1234/mcp";
    const OPAQUE: &str = "http://127.0.0.1:1234/opaque";
    const REDIRECT: &str = "http://127.0.0.1:53682/callback";

    #[tokio::test]
    async fn metadata_lists_s256_and_the_endpoints() {
        let Some(oidc) = Oidc::start().await else {
            return;
        };
        let iss = oidc.issuer();
        assert!(iss.starts_with("http://127.0.0.1:"), "{iss}");
        let meta = oidc
            .get_json("/.well-known/oauth-authorization-server")
            .await
            .unwrap();
        assert_eq!(meta["issuer"], iss);
        assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
        for (key, path) in [
            ("authorization_endpoint", "/auth"),
            ("token_endpoint", "/token"),
            ("registration_endpoint", "/reg"),
            ("introspection_endpoint", "/token/introspection"),
            ("revocation_endpoint", "/token/revocation"),
            ("jwks_uri", "/jwks"),
        ] {
            assert_eq!(meta[key], format!("{iss}{path}"), "{key}");
        }
        for grant in ["authorization_code", "refresh_token", "client_credentials"] {
            assert!(
                meta["grant_types_supported"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(grant)),
                "{grant}"
            );
        }
        for scope in ["mcp:read", "mcp:write", "mcp:admin"] {
            assert!(
                meta["scopes_supported"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(scope))
            );
        }
        // The OpenID location serves the same document.
        let oidc_meta = oidc
            .get_json("/.well-known/openid-configuration")
            .await
            .unwrap();
        assert_eq!(oidc_meta, meta);
        let jwks = oidc.get_json("/jwks").await.unwrap();
        assert_eq!(jwks["keys"][0]["kid"], "test-rs256");
        assert_eq!(jwks["keys"][0]["alg"], "RS256");
        assert_eq!(jwks["keys"][0].get("d"), None, "no private parts");
    }

    #[tokio::test]
    async fn metadata_knobs_for_negative_tests() {
        let Some(oidc) = Oidc::start_with(&[
            ("AS_METADATA", "oidc"),
            ("AS_DROP_PKCE_METADATA", "1"),
            ("AS_ISSUER_OVERRIDE", "http://127.0.0.1:9/elsewhere"),
        ])
        .await
        else {
            return;
        };
        assert_eq!(
            oidc.get_json("/.well-known/oauth-authorization-server")
                .await,
            None
        );
        let meta = oidc
            .get_json("/.well-known/openid-configuration")
            .await
            .unwrap();
        assert_eq!(meta.get("code_challenge_methods_supported"), None);
        assert_eq!(meta["issuer"], "http://127.0.0.1:9/elsewhere");
    }

    #[tokio::test]
    async fn code_flow_gives_a_jwt_bound_to_the_resource() {
        let Some(oidc) = Oidc::start().await else {
            return;
        };
        let client = oidc
            .register(
                &[REDIRECT],
                &["authorization_code", "refresh_token"],
                "none",
            )
            .await;
        assert_eq!(client.client_secret, None);
        // Scopes outside the resource's set are dropped, not refused.
        let tokens = oidc
            .authorize(&client, MCP, "mcp:read mcp:write other:thing")
            .await;
        assert_eq!(tokens.token_type, "Bearer");
        assert_eq!(tokens.scope.as_deref(), Some("mcp:read mcp:write"));
        assert_eq!(tokens.expires_in, 300);
        assert!(tokens.refresh_token.is_some());
        let (header, claims) = jwt_parts(&tokens.access_token).expect("a JWT");
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["kid"], "test-rs256");
        assert_eq!(claims["aud"], MCP);
        assert_eq!(claims["iss"], oidc.issuer());
        assert_eq!(claims["scope"], "mcp:read mcp:write");
        assert_eq!(claims["client_id"], client.client_id.as_str());
        assert_eq!(claims["sub"], "test-user");
        let (iat, exp) = (
            claims["iat"].as_u64().unwrap(),
            claims["exp"].as_u64().unwrap(),
        );
        assert_eq!(exp - iat, 300);
        assert!(claims["jti"].is_string());
    }

    #[tokio::test]
    async fn authorization_refusals_come_back_on_the_redirect() {
        let Some(oidc) = Oidc::start().await else {
            return;
        };
        let client = oidc
            .register(&[REDIRECT], &["authorization_code"], "none")
            .await;
        let pkce = Pkce::new();
        let s256 = [
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let cases: [(&[(&str, &str)], &str); 4] = [
            // PKCE is required...
            (&[("resource", MCP)], "invalid_request"),
            // ...and plain is not a method here.
            (
                &[
                    ("resource", MCP),
                    ("code_challenge", &pkce.verifier),
                    ("code_challenge_method", "plain"),
                ],
                "invalid_request",
            ),
            // Only loopback resource servers exist.
            (
                &[("resource", "https://example.com/mcp"), s256[0], s256[1]],
                "invalid_target",
            ),
            (
                &[("resource", MCP), ("login_hint", "deny"), s256[0], s256[1]],
                "access_denied",
            ),
        ];
        for (params, error) in cases {
            let mut params = params.to_vec();
            params.extend([("scope", "mcp:read"), ("state", "s1")]);
            let url = oidc.authorization_url(&client, &params);
            let callback = oidc.browse(&url, REDIRECT).await;
            assert_eq!(
                callback.get("error").map(String::as_str),
                Some(error),
                "{callback:?}"
            );
            assert_eq!(callback["state"], "s1");
            assert_eq!(callback["iss"], oidc.issuer());
            assert_eq!(callback.get("code"), None);
        }
    }

    #[tokio::test]
    async fn refresh_rotates_and_reuse_revokes_the_grant() {
        let Some(oidc) = Oidc::start().await else {
            return;
        };
        let client = oidc
            .register(
                &[REDIRECT],
                &["authorization_code", "refresh_token"],
                "none",
            )
            .await;
        let first = oidc.authorize(&client, MCP, "mcp:read").await;
        let old = first.refresh_token.unwrap();
        let second = oidc.refresh(&client, &old, MCP).await.unwrap();
        let new = second.refresh_token.clone().unwrap();
        assert_ne!(new, old, "rotated");
        assert_ne!(second.access_token, first.access_token);
        let (_, claims) = jwt_parts(&second.access_token).unwrap();
        assert_eq!(claims["aud"], MCP);
        assert_eq!(claims["scope"], "mcp:read");
        // A resource not granted at /auth is refused.
        let e = oidc
            .refresh(&client, &new, "http://127.0.0.1:1234/other")
            .await
            .unwrap_err();
        assert_eq!(e.error, "invalid_target", "{e:?}");
        // Replaying the rotated token fails and takes the grant with it.
        let e = oidc.refresh(&client, &old, MCP).await.unwrap_err();
        assert_eq!(
            (e.status, e.error.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_grant")
        );
        let e = oidc.refresh(&client, &new, MCP).await.unwrap_err();
        assert_eq!(e.error, "invalid_grant", "{e:?}");
    }

    #[tokio::test]
    async fn opaque_resource_tokens_introspect_and_revoke() {
        let Some(oidc) = Oidc::start().await else {
            return;
        };
        let client = oidc
            .register(&[REDIRECT], &["authorization_code"], "client_secret_basic")
            .await;
        assert!(client.client_secret.is_some());
        let tokens = oidc.authorize(&client, OPAQUE, "mcp:read mcp:admin").await;
        assert!(jwt_parts(&tokens.access_token).is_none());
        assert!(
            !tokens.access_token.contains('.'),
            "{}",
            tokens.access_token
        );
        for asker in [&client, &Oidc::resource_server()] {
            let v = oidc.introspect(asker, &tokens.access_token).await;
            assert_eq!(v["active"], true, "{v}");
            assert_eq!(v["aud"], OPAQUE);
            assert_eq!(v["iss"], oidc.issuer());
            assert_eq!(v["scope"], "mcp:read mcp:admin");
            assert_eq!(v["client_id"], client.client_id.as_str());
            assert_eq!(v["sub"], "test-user");
            assert_eq!(v["token_type"], "Bearer");
            assert!(v["exp"].is_u64());
        }
        // Which is why there is an opaque resource: JWTs are not introspected.
        let jwt = oidc.authorize(&client, MCP, "mcp:read").await.access_token;
        let (status, v) = oidc
            .form_post("/token/introspection", &client, &[("token", &jwt)])
            .await;
        assert_eq!(
            (status, &v["error"]),
            (StatusCode::BAD_REQUEST, &json!("unsupported_token_type"))
        );
        let v = oidc.introspect(&client, "not-a-token").await;
        assert_eq!(v, json!({"active": false}));
        // Wrong credentials are a client authentication failure.
        let mut wrong = client.clone();
        wrong.client_secret = Some("wrong".into());
        let (status, v) = oidc
            .form_post(
                "/token/introspection",
                &wrong,
                &[("token", &tokens.access_token)],
            )
            .await;
        assert_eq!(
            (status, &v["error"]),
            (StatusCode::UNAUTHORIZED, &json!("invalid_client"))
        );
        oidc.revoke(&client, &tokens.access_token).await;
        let v = oidc.introspect(&client, &tokens.access_token).await;
        assert_eq!(v["active"], false);
    }

    #[tokio::test]
    async fn client_credentials_gives_a_resource_bound_jwt() {
        let Some(oidc) = Oidc::start().await else {
            return;
        };
        let client = oidc
            .register(&[], &["client_credentials"], "client_secret_basic")
            .await;
        let tokens = oidc
            .client_credentials(&client, MCP, "mcp:admin other:thing")
            .await
            .unwrap();
        assert_eq!(tokens.scope.as_deref(), Some("mcp:admin"));
        assert_eq!(tokens.refresh_token, None);
        let (header, claims) = jwt_parts(&tokens.access_token).unwrap();
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(claims["aud"], MCP);
        assert_eq!(claims["iss"], oidc.issuer());
        assert_eq!(claims["sub"], client.client_id.as_str());
        assert_eq!(claims["client_id"], client.client_id.as_str());
        assert_eq!(claims["scope"], "mcp:admin");
        // A client registered without the grant cannot use it (oidc-provider
        // says invalid_request where RFC 6749 has unauthorized_client).
        let other = oidc
            .register(&[REDIRECT], &["authorization_code"], "client_secret_basic")
            .await;
        let e = oidc
            .client_credentials(&other, MCP, "mcp:read")
            .await
            .unwrap_err();
        assert_eq!(e.error, "invalid_request", "{e:?}");
        assert_eq!(
            e.description.as_deref(),
            Some("requested grant type is not allowed for this client")
        );
    }
}
