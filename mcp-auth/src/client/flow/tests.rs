use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::*;
use crate::client::Secret;
use jsonwebtoken::Algorithm;

const RESOURCE: &str = "https://mcp.example.com/mcp";
const REDIRECT: &str = "http://127.0.0.1:4567/callback";
/// A bound so a broken test fails instead of hanging; nothing waits for it.
const PATIENCE: Duration = Duration::from_secs(20);

fn metadata_with(token_endpoint: &str, changes: &Value) -> AuthorizationServerMetadata {
    let mut v = json!({
        "issuer": "https://as.example.com",
        "authorization_endpoint": "https://as.example.com/authorize?tenant=a",
        "token_endpoint": token_endpoint,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": ["openid", "offline_access"],
    });
    for (k, change) in changes.as_object().unwrap() {
        if change.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = change.clone();
        }
    }
    serde_json::from_value(v).unwrap()
}

fn metadata(changes: &Value) -> AuthorizationServerMetadata {
    metadata_with("https://as.example.com/token", changes)
}

fn request(metadata: &AuthorizationServerMetadata) -> AuthorizationRequest {
    AuthorizationRequest::new(
        metadata,
        &Credentials::public("app"),
        REDIRECT,
        RESOURCE,
        Some(" mcp:read   mcp:write "),
    )
    .unwrap()
}

/// The callback a well-behaved server would send.
fn callback(pending: &PendingAuthorization, extra: &[(&str, &str)]) -> CallbackParams {
    let mut pairs = vec![
        ("code", "the-code"),
        ("state", pending.state().as_str()),
        ("iss", pending.issuer()),
    ];
    for (k, v) in extra {
        pairs.retain(|(name, _)| name != k);
        if !v.is_empty() {
            pairs.push((k, v));
        }
    }
    pairs.into_iter().collect()
}

