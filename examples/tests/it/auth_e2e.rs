//! The `auth_server` example's application against a real authorization
//! server (`examples/oidc/as.mjs`): tokens obtained with the code flow
//! (PKCE, resource indicator), used by the real client in both eras;
//! scopes, audiences, introspection and revocation; and the example binary
//! itself.

use std::process::Stdio;
use std::time::Duration;

use examples::auth::{self, Config, IntrospectionClient};
use mcp_client::{Client, Error, HttpOptions};
use mcp_core::Era;
use mcp_core::tools::CallToolResult;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::oidc::{Oidc, Registered};
use crate::stdio::example;
use crate::support::{Host, args, options, whoami};

/// Where the test client says it is redirected; nothing listens there.
const REDIRECT: &str = "http://127.0.0.1:53682/callback";

/// A bound on start-up, so a wedged child fails the test instead of
/// hanging it.
const PATIENCE: Duration = Duration::from_secs(60);

/// Builds the example's application for `oidc`'s tokens, with the URL
/// it is served at as the resource, changed by `configure`, and serves it
/// on a free loopback port; its URL.
async fn serve(oidc: &Oidc, configure: impl FnOnce(&mut Config)) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let mut config = Config::new(oidc.issuer(), &url);
    configure(&mut config);
    let (app, endpoint) = auth::app(&config).await.unwrap();
    tokio::spawn(auth::serve(listener, app, endpoint, std::future::pending()));
    url
}

/// A public client registered by DCR, for the code flow.
async fn public_client(oidc: &Oidc) -> Registered {
    oidc.register(&[REDIRECT], &["authorization_code"], "none")
        .await
}

/// A client sending `Authorization: Bearer <token>`.
async fn connect(url: &str, era: Era, token: &str) -> Result<Client, Error> {
    let http = HttpOptions::default().with_header("authorization", &format!("Bearer {token}"))?;
    Client::connect_http(url, options(era), http, Host::default()).await
}

async fn save_note(client: &Client) -> Result<CallToolResult, Error> {
    let note = json!({"name": "from-admin", "text": "hello"});
    client.call_tool("save_note", args(note)).await
}

async fn get_json(url: &str) -> Value {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK, "{url}");
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

/// The text of an HTTP refusal: status, challenges and body.
fn refusal(e: &Error) -> String {
    match e {
        Error::Http { .. } => e.to_string(),
        other => panic!("not a refusal: {other:?}"),
    }
}

#[tokio::test]
async fn jwt_from_the_code_flow_works_in_both_eras_with_per_tool_scopes() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let url = serve(&oidc, |_| {}).await;
    let client_app = public_client(&oidc).await;
    let reader = oidc.authorize(&client_app, &url, "mcp:read").await;
    let admin = oidc
        .authorize(&client_app, &url, "mcp:read mcp:admin")
        .await;
    for era in [Era::Modern, Era::Legacy] {
        let client = connect(&url, era, &reader.access_token).await.unwrap();
        assert_eq!(client.server().era, era);
        let me = whoami(&client).await;
        assert_eq!(me["subject"], "test-user", "{era:?}");
        assert_eq!(me["client_id"], client_app.client_id.as_str());
        assert_eq!(me["scopes"], json!(["mcp:read"]));
        let r = client
            .call_tool("echo", args(json!({"message": "authorized"})))
            .await
            .unwrap();
        assert_eq!(r.content[0].as_text(), Some("authorized"));
        // mcp:admin is missing: the layer answers 403 before the tool runs.
        let e = save_note(&client).await.unwrap_err();
        let text = refusal(&e);
        assert!(
            text.contains("HTTP 403") && text.contains("error=\"insufficient_scope\""),
            "{era:?}: {text}"
        );
        assert!(text.contains("scope=\"mcp:admin mcp:read\""), "{text}");
        client.close().await.unwrap();

        let client = connect(&url, era, &admin.access_token).await.unwrap();
        assert_eq!(
            whoami(&client).await["scopes"],
            json!(["mcp:admin", "mcp:read"])
        );
        let r = save_note(&client).await.unwrap();
        assert_eq!(
            r.content[0].as_text(),
            Some("saved memo://notes/from-admin")
        );
        client.close().await.unwrap();
    }
}