#[test]
fn the_url_carries_everything() {
    let m = metadata(&json!({}));
    let req = request(&m)
        .with_param("login_hint", "alice")
        .with_param("state", "mine");
    let url = Url::parse(&req.url()).unwrap();
    assert_eq!(url.path(), "/authorize");
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let get = |k: &str| -> Vec<&str> {
        q.iter()
            .filter(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let p = req.pending();
    assert_eq!(get("tenant"), ["a"], "the endpoint's own query is kept");
    assert_eq!(get("response_type"), ["code"]);
    assert_eq!(get("client_id"), ["app"]);
    assert_eq!(get("redirect_uri"), [REDIRECT]);
    assert_eq!(get("scope"), ["mcp:read mcp:write"]);
    assert_eq!(get("state"), [p.state().as_str()], "not overridden");
    assert_eq!(get("code_challenge"), [p.pkce.challenge()]);
    assert_eq!(get("code_challenge_method"), ["S256"]);
    assert_eq!(get("resource"), [RESOURCE]);
    assert_eq!(get("login_hint"), ["alice"]);
    assert_eq!(p.issuer(), "https://as.example.com");
    assert_eq!(p.scope(), Some("mcp:read mcp:write"));
    // The verifier goes nowhere near the URL or Debug.
    let verifier = p.pkce.verifier().expose();
    assert!(!req.url().contains(verifier));
    assert!(!format!("{req:?}").contains(verifier));
    // Each request is fresh.
    let other = request(&m);
    assert!(!other.pending().state().matches(p.state().as_str()));
    // No scope, no parameter.
    let bare = AuthorizationRequest::new(
        &m,
        &Credentials::public("app"),
        REDIRECT,
        RESOURCE,
        Some(" "),
    )
    .unwrap();
    assert!(!bare.url().contains("scope="));
}

#[test]
fn pkce_s256_is_required() {
    for methods in [json!(null), json!([]), json!(["plain"])] {
        let m = metadata(&json!({ "code_challenge_methods_supported": methods }));
        let e = AuthorizationRequest::new(&m, &Credentials::public("a"), REDIRECT, RESOURCE, None)
            .unwrap_err();
        assert!(matches!(&e, Error::Config(m) if m.contains("S256")), "{e}");
    }
}

#[test]
fn endpoints_and_redirects_are_https_or_loopback() {
    let ok = |token: &str, redirect: &str, resource: &str| {
        AuthorizationRequest::new(
            &metadata_with(token, &json!({})),
            &Credentials::public("a"),
            redirect,
            resource,
            None,
        )
    };
    for token in [
        "https://as.example.com/token",
        "http://127.0.0.1:9000/token",
        "http://127.9.9.9/token",
        "http://localhost:9000/token",
        "http://[::1]:9000/token",
    ] {
        ok(token, REDIRECT, RESOURCE).unwrap();
    }
    for token in [
        "http://as.example.com/token",
        "http://10.0.0.1/token",
        "http://localhost.evil.example/token",
        "ftp://127.0.0.1/token",
        "/token",
    ] {
        let e = ok(token, REDIRECT, RESOURCE).unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{token}: {e}");
    }
    ok(
        "https://as.example.com/token",
        "https://app.example/cb",
        RESOURCE,
    )
    .unwrap();
    for redirect in ["http://app.example/cb", "http://127.0.0.1/cb#x", "app:/cb"] {
        assert!(ok("https://as.example.com/token", redirect, RESOURCE).is_err());
    }
    for resource in ["mcp.example.com", "https://mcp.example.com/mcp#frag"] {
        assert!(ok("https://as.example.com/token", REDIRECT, resource).is_err());
    }
    let no_token = metadata(&json!({ "token_endpoint": null }));
    assert!(
        AuthorizationRequest::new(
            &no_token,
            &Credentials::public("a"),
            REDIRECT,
            RESOURCE,
            None
        )
        .is_err()
    );
}

/// A P-256 key for tests only: PKCS#8 DER, base64, and its public half.
const TEST_EC_KEY: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzMj2GJHRHJNvEoNbPk4f9Wa+VMAmPGA9p8ZDW8q/7EWhRANCAATDWhyvAHl070YFK607QvCh1/j2Vi0xl5yV8nfgSPIIQP5OP6xfUy1e85ZRnlOwgezblTVRRsRizjujpvPNoiMj";
const TEST_EC_X: &str = "w1ocrwB5dO9GBSutO0Lwodf49lYtMZeclfJ34EjyCEA";
const TEST_EC_Y: &str = "_k4_rF9TLV7zllGeU7CB7NuVNVFGxGLOO6Om882iIyM";

pub(crate) fn test_key() -> SigningKey {
    let der =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, TEST_EC_KEY).unwrap();
    SigningKey::from_der(Algorithm::ES256, &der)
        .unwrap()
        .with_kid("k1")
}

#[test]
fn signing_keys_are_checked() {
    let der =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, TEST_EC_KEY).unwrap();
    for (alg, der) in [
        (Algorithm::HS256, &der[..]),
        (Algorithm::RS256, &der[..]),
        (Algorithm::ES384, &der[..]),
        (Algorithm::ES256, &b"junk"[..]),
    ] {
        assert!(
            matches!(SigningKey::from_der(alg, der), Err(Error::Config(_))),
            "{alg:?}"
        );
    }
    let debug = format!("{:?}", test_key());
    assert_eq!(
        debug,
        "SigningKey { algorithm: ES256, kid: Some(\"k1\"), .. }"
    );
}

#[test]
fn auth_method_choice() {
    use ClientAuthMethod::*;
    let with =
        |methods: Value| metadata(&json!({ "token_endpoint_auth_methods_supported": methods }));
    let public = Credentials::public("a");
    let confidential = Credentials::confidential("a", Secret::new("s"));
    let keyed = Credentials::private_key("a", test_key());
    let all = json!([
        "none",
        "client_secret_post",
        "client_secret_basic",
        "private_key_jwt"
    ]);
    let cases: [(&Credentials, Value, Option<ClientAuthMethod>); 11] = [
        (&public, json!(["client_secret_basic"]), Some(None)),
        (&public, all.clone(), Some(None)),
        // RFC 8414's default.
        (&confidential, json!(null), Some(ClientSecretBasic)),
        (&confidential, all.clone(), Some(ClientSecretBasic)),
        (
            &confidential,
            json!(["none", "client_secret_post"]),
            Some(ClientSecretPost),
        ),
        (
            &confidential,
            json!(["none", "private_key_jwt"]),
            Option::None,
        ),
        (&keyed, all.clone(), Some(PrivateKeyJwt)),
        (&keyed, json!(["private_key_jwt"]), Some(PrivateKeyJwt)),
        (&keyed, json!(null), Option::None),
        (&keyed, json!(["client_secret_basic"]), Option::None),
        (&keyed, json!(["none"]), Option::None),
    ];
    for (credentials, methods, expected) in cases {
        let got = credentials.auth_method(&with(methods.clone()));
        match expected {
            Some(method) => assert_eq!(got, Ok(method), "{credentials:?} {methods}"),
            Option::None => assert!(
                matches!(got, Err(Error::Config(_))),
                "{credentials:?} {methods}: {got:?}"
            ),
        }
    }
    // The registered method wins, when the credentials can do it.
    let registered = confidential.clone().with_auth_method(ClientSecretPost);
    assert_eq!(
        registered.auth_method(&with(json!(["client_secret_basic"]))),
        Ok(ClientSecretPost)
    );
    for (credentials, method) in [
        (&public, ClientSecretBasic),
        (&public, PrivateKeyJwt),
        (&confidential, PrivateKeyJwt),
        (&keyed, ClientSecretPost),
    ] {
        assert!(matches!(
            credentials
                .clone()
                .with_auth_method(method)
                .auth_method(&with(all.clone())),
            Err(Error::Config(_))
        ));
    }
    for method in [None, ClientSecretBasic, ClientSecretPost, PrivateKeyJwt] {
        assert_eq!(ClientAuthMethod::from_name(method.name()), Some(method));
    }
    assert_eq!(ClientAuthMethod::from_name("tls_client_auth"), Option::None);
    assert!(!format!("{confidential:?}").contains("\"s\""));
}

#[test]
fn scope_selection() {
    let server = metadata(&json!({}));
    let without_offline = metadata(&json!({ "scopes_supported": ["mcp:read"] }));
    let prm = ProtectedResourceMetadata::new(RESOURCE, "https://as.example.com")
        .with_scopes(["mcp:read", "mcp:write"]);
    let empty_prm = ProtectedResourceMetadata::new(RESOURCE, "https://as.example.com");
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a ProtectedResourceMetadata>,
        bool,
        Option<&'a str>,
    );
    let cases: [Case<'_>; 8] = [
        (Some("files:read"), Some(&prm), false, Some("files:read")),
        (Some(" a  b a "), Some(&prm), false, Some("a b")),
        (Some(""), Some(&prm), false, Some("mcp:read mcp:write")),
        (None, Some(&prm), false, Some("mcp:read mcp:write")),
        (None, Some(&empty_prm), false, Option::None),
        (None, Option::None, true, Option::None),
        (
            Some("files:read"),
            Some(&prm),
            true,
            Some("files:read offline_access"),
        ),
        (
            Some("offline_access x"),
            Some(&prm),
            true,
            Some("offline_access x"),
        ),
    ];
    for (challenge, prm, refresh, want) in cases {
        assert_eq!(
            select_scope(challenge, prm, &server, refresh).as_deref(),
            want,
            "{challenge:?} {refresh}"
        );
    }
    assert_eq!(
        select_scope(None, Some(&prm), &without_offline, true).as_deref(),
        Some("mcp:read mcp:write")
    );
}