#[tokio::test]
async fn missing_and_foreign_tokens_are_refused_and_metadata_points_at_the_issuer() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let url = serve(&oidc, |_| {}).await;
    let origin = url.strip_suffix("/mcp").unwrap();
    let metadata_url = format!("{origin}/.well-known/oauth-protected-resource/mcp");
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let prm = get_json(&format!("{origin}{path}")).await;
        assert_eq!(prm["resource"], url.as_str(), "{path}");
        assert_eq!(prm["authorization_servers"], json!([oidc.issuer()]));
        assert_eq!(prm["scopes_supported"], json!(["mcp:read", "mcp:admin"]));
    }
    // No token: 401, and the challenge says where to learn more.
    let Err(e) = Client::connect_http(
        &url,
        options(Era::Modern),
        HttpOptions::default(),
        Host::default(),
    )
    .await
    else {
        panic!("connecting without a token should fail")
    };
    let text = refusal(&e);
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(
        text.contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "{text}"
    );
    // A valid token of the same issuer, for another resource (RFC 8707):
    // refused, whichever era the client speaks.
    let client_app = public_client(&oidc).await;
    let foreign = oidc
        .authorize(&client_app, "http://127.0.0.1:1/mcp", "mcp:read mcp:admin")
        .await;
    for era in [Era::Modern, Era::Legacy] {
        let Err(e) = connect(&url, era, &foreign.access_token).await else {
            panic!("a token for another resource should be refused")
        };
        let text = refusal(&e);
        assert!(
            text.contains("HTTP 401") && text.contains("error=\"invalid_token\""),
            "{text}"
        );
        assert!(text.contains("another audience"), "{text}");
    }
    let e = connect(&url, Era::Modern, "not-a-token").await.unwrap_err();
    assert!(refusal(&e).contains("HTTP 401"), "{e}");
}

#[tokio::test]
async fn opaque_tokens_are_introspected_and_stop_working_once_revoked() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    // The test authorization server issues opaque tokens only for
    // resources whose path ends in /opaque, and introspection checks that
    // `aud` is the configured audience: so here the introspection verifier
    // expects `<origin>/opaque` while the endpoint stays at `/mcp`, where
    // JWTs for `/mcp` keep working. A real deployment gives both the same
    // resource URL, as the example does.
    let rs = Oidc::resource_server();
    let url = serve(&oidc, |config| {
        let opaque = config.resource.replace("/mcp", "/opaque");
        config.introspection = Some(IntrospectionClient {
            client_id: rs.client_id,
            client_secret: mcp_auth::Secret::new(rs.client_secret.unwrap()),
            audience: opaque,
        });
        // Every request is verified again, so a revocation shows at once.
        config.cache_ttl = Some(Duration::ZERO);
    })
    .await;
    let opaque_resource = url.replace("/mcp", "/opaque");

    let client_app = oidc
        .register(&[REDIRECT], &["authorization_code"], "client_secret_basic")
        .await;
    let opaque = oidc
        .authorize(&client_app, &opaque_resource, "mcp:read")
        .await;
    assert!(!opaque.access_token.contains('.'), "an opaque token");
    let jwt = oidc.authorize(&client_app, &url, "mcp:read").await;

    let client = connect(&url, Era::Legacy, &opaque.access_token)
        .await
        .unwrap();
    let me = whoami(&client).await;
    assert_eq!(me["subject"], "test-user");
    assert_eq!(me["client_id"], client_app.client_id.as_str());
    assert_eq!(me["scopes"], json!(["mcp:read"]));
    // JWTs still go through the JWT verifier first.
    let jwt_client = connect(&url, Era::Modern, &jwt.access_token).await.unwrap();
    assert_eq!(whoami(&jwt_client).await["subject"], "test-user");

    oidc.revoke(&client_app, &opaque.access_token).await;
    let e = client
        .call_tool("whoami", args(json!({})))
        .await
        .unwrap_err();
    let text = refusal(&e);
    assert!(
        text.contains("HTTP 401") && text.contains("error=\"invalid_token\""),
        "{text}"
    );
    assert!(text.contains("not active"), "{text}");
    let e = connect(&url, Era::Modern, &opaque.access_token)
        .await
        .unwrap_err();
    assert!(refusal(&e).contains("HTTP 401"), "{e}");
}