#[tokio::test]
async fn callbacks_are_checked_before_anything_is_sent() {
    // Nothing listens at this token endpoint: a check that let the code
    // through would fail with Unavailable instead.
    let m = metadata_with("http://127.0.0.1:1/token", &json!({}));
    let pending = request(&m).into_pending();
    let invalid = |e: Error| matches!(e, Error::InvalidResponse(_));
    type Check = fn(Error) -> bool;
    let cases: Vec<(CallbackParams, Check)> = vec![
        (callback(&pending, &[("state", "forged")]), invalid),
        (callback(&pending, &[("state", "")]), invalid),
        (
            callback(&pending, &[("iss", "https://evil.example")]),
            invalid,
        ),
        // Simple string comparison: no normalisation.
        (
            callback(&pending, &[("iss", "https://as.example.com/")]),
            invalid,
        ),
        (
            callback(&pending, &[("iss", "HTTPS://as.example.com")]),
            invalid,
        ),
        // Advertised, so required.
        (callback(&pending, &[("iss", "")]), invalid),
        (callback(&pending, &[("code", "")]), invalid),
        (
            [
                ("code", "a"),
                ("code", "b"),
                ("state", pending.state().as_str()),
                ("iss", pending.issuer()),
            ]
            .into_iter()
            .collect(),
            invalid,
        ),
        // An error with a forged state or issuer is not believed...
        (
            callback(
                &pending,
                &[("code", ""), ("error", "access_denied"), ("state", "x")],
            ),
            invalid,
        ),
        (
            callback(
                &pending,
                &[("code", ""), ("error", "access_denied"), ("iss", "x")],
            ),
            invalid,
        ),
        // ...but is with the right ones.
        (
            callback(
                &pending,
                &[
                    ("code", ""),
                    ("error", "access_denied"),
                    ("error_description", "the user said no"),
                ],
            ),
            |e| {
                e == Error::OAuth {
                    error: "access_denied".into(),
                    description: Some("the user said no".into()),
                }
            },
        ),
    ];
    for (params, expected) in cases {
        let e = complete(&pending, &params).await.unwrap_err();
        assert!(expected(e.clone()), "{params:?}: {e}");
    }
    // The code stays out of Debug.
    let params = callback(&pending, &[]);
    assert!(!format!("{params:?}").contains("the-code"), "{params:?}");
    // Without the metadata promise, a missing iss passes the check (and the
    // exchange is tried).
    let lax = metadata_with(
        "http://127.0.0.1:1/token",
        &json!({ "authorization_response_iss_parameter_supported": null }),
    );
    let pending = request(&lax).into_pending();
    let e = complete(&pending, &callback(&pending, &[("iss", "")]))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unavailable(_)), "{e}");
    // But a present one is still compared.
    let e = complete(
        &pending,
        &callback(&pending, &[("iss", "https://evil.example")]),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::InvalidResponse(_)), "{e}");
}

/// One request as a fake token endpoint saw it.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    authorization: Option<String>,
    form: CallbackParams,
}

/// A token endpoint on loopback answering every request with one canned
/// response, and recording what it was sent.
struct Fake {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fake {
    async fn start(status: u16, headers: &str, body: Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let body = if body.is_string() {
            body.as_str().unwrap().to_owned()
        } else {
            body.to_string()
        };
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{headers}\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let task = tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body) = loop {
                    let n = stream.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length: ")
                                    .map(str::to_owned)
                            })
                            .map_or(0, |n| n.trim().parse::<usize>().unwrap());
                        if body.len() >= length {
                            break (head.to_owned(), body.to_owned());
                        }
                    }
                    assert!(n > 0, "request cut short");
                };
                let header = |name: &str| {
                    head.lines().find_map(|l| {
                        let (k, v) = l.split_once(": ")?;
                        k.eq_ignore_ascii_case(name).then(|| v.to_owned())
                    })
                };
                record.lock().unwrap().push(Seen {
                    target: head.split(' ').nth(1).unwrap().to_owned(),
                    authorization: header("authorization"),
                    form: CallbackParams::from_query(&body),
                });
                assert_eq!(
                    header("content-type").as_deref(),
                    Some("application/x-www-form-urlencoded")
                );
                stream.write_all(response.as_bytes()).await.unwrap();
                let _ = stream.shutdown().await;
            }
        });
        Self { url, seen, task }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn granted() -> Value {
    json!({
        "access_token": "AT1", "token_type": "Bearer", "expires_in": 300,
        "refresh_token": "RT1", "scope": "mcp:read"
    })
}

#[tokio::test]
async fn the_code_exchange_sends_verifier_redirect_and_resource() {
    let fake = Fake::start(200, "", granted()).await;
    let m = metadata_with(&fake.url, &json!({}));
    let pending = request(&m).into_pending();
    let before = SystemTime::now();
    let tokens = complete(&pending, &callback(&pending, &[])).await.unwrap();
    assert_eq!(tokens.access_token.expose(), "AT1");
    assert_eq!(tokens.refresh_token.as_ref().unwrap().expose(), "RT1");
    assert_eq!(tokens.scopes, ["mcp:read"]);
    let at = tokens.expires_at.unwrap();
    assert!(
        at > before + Duration::from_secs(298)
            && at <= SystemTime::now() + Duration::from_secs(300)
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    let form = &seen[0].form;
    assert_eq!(seen[0].target, "/token");
    assert_eq!(form.get("grant_type"), Some("authorization_code"));
    assert_eq!(form.get("code"), Some("the-code"));
    assert_eq!(
        form.get("code_verifier"),
        Some(pending.pkce.verifier().expose())
    );
    assert_eq!(form.get("redirect_uri"), Some(REDIRECT));
    assert_eq!(form.get("resource"), Some(RESOURCE));
    assert_eq!(
        form.get("client_id"),
        Some("app"),
        "public: client_id in the body"
    );
    assert_eq!(form.get("client_secret"), Option::None);
    assert_eq!(seen[0].authorization, Option::None);
}

#[tokio::test]
async fn client_authentication_on_the_wire() {
    let fake = Fake::start(200, "", granted()).await;
    // A secret that needs form-encoding inside Basic.
    let client = Credentials::confidential("my app", Secret::new("s3cr:t/+"));
    let basic = metadata_with(&fake.url, &json!({}));
    let post = metadata_with(
        &fake.url,
        &json!({ "token_endpoint_auth_methods_supported": ["client_secret_post"] }),
    );
    client_credentials(&basic, &client, RESOURCE, Some("mcp:admin"))
        .await
        .unwrap();
    client_credentials(&post, &client, RESOURCE, None)
        .await
        .unwrap();
    let seen = fake.seen();
    let expected = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "my+app:s3cr%3At%2F%2B"
        )
    );
    assert_eq!(seen[0].authorization.as_deref(), Some(expected.as_str()));
    assert_eq!(seen[0].form.get("client_id"), Option::None);
    assert_eq!(seen[0].form.get("client_secret"), Option::None);
    assert_eq!(seen[0].form.get("grant_type"), Some("client_credentials"));
    assert_eq!(seen[0].form.get("resource"), Some(RESOURCE));
    assert_eq!(seen[0].form.get("scope"), Some("mcp:admin"));
    assert_eq!(seen[1].authorization, Option::None);
    assert_eq!(seen[1].form.get("client_id"), Some("my app"));
    assert_eq!(seen[1].form.get("client_secret"), Some("s3cr:t/+"));
    assert_eq!(seen[1].form.get("scope"), Option::None);
    // A public client has no business here, and nothing is sent.
    let e = client_credentials(&basic, &Credentials::public("a"), RESOURCE, None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    assert_eq!(fake.seen().len(), 2);
}