#[tokio::test]
async fn api_keys_stand_for_their_subject_and_scopes() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let key = "a-long-random-api-key-for-the-test-agent";
    let spec = format!(
        "{}:agent-7:mcp:read,mcp:admin",
        mcp_auth::ApiKeys::hash(key)
    );
    let url = serve(&oidc, |config| {
        config.api_keys.push(auth::parse_api_key(&spec).unwrap());
    })
    .await;
    let client = connect(&url, Era::Modern, key).await.unwrap();
    let me = whoami(&client).await;
    assert_eq!(me["subject"], "agent-7");
    assert_eq!(me["client_id"], Value::Null);
    assert_eq!(me["scopes"], json!(["mcp:admin", "mcp:read"]));
    save_note(&client).await.unwrap();
    let e = connect(&url, Era::Modern, "a-long-random-api-key-for-someone-else")
        .await
        .unwrap_err();
    assert!(refusal(&e).contains("HTTP 401"), "{e}");
}

#[tokio::test]
async fn the_example_binary_serves_metadata_and_accepts_a_token_for_its_url() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    // As an operator runs it: JSON logs, and a rate limit on one tool.
    let mut child = Command::new(example("auth_server"))
        .args(["--issuer", oidc.issuer(), "--bind", "127.0.0.1:0"])
        .args(["--rate-limit", "tool:whoami=1/hour", "--log-json"])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    tokio::time::timeout(PATIENCE, stdout.read_line(&mut url))
        .await
        .unwrap()
        .unwrap();
    let url = url.trim_end().to_owned();
    let origin = url.strip_suffix("/mcp").unwrap();
    let prm = get_json(&format!(
        "{origin}/.well-known/oauth-protected-resource/mcp"
    ))
    .await;
    assert_eq!(prm["resource"], url.as_str());
    assert_eq!(prm["authorization_servers"], json!([oidc.issuer()]));

    let client_app = public_client(&oidc).await;
    let tokens = oidc.authorize(&client_app, &url, "mcp:read").await;
    let client = connect(&url, Era::Modern, &tokens.access_token)
        .await
        .unwrap();
    assert_eq!(whoami(&client).await["subject"], "test-user");
    // The tool's quota is spent: refused, naming the policy and when to
    // retry (longer than the client waits out).
    let limited = client
        .call_tool("whoami", args(json!({})))
        .await
        .unwrap_err();
    let Error::Remote(limited) = limited else {
        panic!("not refused by the server: {limited}");
    };
    assert!(limited.message().contains("tool:whoami"), "{limited:?}");
    assert_eq!(limited.data().map(|d| &d["retryAfter"]), Some(&json!(3600)));
    client.close().await.unwrap();
    // Probes and metrics beside the endpoint, without a token.
    for probe in ["healthz", "readyz"] {
        let status = reqwest::get(format!("{origin}/{probe}"))
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "{probe}");
    }
    let metrics = reqwest::get(format!("{origin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("mcp_server_rate_limited_total{policy=\"tool:whoami\"} 1"),
        "{metrics}"
    );

    // SIGTERM: a graceful exit.
    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    // Every line it logged is JSON, and the call's access line names the
    // caller.
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut served = None;
    while let Some(line) = stderr.next_line().await.unwrap() {
        let event: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        if event["span"]["otel.name"] == "tools/call whoami" {
            served.get_or_insert(event);
        }
    }
    let served = served.expect("no log line of the whoami call");
    let principal = served["span"]["principal"].as_str().unwrap_or_default();
    assert!(principal.contains("test-user"), "{served}");
}

#[tokio::test]
async fn a_foreign_jwt_is_refused_with_401_when_introspection_is_configured_too() {
    let Some(oidc) = Oidc::start().await else {
        return;
    };
    let rs = Oidc::resource_server();
    let url = serve(&oidc, |config| {
        config.introspection = Some(IntrospectionClient {
            client_id: rs.client_id,
            client_secret: mcp_auth::Secret::new(rs.client_secret.unwrap()),
            audience: config.resource.clone(),
        });
    })
    .await;
    let client_app = public_client(&oidc).await;
    let foreign = oidc
        .authorize(&client_app, "http://127.0.0.1:1/mcp", "mcp:read")
        .await;
    let e = connect(&url, Era::Modern, &foreign.access_token)
        .await
        .unwrap_err();
    let text = refusal(&e);
    assert!(
        text.contains("HTTP 401") && text.contains("error=\"invalid_token\""),
        "{text}"
    );
}