#[tokio::test]
async fn token_exchange_on_the_wire_and_its_answer_checked() {
    let exchanged = json!({
        "access_token": "AT2", "token_type": "Bearer", "expires_in": 300,
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "refresh_token": "never-used",
    });
    let fake = Fake::start(200, "", exchanged).await;
    let client = Credentials::confidential("gateway", Secret::new("s3cret"));
    let metadata = metadata_with(&fake.url, &json!({}));
    let subject = Secret::new("the-users-token");
    let tokens = token_exchange(&metadata, &client, &subject, RESOURCE, Some("mcp:read"))
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose(), "AT2");
    assert_eq!(tokens.scopes, ["mcp:read"]);
    // Exchanged again when it expires, never refreshed.
    assert!(tokens.refresh_token.is_none());
    let seen = fake.seen();
    let form = &seen[0].form;
    assert_eq!(
        form.get("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:token-exchange")
    );
    assert_eq!(form.get("subject_token"), Some("the-users-token"));
    assert_eq!(
        form.get("subject_token_type"),
        Some("urn:ietf:params:oauth:token-type:access_token")
    );
    assert_eq!(form.get("resource"), Some(RESOURCE));
    assert_eq!(form.get("scope"), Some("mcp:read"));
    assert!(seen[0].authorization.is_some(), "the client authenticates");
    // A public client cannot act for anyone: nothing is sent.
    let e = token_exchange(
        &metadata,
        &Credentials::public("a"),
        &subject,
        RESOURCE,
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    assert_eq!(fake.seen().len(), 1);
    // What was issued must be an access token, said so.
    for issued in [
        json!(null),
        json!("urn:ietf:params:oauth:token-type:id_token"),
    ] {
        let mut answer = granted();
        answer["issued_token_type"] = issued;
        let fake = Fake::start(200, "", answer).await;
        let metadata = metadata_with(&fake.url, &json!({}));
        let e = token_exchange(&metadata, &client, &subject, RESOURCE, None)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidResponse(_)), "{e}");
    }
}

#[tokio::test]
async fn private_key_jwt_on_the_wire() {
    let fake = Fake::start(200, "", granted()).await;
    let m = metadata_with(
        &fake.url,
        &json!({ "token_endpoint_auth_methods_supported": ["private_key_jwt"] }),
    );
    let client = Credentials::private_key("my-app", test_key());
    client_credentials(&m, &client, RESOURCE, None)
        .await
        .unwrap();
    client_credentials(&m, &client, RESOURCE, None)
        .await
        .unwrap();
    let seen = fake.seen();
    assert_eq!(seen[0].authorization, Option::None);
    let form = &seen[0].form;
    assert_eq!(form.get("client_id"), Some("my-app"));
    assert_eq!(form.get("client_secret"), Option::None);
    assert_eq!(
        form.get("client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    let assertion = form.get("client_assertion").unwrap();
    let key = jsonwebtoken::DecodingKey::from_ec_components(TEST_EC_X, TEST_EC_Y).unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
    validation.set_audience(&["https://as.example.com"]);
    validation.set_issuer(&["my-app"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Value>(assertion, &key, &validation).unwrap();
    assert_eq!(data.header.kid.as_deref(), Some("k1"));
    let claims = data.claims;
    assert_eq!(claims["sub"], "my-app");
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 60);
    // A fresh assertion each time.
    let again = seen[1].form.get("client_assertion").unwrap();
    let again = jsonwebtoken::decode::<Value>(again, &key, &validation).unwrap();
    assert!(claims["jti"].as_str().unwrap().len() >= 32);
    assert_ne!(again.claims["jti"], claims["jti"]);
}

#[tokio::test]
async fn refresh_rotates_or_keeps() {
    let old = StoredTokens::new(Secret::new("AT0"))
        .with_refresh_token(Secret::new("RT0"))
        .with_scopes(["mcp:read", "mcp:write"]);
    let client = Credentials::public("app");

    let rotating = Fake::start(200, "", granted()).await;
    let m = metadata_with(&rotating.url, &json!({}));
    let new = refresh(&m, &client, &old, RESOURCE).await.unwrap();
    assert_eq!(new.access_token.expose(), "AT1");
    assert_eq!(new.refresh_token.as_ref().unwrap().expose(), "RT1");
    assert_eq!(new.scopes, ["mcp:read"]);
    let form = &rotating.seen()[0].form;
    assert_eq!(form.get("grant_type"), Some("refresh_token"));
    assert_eq!(form.get("refresh_token"), Some("RT0"));
    assert_eq!(form.get("resource"), Some(RESOURCE));
    assert_eq!(form.get("client_id"), Some("app"));

    let keeping = Fake::start(
        200,
        "",
        json!({"access_token": "AT2", "token_type": "Bearer"}),
    )
    .await;
    let m = metadata_with(&keeping.url, &json!({}));
    let new = refresh(&m, &client, &old, RESOURCE).await.unwrap();
    assert_eq!(new.access_token.expose(), "AT2");
    assert_eq!(new.refresh_token.as_ref().unwrap().expose(), "RT0");
    assert_eq!(new.scopes, ["mcp:read", "mcp:write"]);
    assert_eq!(new.expires_at, Option::None);

    let e = refresh(&m, &client, &StoredTokens::new(Secret::new("a")), RESOURCE)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
}

#[tokio::test]
async fn token_endpoint_failures() {
    let client = Credentials::public("app");
    let tokens = StoredTokens::new(Secret::new("a")).with_refresh_token(Secret::new("r"));
    let try_with = |fake: &Fake| {
        let m = metadata_with(&fake.url, &json!({}));
        let (client, tokens) = (client.clone(), tokens.clone());
        async move { refresh(&m, &client, &tokens, RESOURCE).await.unwrap_err() }
    };

    let oauth = Fake::start(
        400,
        "",
        json!({"error": "invalid_grant", "error_description": "grant request is invalid"}),
    )
    .await;
    assert_eq!(
        try_with(&oauth).await,
        Error::OAuth {
            error: "invalid_grant".into(),
            description: Some("grant request is invalid".into())
        }
    );

    // A redirect is not followed: the target would see the refresh token.
    let target = Fake::start(200, "", granted()).await;
    let redirecting = Fake::start(307, &format!("location: {}\r\n", target.url), json!({})).await;
    let e = try_with(&redirecting).await;
    assert!(
        matches!(&e, Error::Unavailable(m) if m.contains("redirect")),
        "{e}"
    );
    assert_eq!(redirecting.seen().len(), 1);
    assert!(target.seen().is_empty());

    let broken = Fake::start(502, "", json!("<html>bad gateway</html>")).await;
    assert!(matches!(try_with(&broken).await, Error::Unavailable(_)));
    let not_json = Fake::start(200, "", json!("access_token=a")).await;
    assert!(matches!(
        try_with(&not_json).await,
        Error::InvalidResponse(_)
    ));
    let not_bearer = Fake::start(200, "", json!({"access_token": "a", "token_type": "N_A"})).await;
    assert!(matches!(
        try_with(&not_bearer).await,
        Error::InvalidResponse(_)
    ));
}

/// Sends `GET target` to the listener at `base` and returns the status and
/// body.
async fn get(base: &str, target: &str) -> (u16, String) {
    let http = reqwest::Client::new();
    let r = http.get(format!("{base}{target}")).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// `http://127.0.0.1:<port>` of a redirect URI.
fn origin(redirect: &str) -> String {
    redirect.trim_end_matches("/callback").to_owned()
}

fn loopback_request(redirect: &LoopbackRedirect) -> PendingAuthorization {
    AuthorizationRequest::new(
        &metadata(&json!({})),
        &Credentials::public("app"),
        redirect.redirect_uri(),
        RESOURCE,
        None,
    )
    .unwrap()
    .into_pending()
}

fn query(params: &CallbackParams) -> String {
    let mut url = Url::parse("http://x/").unwrap();
    url.query_pairs_mut().extend_pairs(params.pairs.iter());
    format!("?{}", url.query().unwrap())
}

#[tokio::test]
async fn the_listener_takes_only_its_answer() {
    let redirect = LoopbackRedirect::bind().await.unwrap();
    let uri = redirect.redirect_uri().to_owned();
    assert!(
        uri.starts_with("http://127.0.0.1:") && uri.ends_with("/callback"),
        "{uri}"
    );
    let base = origin(&uri);
    let pending = loopback_request(&redirect);
    let good = callback(&pending, &[]);
    let browser = async {
        // A connection that never says anything holds nothing up.
        let _silent = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
            .await
            .unwrap();
        assert_eq!(get(&base, "/favicon.ico").await.0, 404);
        let (status, page) = get(
            &base,
            &format!(
                "/callback{}",
                query(&callback(&pending, &[("state", "forged")]))
            ),
        )
        .await;
        assert_eq!(status, 400, "{page}");
        let (status, page) = get(&base, &format!("/callback{}", query(&good))).await;
        assert_eq!(status, 200);
        assert!(page.contains("close this page"), "{page}");
    };
    let (got, ()) = tokio::time::timeout(PATIENCE, async {
        tokio::join!(redirect.wait(&pending, PATIENCE), browser)
    })
    .await
    .unwrap();
    assert_eq!(got.unwrap(), good);
}

#[tokio::test]
async fn an_oversized_request_is_refused_and_the_listener_goes_on() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let redirect = LoopbackRedirect::bind().await.unwrap();
    let base = origin(redirect.redirect_uri());
    let pending = loopback_request(&redirect);
    let good = callback(&pending, &[]);
    let browser = async {
        // A request head far over the 8 KiB the listener reads.
        let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
            .await
            .unwrap();
        let head = format!(
            "GET /callback?{} HTTP/1.1\r\nhost: x\r\n\r\n",
            "a".repeat(64 * 1024)
        );
        let _ = stream.write_all(head.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
            "{answer}"
        );
        let (status, _) = get(&base, &format!("/callback{}", query(&good))).await;
        assert_eq!(status, 200);
    };
    let (got, ()) = tokio::time::timeout(PATIENCE, async {
        tokio::join!(redirect.wait(&pending, PATIENCE), browser)
    })
    .await
    .unwrap();
    assert_eq!(got.unwrap(), good);
}

#[tokio::test]
async fn the_listener_reports_refusals() {
    for (extra, check) in [
        (
            &[("code", ""), ("error", "access_denied")][..],
            (|e: &Error| matches!(e, Error::OAuth { error, .. } if error == "access_denied"))
                as fn(&Error) -> bool,
        ),
        (&[("iss", "https://evil.example")][..], |e: &Error| {
            matches!(e, Error::InvalidResponse(_))
        }),
    ] {
        let redirect = LoopbackRedirect::bind().await.unwrap();
        let base = origin(redirect.redirect_uri());
        let pending = loopback_request(&redirect);
        let target = format!("/callback{}", query(&callback(&pending, extra)));
        let (got, (status, page)) = tokio::time::timeout(PATIENCE, async {
            tokio::join!(redirect.wait(&pending, PATIENCE), get(&base, &target))
        })
        .await
        .unwrap();
        let e = got.unwrap_err();
        assert!(check(&e), "{e}");
        assert_eq!(status, 200);
        assert!(page.contains("close this page"), "{page}");
    }
}

#[tokio::test]
async fn the_listener_times_out() {
    let redirect = LoopbackRedirect::bind().await.unwrap();
    let pending = loopback_request(&redirect);
    let e = redirect
        .wait(&pending, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout(_)), "{e}");

    // A request made for another redirect URI is a mistake, caught at once.
    let redirect = LoopbackRedirect::bind().await.unwrap();
    let e = redirect.wait(&pending, PATIENCE).await.unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
}
